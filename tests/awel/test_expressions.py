"""Expressions: the fast path gives what jinja2's sandbox gives, or fails the same way."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel

from awel.expressions import (
    check_expression,
    compile_expression,
    compile_value_expression,
    compile_value_fields,
    value_bindings,
)
from awel.sandbox import closure, field_reader, parse

_jinja = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class Item(BaseModel):
    name: str
    qty: int


DATA: dict[str, Any] = {
    "a": 3,
    "b": -2,
    "s": "hé",
    "xs": [1, 2, 3],
    "d": {"k": "v", "n": {"m": 1}, "items": 5},
    "item": Item(name="pen", qty=2),
    "none": None,
    "flag": True,
}


def by_jinja(source: str, value: Any) -> tuple[str, Any]:
    """What jinja2 itself answers: ("ok", result) or ("error", exception type)."""
    try:
        result = _jinja.compile_expression(source, undefined_to_none=False)(**value_bindings(value))
        if isinstance(result, Undefined):
            result._fail_with_undefined_error()
    except Exception as exc:
        return "error", type(exc)
    return "ok", result


def by_awel(source: str, value: Any) -> tuple[str, Any]:
    try:
        return "ok", compile_value_expression(source)(value)
    except Exception as exc:
        return "error", type(exc)


FAST = [
    "a",
    "x",
    "x.a + b * 2",
    "a // 2 + a % 2 - a / 2 + 2 ** a",
    "-a + +b",
    "not flag or a",
    "flag and a",
    "a if flag else b",
    "1 < a < 4",
    "1 < a > 5",
    "a == 3 != b",
    "'k' in d and 'z' not in d",
    "s ~ a ~ none",
    "[a, (b, s), {'k': a, 1: b}]",
    "d.k",
    "d.n.m",
    "d['n']['m']",
    "d.items",  # the method, not the key: the sandbox reads attributes first
    "xs.0 + xs[-1]",
    "item.name ~ item.qty",
    "x.d.k",
    "none",
    "true and false",
]


@pytest.mark.parametrize("source", FAST)
def test_simple_expressions_take_the_fast_path_and_agree(source: str) -> None:
    assert closure(parse(source), field_reader) is not None
    assert by_awel(source, DATA) == by_jinja(source, DATA)


@pytest.mark.parametrize(
    "source",
    [
        "xs | length",  # filters
        "a is defined",  # tests
        "range(3)",  # globals
        "xs[1:]",  # slices
        "a if flag",  # no else: jinja2 gives undefined
        "s.upper()",  # calls
    ],
)
def test_the_rest_runs_through_jinja(source: str) -> None:
    assert closure(parse(source), field_reader) is None
    assert by_awel(source, DATA) == by_jinja(source, DATA)


@pytest.mark.parametrize("source", ["y", "d.nothing", "xs.9", "a.b.c", "x.y"])
def test_unknown_names_fail_as_in_jinja(source: str) -> None:
    with pytest.raises(UndefinedError) as fast:
        compile_value_expression(source)(DATA)
    with pytest.raises(UndefinedError) as slow:
        result = _jinja.compile_expression(source, undefined_to_none=False)(**value_bindings(DATA))
        assert isinstance(result, Undefined)
        result._fail_with_undefined_error()
    assert str(fast.value) == str(slow.value)


def test_the_sandbox_holds_on_the_fast_path() -> None:
    with pytest.raises(SecurityError):
        compile_value_expression("x.__class__")(DATA)
    with pytest.raises(SecurityError):
        compile_value_expression("d.__class__.__mro__")(DATA)


def test_keyword_and_value_forms() -> None:
    assert compile_expression("inputs[0] + inputs[1]")(inputs=[1, 2]) == 3
    with pytest.raises(UndefinedError, match="'inputs' is undefined"):
        compile_expression("inputs")(other=1)
    # x is the input, even when a key is called x.
    assert compile_value_expression("x")({"x": 1}) == {"x": 1}
    assert compile_value_expression("name")(Item(name="n", qty=1)) == "n"
    with pytest.raises(TemplateSyntaxError):
        compile_value_expression("a +")
    with pytest.raises(TemplateSyntaxError):
        compile_value_expression("a b")


# Generated expressions over the same data: the two paths never disagree.
_atoms = st.sampled_from(["a", "b", "s", "xs", "d", "flag", "none", "1", "'t'", "2.5", "x.a"])


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.sampled_from(["+", "-", "*", "/", "//", "%", "==", "!=", "<", ">=", "and", "or"])
    return st.one_of(
        st.tuples(inner, binary, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda e: f"(not {e})"),
        inner.map(lambda e: f"(-{e})"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]} ~ {t[1]})"),
        st.tuples(inner, st.sampled_from(["0", "-1", "'k'", "'n'"])).map(
            lambda t: f"{t[0]}[{t[1]}]"
        ),
        st.tuples(inner, st.sampled_from(["k", "n", "m", "name", "items"])).map(
            lambda t: f"{t[0]}.{t[1]}"
        ),
    )


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(_atoms, _extend, max_leaves=6),
    st.sampled_from([DATA, {"a": 1, "x": 2}, Item(name="n", qty=3), [1, 2], 7, None]),
)
def test_generated_expressions_agree_with_jinja(source: str, value: Any) -> None:
    # No list literals here: an undefined value inside one is the one deliberate
    # difference (the fast path raises where it is read; jinja2 builds the list).
    assert by_awel(source, value) == by_jinja(source, value)


def test_dict_inputs_run_compiled_python() -> None:
    # The fastest path: one Python expression over the dict (see awel/expr_source.py).
    read = compile_value_expression("a * 2 + d.n.m")
    assert read.__wrapped__.__code__.co_filename.startswith("<awel expression")  # type: ignore[attr-defined]
    assert read(DATA) == 7
    # Anything else, or a missing name, takes the closures, which give jinja2's answer.
    with pytest.raises(UndefinedError, match="'a' is undefined"):
        read({"d": {}})
    with pytest.raises(UndefinedError, match="'int object' has no attribute 'n'"):
        read({"a": 1, "d": 3})
    only_x = compile_value_expression("x * 2")
    assert only_x(4) == 8 and only_x([1]) == [1, 1]


def test_value_fields() -> None:
    make = compile_value_fields({"sum": "a + b", "s": "'<' ~ s ~ '>'", "k": "d.k"})
    assert make.__wrapped__.__code__.co_filename.startswith("<awel expression")  # type: ignore[attr-defined]
    assert make(DATA) == {"sum": 1, "s": "<hé>", "k": "v"}
    with pytest.raises(UndefinedError, match="'b' is undefined"):
        make({"a": 1})
    # One field jinja2 must run: every field then runs on its own.
    mixed = compile_value_fields({"n": "xs | length", "a": "a"})
    assert mixed(DATA) == {"n": 3, "a": 3}
    assert compile_value_fields({"name": "name"})(Item(name="i", qty=0)) == {"name": "i"}


def test_deep_nesting() -> None:
    # Too deep for Python's compiler (and for jinja2's): the closures run it.
    deep = "a" + " + 1" * 400
    assert check_expression(deep) == deep
    assert compile_value_expression(deep)(DATA) == 403
    with pytest.raises(ValueError, match="nested too deeply"):
        check_expression("a" + " + 1" * 3000)
    with pytest.raises(ValueError, match="nested too deeply"):
        check_expression("(" * 200 + "a" + ")" * 200)
