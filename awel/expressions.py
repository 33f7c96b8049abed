"""Sandboxed jinja2 expressions and templates: the logic a YAML flow may write inline.

Flow files are user input, so expressions and templates run in jinja2's immutable sandbox
(no attribute access to internals, no mutation of the data passed in) with
``StrictUndefined`` (a misspelt name is an error, not a blank). Every built-in operator that
takes an expression (``awel.map``, ``awel.switch``, ``awel.set`` ...) compiles it here, so
they all bind the input the same way (:func:`value_bindings`) and report a malformed one
with the same words (:func:`check_expression`), which the YAML loader places on its line.
Simple expressions skip jinja2's machinery (:mod:`awel.sandbox`), to the same answers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from jinja2 import Template, TemplateSyntaxError, Undefined
from pydantic import AfterValidator, BaseModel

from .expr_source import expression_source
from .sandbox import (
    INTERCEPTED,
    SANDBOX,
    closure,
    field_reader,
    keyword_reader,
    over_dicts,
    parse,
)

__all__ = [
    "Expression",
    "check_expression",
    "check_template",
    "compile_expression",
    "compile_template",
    "compile_value_expression",
    "compile_value_fields",
    "fields_of",
    "value_bindings",
]


@functools.lru_cache(maxsize=1024)
def compile_expression(source: str) -> Callable[..., Any]:
    """A sandboxed jinja2 expression as a function of keyword arguments.

    Raises :class:`jinja2.TemplateSyntaxError` for a malformed expression; the function
    raises :class:`jinja2.UndefinedError` when the expression uses an unknown name.
    """
    fast = closure(parse(source), keyword_reader)
    if fast is None:
        return _by_jinja(source)
    reference = _reference(source)

    def evaluate_fast(**names: Any) -> Any:
        try:
            return fast(names)
        except Exception:
            if reference is None:
                raise
            # A failure is jinja2's to describe: its error, raised in its order (the fast
            # path may meet another of an expression's faults first).
            return reference(**names)

    return evaluate_fast


def _reference(source: str) -> Callable[..., Any] | None:
    """jinja2's own run of ``source``, or None where jinja2 cannot compile it (nesting
    too deep for its compiler: the closures alone run it)."""
    try:
        return _by_jinja(source)
    except (RecursionError, MemoryError, SyntaxError):
        return None


def _by_jinja(source: str) -> Callable[..., Any]:
    """``source`` run by jinja2's own sandbox: the reference every fast path agrees with."""
    compiled = SANDBOX.compile_expression(source, undefined_to_none=False)

    def evaluate(**names: Any) -> Any:
        result = compiled(**names)
        if isinstance(result, Undefined):
            # A bare unknown name evaluates to Undefined instead of raising; make it raise.
            result._fail_with_undefined_error()
        return result

    return evaluate


@functools.lru_cache(maxsize=1024)
def compile_value_expression(source: str) -> Callable[[Any], Any]:
    """A sandboxed jinja2 expression over one value, bound as :func:`value_bindings` says.

    The same as ``compile_expression(source)(**value_bindings(value))``, without building
    the bindings when the expression is simple enough to read names off the value itself.
    """
    tree = parse(source)
    fast = closure(tree, field_reader)
    if fast is None:
        evaluate = compile_expression(source)

        def over(value: Any) -> Any:
            return evaluate(**value_bindings(value))

        return over
    consts: list[Any] = []
    text = expression_source(tree, consts, global_names=SANDBOX.globals, intercepted=INTERCEPTED)
    quick = fast if text is None else over_dicts(text, consts, fast, source)
    reference = _reference(source)
    if reference is None:
        return quick

    def over_value(value: Any) -> Any:
        try:
            return quick(value)
        except Exception:
            # jinja2 describes the failure (see compile_expression).
            return reference(**value_bindings(value))

    over_value.__wrapped__ = quick  # type: ignore[attr-defined]
    return over_value


def compile_value_fields(fields: Mapping[str, str]) -> Callable[[Any], dict[str, Any]]:
    """A function of one value giving a dict: each key of ``fields`` set to its expression
    over the value, as :func:`compile_value_expression` would compute it."""
    readers = [(key, compile_value_expression(src)) for key, src in fields.items()]

    def each(value: Any) -> dict[str, Any]:
        return {key: read(value) for key, read in readers}

    consts: list[Any] = []
    texts: list[str] = []
    for key, src in fields.items():
        tree = parse(src)
        text = None
        if closure(tree, field_reader) is not None:
            text = expression_source(
                tree, consts, global_names=SANDBOX.globals, intercepted=INTERCEPTED
            )
        if text is None:
            return each
        texts.append(f"{key!r}: {text}")
    quick = over_dicts("{" + ", ".join(texts) + "}", consts, each, repr(dict(fields)))

    def fields_of_value(value: Any) -> dict[str, Any]:
        try:
            made: dict[str, Any] = quick(value)
        except Exception:
            return each(value)  # field by field, each failure described by jinja2
        return made

    fields_of_value.__wrapped__ = quick  # type: ignore[attr-defined]
    return fields_of_value


@functools.lru_cache(maxsize=256)
def compile_template(source: str) -> Template:
    """A sandboxed jinja2 template (``StrictUndefined``, no HTML escaping)."""
    return SANDBOX.from_string(source)


def fields_of(value: Any) -> dict[str, Any]:
    """The names a dict's string keys or a pydantic model's fields bind in expressions."""
    if isinstance(value, Mapping):
        return {k: v for k, v in value.items() if isinstance(k, str)}
    if isinstance(value, BaseModel):
        return {name: getattr(value, name) for name in type(value).model_fields}
    return {}


def value_bindings(value: Any) -> dict[str, Any]:
    """The names an expression over ``value`` sees: its fields, and ``x`` for itself (``x``
    wins over a key called ``x``)."""
    names = fields_of(value)
    names["x"] = value
    return names


def check_expression(source: str) -> str:
    """``source`` if it compiles; else ValueError, which a params model reports in place."""
    try:
        compile_expression(source)
        compile_value_expression(source)
    except TemplateSyntaxError as exc:
        raise ValueError(f"invalid expression {source!r}: {exc.message}") from None
    except RecursionError:
        # jinja2's parser (and the fast path's compiler) recurse per level of nesting.
        raise ValueError(f"invalid expression {source!r}: nested too deeply") from None
    return source


#: A string field holding an expression: a malformed one is a validation error at its own
#: location (``fields.city``), which the YAML loader turns into its line and column.
Expression = Annotated[str, AfterValidator(check_expression)]


def check_template(source: str) -> str:
    """``source`` if it compiles as a template; else ValueError naming the template line."""
    try:
        compile_template(source)
    except TemplateSyntaxError as exc:
        raise ValueError(f"invalid template (line {exc.lineno}): {exc.message}") from None
    return source
