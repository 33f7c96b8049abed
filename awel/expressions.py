"""Sandboxed jinja2 expressions and templates: the logic a YAML flow may write inline.

Flow files are user input, so expressions and templates run in jinja2's immutable sandbox
(no attribute access to internals, no mutation of the data passed in) with
``StrictUndefined`` (a misspelt name is an error, not a blank). Every built-in operator that
takes an expression (``awel.map``, ``awel.switch``, ``awel.set`` ...) compiles it here, so
they all bind the input the same way (:func:`value_bindings`) and report a malformed one
with the same words (:func:`check_expression`), which the YAML loader places on its line.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, Undefined, nodes
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import AfterValidator, BaseModel

from .expr_source import expression_source

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

_env = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
)
#: Operators the sandbox runs through its own hooks (none by default): left to jinja2.
_INTERCEPTED = _env.intercepted_binops | _env.intercepted_unops


@functools.lru_cache(maxsize=1024)
def compile_expression(source: str) -> Callable[..., Any]:
    """A sandboxed jinja2 expression as a function of keyword arguments.

    Raises :class:`jinja2.TemplateSyntaxError` for a malformed expression; the function
    raises :class:`jinja2.UndefinedError` when the expression uses an unknown name.
    """
    fast = _fast(_parse(source), _keyword)
    if fast is not None:

        def evaluate_fast(**names: Any) -> Any:
            return fast(names)

        return evaluate_fast
    compiled = _env.compile_expression(source, undefined_to_none=False)

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
    tree = _parse(source)
    fast = _fast(tree, _field)
    if fast is None:
        evaluate = compile_expression(source)

        def over(value: Any) -> Any:
            return evaluate(**value_bindings(value))

        return over
    consts: list[Any] = []
    text = expression_source(tree, consts, global_names=_env.globals, intercepted=_INTERCEPTED)
    return fast if text is None else _over_dicts(text, consts, fast, source)


def compile_value_fields(fields: Mapping[str, str]) -> Callable[[Any], dict[str, Any]]:
    """A function of one value giving a dict: each key of ``fields`` set to its expression
    over the value, as :func:`compile_value_expression` would compute it."""
    readers = [(key, compile_value_expression(src)) for key, src in fields.items()]

    def each(value: Any) -> dict[str, Any]:
        return {key: read(value) for key, read in readers}

    consts: list[Any] = []
    texts: list[str] = []
    for key, src in fields.items():
        tree = _parse(src)
        text = None
        if _fast(tree, _field) is not None:
            text = expression_source(
                tree, consts, global_names=_env.globals, intercepted=_INTERCEPTED
            )
        if text is None:
            return each
        texts.append(f"{key!r}: {text}")
    return _over_dicts("{" + ", ".join(texts) + "}", consts, each, repr(dict(fields)))


@functools.lru_cache(maxsize=256)
def compile_template(source: str) -> Template:
    """A sandboxed jinja2 template (``StrictUndefined``, no HTML escaping)."""
    return _env.from_string(source)


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


# --- the fast path -----------------------------------------------------------------------------
#
# jinja2 runs an expression as a compiled template: a new context and a render function per
# call, about 8 us even for `x.a`. Most expressions in flows are a name, a path into the input,
# a comparison or a little arithmetic; those are turned here into nested Python closures
# (tens of nanoseconds a node) that do exactly what the template's code would: attribute and
# item access go through the sandbox's own getattr/getitem, operators are Python's (the
# sandbox intercepts none by default, and an environment that intercepts some is honoured by
# falling back). Anything else (filters, tests, calls, slices, globals such as `range`)
# runs through jinja2 as before. One difference is deliberate: an unknown name or a missing
# attribute raises where it is read, even inside a list literal, where jinja2 would build
# the list with an undefined value in it.

Getter = Callable[[Any], Any]

_BINARY: dict[type[nodes.BinExpr], Callable[[Any, Any], Any]] = {
    nodes.Add: operator.add,
    nodes.Sub: operator.sub,
    nodes.Mul: operator.mul,
    nodes.Div: operator.truediv,
    nodes.FloorDiv: operator.floordiv,
    nodes.Mod: operator.mod,
    nodes.Pow: operator.pow,
}
_UNARY: dict[type[nodes.UnaryExpr], Callable[[Any], Any]] = {
    nodes.Neg: operator.neg,
    nodes.Pos: operator.pos,
}
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gteq": operator.ge,
    "lt": operator.lt,
    "lteq": operator.le,
    "in": lambda a, b: a in b,
    "notin": lambda a, b: a not in b,
}


def _over_dicts(text: str, consts: list[Any], other: Getter, shown: str) -> Getter:
    """A function computing the Python expression ``text`` (see :mod:`awel.expr_source`)
    when the input is a plain dict, and ``other`` for anything else, or when a name is
    missing (a KeyError): ``other`` then reads it and raises jinja2's own error. (Field
    names are read as ``v['name']``, and nothing else in the text can look like that.)"""
    if "v[" in text:
        code = (
            "def run(v):\n"
            "    if type(v) is dict:\n"
            "        try:\n"
            f"            return {text}\n"
            "        except KeyError:\n"
            "            pass\n"
            "    return _other(v)\n"
        )
    else:
        # No field is read (only x, constants and what is reached from x through the
        # sandbox's getattr/getitem): the code runs the same for any input.
        code = f"def run(v):\n    return {text}\n"
    scope: dict[str, Any] = {
        # The code holds no names but these: no builtins beyond what the guard and str().
        "__builtins__": {"str": str, "type": type, "dict": dict, "KeyError": KeyError},
        "_c": consts,
        "_ga": _ga,
        "_gs": _gs,
        "_gi": _gi,
        "_other": other,
    }
    try:
        exec(compile(code, f"<awel expression {shown}>", "exec"), scope)
    except (SyntaxError, RecursionError, MemoryError):
        return other  # nesting too deep for Python's compiler: the closures still run it
    run: Getter = scope["run"]
    return run


def _ga(target: Any, attr: str) -> Any:
    # Only for names dict has no attribute of (see expr_source): a dict's item is the answer.
    if type(target) is dict and attr in target:
        return target[attr]
    return _defined(_env.getattr(target, attr))


def _gs(target: Any, attr: str) -> Any:
    return _defined(_env.getattr(target, attr))


def _gi(target: Any, key: Any) -> Any:
    return _defined(_env.getitem(target, key))


def _parse(source: str) -> nodes.Expr:
    """The expression's syntax tree, checked as jinja2's compile_expression checks it."""
    parser = Parser(_env, source, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno)
    return expr


def _undefined(name: str) -> Any:
    # The error jinja2 raises for the same name: "'y' is undefined".
    _env.undefined(name=name)._fail_with_undefined_error()


def _keyword(name: str) -> Getter:
    """A name read from the keyword arguments of :func:`compile_expression`."""

    def read(names: dict[str, Any]) -> Any:
        try:
            return names[name]
        except KeyError:
            return _undefined(name)

    return read


def _field(name: str) -> Getter:
    """A name read off the input as :func:`value_bindings` binds it."""
    if name == "x":
        return _itself

    def read(value: Any) -> Any:
        if type(value) is dict:
            try:
                return value[name]
            except KeyError:
                return _undefined(name)
        if isinstance(value, Mapping):
            if name in value:
                return value[name]
        elif isinstance(value, BaseModel) and name in type(value).model_fields:
            return getattr(value, name)
        return _undefined(name)

    return read


def _itself(value: Any) -> Any:
    return value


def _defined(result: Any) -> Any:
    if isinstance(result, Undefined):
        result._fail_with_undefined_error()
    return result


def _fast(node: nodes.Node, name: Callable[[str], Getter]) -> Getter | None:
    """``node`` as a closure over the scope, or None when only jinja2 can run it."""
    parts: list[Getter] = []
    for child in _operands(node):
        part = _fast(child, name)
        if part is None:
            return None
        parts.append(part)
    if isinstance(node, nodes.Const):
        const = node.value
        return lambda scope: const
    if isinstance(node, nodes.Name):
        return None if node.name in _env.globals else name(node.name)
    if isinstance(node, nodes.Getattr):
        return _getattr(parts[0], node.attr)
    if isinstance(node, nodes.Getitem):
        obj, arg = parts
        getitem = _env.getitem
        return lambda scope: _defined(getitem(obj(scope), arg(scope)))
    if isinstance(node, nodes.And):
        left, right = parts
        return lambda scope: left(scope) and right(scope)
    if isinstance(node, nodes.Or):
        left, right = parts
        return lambda scope: left(scope) or right(scope)
    if isinstance(node, nodes.BinExpr):
        if node.operator in _env.intercepted_binops:
            return None
        return _binary(_BINARY[type(node)], node.left, node.right, parts)
    if isinstance(node, nodes.UnaryExpr) and not isinstance(node, nodes.Not):
        if node.operator in _env.intercepted_unops:
            return None
        fn1, (arg1,) = _UNARY[type(node)], parts
        return lambda scope: fn1(arg1(scope))
    if isinstance(node, nodes.Not):
        return lambda scope: not parts[0](scope)
    if isinstance(node, nodes.CondExpr):
        test, yes, no = parts
        return lambda scope: yes(scope) if test(scope) else no(scope)
    if isinstance(node, nodes.Compare):
        if len(node.ops) == 1:
            return _binary(_COMPARE[node.ops[0].op], node.expr, node.ops[0].expr, parts)
        return _compare(parts, [_COMPARE[op.op] for op in node.ops])
    if isinstance(node, nodes.Concat):
        # Constants are turned into text once; str() is what jinja2's str_join applies.
        pieces = [
            (str(child.value), None) if isinstance(child, nodes.Const) else ("", part)
            for child, part in zip(node.nodes, parts, strict=True)
        ]
        return lambda scope: "".join(
            [text if get is None else str(get(scope)) for text, get in pieces]
        )
    if isinstance(node, nodes.List):
        return lambda scope: [part(scope) for part in parts]
    if isinstance(node, nodes.Tuple):
        return lambda scope: tuple([part(scope) for part in parts])
    if isinstance(node, nodes.Dict):
        pairs = list(zip(parts[::2], parts[1::2], strict=True))
        return lambda scope: {key(scope): value(scope) for key, value in pairs}
    return None


def _getattr(obj: Getter, attr: str) -> Getter:
    getattr_ = _env.getattr
    if hasattr(dict, attr):
        return lambda scope: _defined(getattr_(obj(scope), attr))

    def read(scope: Any) -> Any:
        # The sandbox tries the attribute first, then the item: a plain dict has no
        # attribute of this name (checked above), so its item is the answer, found without
        # the AttributeError the sandbox would raise and catch on the way.
        target = obj(scope)
        if type(target) is dict and attr in target:
            return target[attr]
        return _defined(getattr_(target, attr))

    return read


def _operands(node: nodes.Node) -> list[nodes.Node]:
    """The sub-expressions the fast path evaluates, in order; raises nothing for others
    (whose kind :func:`_fast` then refuses)."""
    if isinstance(node, nodes.Getattr):
        return [node.node]
    if isinstance(node, nodes.Getitem):
        return [node.node, node.arg]
    if isinstance(node, nodes.BinExpr):
        return [node.left, node.right]
    if isinstance(node, nodes.UnaryExpr):
        return [node.node]
    if isinstance(node, nodes.CondExpr):
        # Without an else, jinja2 gives an undefined value: leave that to jinja2.
        return [node.test, node.expr1, node.expr2] if node.expr2 is not None else [_REFUSE]
    if isinstance(node, nodes.Compare):
        return [node.expr, *(op.expr for op in node.ops)]
    if isinstance(node, nodes.Concat):
        return list(node.nodes)
    if isinstance(node, (nodes.List, nodes.Tuple)):
        return list(node.items)
    if isinstance(node, nodes.Dict):
        return [part for pair in node.items for part in (pair.key, pair.value)]
    return []


#: A node no fast closure exists for (a slice, a filter ...): refusing it refuses its parent.
_REFUSE: nodes.Node = nodes.Slice(None, None, None)


def _binary(
    fn: Callable[[Any, Any], Any], left: nodes.Node, right: nodes.Node, parts: list[Getter]
) -> Getter:
    """``fn(left, right)``, with a constant side read once rather than called per run
    (``x * 100``: one closure, not two)."""
    get_left, get_right = parts
    if isinstance(right, nodes.Const):
        b = right.value
        return lambda scope: fn(get_left(scope), b)
    if isinstance(left, nodes.Const):
        a = left.value
        return lambda scope: fn(a, get_right(scope))
    return lambda scope: fn(get_left(scope), get_right(scope))


def _compare(parts: list[Getter], ops: list[Callable[[Any, Any], Any]]) -> Getter:
    first, rest = parts[0], list(zip(ops, parts[1:], strict=True))

    def chained(scope: Any) -> Any:
        # Python's chained comparison: a < b < c reads b once and stops at the first false.
        left = first(scope)
        result: Any = True
        for op, part in rest:
            right = part(scope)
            result = op(left, right)
            if not result:
                return result
            left = right
        return result

    return chained
