"""The built-in YAML operators: expressions, templates, the sandbox, imported functions."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from jinja2 import TemplateSyntaxError
from pydantic import BaseModel, ValidationError

from awel import DAG, NodeError, registry
from awel.builtin import (
    BranchJoinNode,
    FormatNode,
    InputNode,
    JoinNode,
    MapNode,
    ReduceNode,
    compile_expression,
    fields_of,
)


class Person(BaseModel):
    name: str
    age: int = 18


def thread_name(_: Any) -> str:
    return threading.current_thread().name


async def run_one(op: str, params: dict[str, Any], value: Any) -> Any:
    """Run ``value`` through a single node built from ``op`` and ``params``."""
    with DAG(f"one.{op}"):
        start = registry.build("awel.input", task_name="start")
        node = registry.build(op, params, task_name="node")
        start >> node
    return await node.call(value)


# --- expressions -------------------------------------------------------------------------------


async def test_map_expression_binds_x_and_keys() -> None:
    assert await run_one("awel.map", {"expr": "x * 2"}, 21) == 42
    assert await run_one("awel.map", {"expr": "a + b"}, {"a": 1, "b": 2}) == 3
    assert await run_one("awel.map", {"expr": "name ~ '!'"}, Person(name="Ann")) == "Ann!"
    # `x` is the input itself, even when a key is called x.
    assert await run_one("awel.map", {"expr": "x"}, {"x": 1}) == {"x": 1}


async def test_expressions_run_inline_and_functions_in_a_thread() -> None:
    here = threading.current_thread().name
    expr_node = registry.build("awel.map", {"expr": "x"})
    assert isinstance(expr_node, MapNode) and expr_node.offload is False
    fn_node = registry.build("awel.map", {"fn": f"{__name__}:thread_name"})
    assert isinstance(fn_node, MapNode) and fn_node.offload is True
    assert await run_one("awel.map", {"fn": f"{__name__}:thread_name"}, 0) != here


async def test_an_unknown_name_is_an_error_not_a_blank() -> None:
    with pytest.raises(NodeError) as info:
        await run_one("awel.map", {"expr": "y"}, 1)
    assert "'y' is undefined" in str(info.value)
    with pytest.raises(NodeError):
        await run_one("awel.map", {"expr": "y + 1"}, 1)


@pytest.mark.parametrize(
    "expr",
    [
        "x.__class__.__mro__",  # reaching Python internals
        "x.append(4)",  # mutating the input (immutable sandbox)
        "x.pop()",
    ],
)
async def test_the_sandbox_holds(expr: str) -> None:
    data = [1, 2, 3]
    with pytest.raises(NodeError) as info:
        await run_one("awel.map", {"expr": expr}, data)
    assert type(info.value.__cause__).__name__ in {"SecurityError", "UndefinedError"}
    assert data == [1, 2, 3]


def test_malformed_expressions_are_param_errors() -> None:
    with pytest.raises(TemplateSyntaxError):
        compile_expression("x +")
    with pytest.raises(ValidationError) as info:
        registry.build("awel.map", {"expr": "x +"})
    assert "invalid expression 'x +'" in str(info.value)


@pytest.mark.parametrize(
    ("op", "params", "message"),
    [
        ("awel.map", {}, "give exactly one of 'fn' or 'expr'"),
        ("awel.map", {"fn": "json:dumps", "expr": "x"}, "give exactly one of 'fn' or 'expr'"),
        ("awel.join", {"fn": "json:nothing_here"}, "has no attribute 'nothing_here'"),
        ("awel.reduce", {"fn": "json:__name__"}, "not a function"),
        ("awel.input", {"value": 1, "stream": [1]}, "at most one of 'value' or 'stream'"),
        ("awel.format", {"template": "{{ x"}, "invalid template (line 1)"),
        ("awel.branch", {"branches": [{"when": "x >", "to": "a"}]}, "invalid expression"),
    ],
)
def test_bad_params(op: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        registry.build(op, params)
    assert message in str(info.value)


# --- each operator -----------------------------------------------------------------------------


async def test_join_sees_inputs_in_upstream_order() -> None:
    with DAG("join"):
        start = registry.build("awel.input", task_name="start")
        a = registry.build("awel.map", {"expr": "x + 1"}, task_name="a")
        b = registry.build("awel.map", {"expr": "x * 10"}, task_name="b")
        j = registry.build("awel.join", {"expr": "inputs"}, task_name="j")
        f = registry.build("awel.join", {"fn": "operator:sub"}, task_name="f")
        start >> [a, b] >> j
        [b, a] >> f
    assert isinstance(j, JoinNode)
    assert await j.call(2) == [3, 20]
    assert await f.call(2) == 17


async def test_reduce_folds_a_stream() -> None:
    with DAG("reduce"):
        items = registry.build("awel.input", {"stream": ["a", "b", "c"]}, task_name="items")
        cat = registry.build("awel.reduce", {"expr": "a ~ b"}, task_name="cat")
        add = registry.build("awel.reduce", {"fn": "operator:add", "initial": ">"})
        items >> cat
        items >> add
    assert isinstance(cat, ReduceNode)
    assert await cat.call() == "abc"
    assert await add.call() == ">abc"
    assert await cat.call() == "abc"  # a list source can be read again


async def test_input_sources() -> None:
    fixed = registry.build("awel.input", {"value": None}, dag=DAG("fixed"))
    assert isinstance(fixed, InputNode) and not fixed.takes_call_data
    assert fixed.params == {"value": None}
    assert await fixed.call() is None
    assert registry.build("awel.input").takes_call_data


async def test_branch_and_branch_join() -> None:
    with DAG("branch"):
        start = registry.build("awel.input", task_name="start")
        route = registry.build(
            "awel.branch",
            {"branches": [{"when": "x > 0", "to": "pos"}, {"when": "x <= 0", "to": "neg"}]},
            task_name="route",
        )
        pos = registry.build("awel.format", {"template": "+{{ input }}"}, task_name="pos")
        neg = registry.build("awel.format", {"template": "-{{ input }}"}, task_name="neg")
        first = registry.build("awel.branch_join", task_name="first")
        both = registry.build("awel.branch_join", {"expr": "inputs"}, task_name="both")
        start >> route >> [pos, neg]
        [pos, neg] >> first
        [pos, neg] >> both
    assert isinstance(first, BranchJoinNode)
    assert await first.call(3) == "+3"
    assert await first.call(-3) == "--3"
    assert await both.call(3) == ["+3", None]


async def test_format_binds_fields_and_input() -> None:
    tpl = {"template": "{{ name }} ({{ age }})"}
    assert await run_one("awel.format", tpl, {"name": "Ann", "age": 3}) == "Ann (3)"
    assert await run_one("awel.format", tpl, Person(name="Bo")) == "Bo (18)"
    assert await run_one("awel.format", {"template": "<{{ input }}>"}, 7) == "<7>"
    node = registry.build("awel.format", {"template": "{{ input }}\n"})
    assert isinstance(node, FormatNode) and node.template == "{{ input }}\n"
    # No HTML escaping: templates make prompts and text, not web pages.
    assert await run_one("awel.format", {"template": "{{ input }}"}, "<b>") == "<b>"


async def test_format_with_a_missing_name_fails() -> None:
    with pytest.raises(NodeError) as info:
        await run_one("awel.format", {"template": "{{ name }} {{ age }}"}, {"name": "Ann"})
    assert "'age' is undefined" in str(info.value)


def test_fields_of() -> None:
    assert fields_of({"a": 1, 2: "b"}) == {"a": 1}
    assert fields_of(Person(name="x")) == {"name": "x", "age": 18}
    assert fields_of(3) == {}
