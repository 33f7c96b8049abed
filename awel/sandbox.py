"""The sandbox expressions run in, and the fast path that runs simple ones without jinja2.

jinja2 runs an expression as a compiled template: a new context and a render function per
call, about 8 us even for `x.a`. Most expressions in flows are a name, a path into the input,
a comparison or a little arithmetic; :func:`closure` turns those into nested Python closures
(tens of nanoseconds a node) that do exactly what the template's code would: attribute and
item access go through the sandbox's own getattr/getitem, operators are Python's (the
sandbox intercepts none by default, and an environment that intercepts some is honoured by
falling back). Over a plain dict, :func:`over_dicts` goes one step further and runs the
whole expression as one compiled Python expression (written by :mod:`awel.expr_source`).
Anything else (filters, tests, calls, slices, globals such as ``range``) runs through
jinja2 (:mod:`awel.expressions` decides). One difference is deliberate: an unknown name or
a missing attribute raises where it is read, even inside a list literal, where jinja2 would
build the list with an undefined value in it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, nodes
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel

__all__ = [
    "INTERCEPTED",
    "SANDBOX",
    "Getter",
    "closure",
    "field_reader",
    "keyword_reader",
    "over_dicts",
    "parse",
]

#: The environment every expression and template of a flow runs in: immutable (no
#: mutation of the data passed in, no internals), StrictUndefined, no HTML escaping.
SANDBOX = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
)
#: Operators the sandbox runs through its own hooks (none by default): left to jinja2.
INTERCEPTED = SANDBOX.intercepted_binops | SANDBOX.intercepted_unops

#: An expression compiled for one scope (a value, or the keyword arguments' dict).
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


def over_dicts(text: str, consts: list[Any], other: Getter, shown: str) -> Getter:
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
    return _defined(SANDBOX.getattr(target, attr))


def _gs(target: Any, attr: str) -> Any:
    return _defined(SANDBOX.getattr(target, attr))


def _gi(target: Any, key: Any) -> Any:
    return _defined(SANDBOX.getitem(target, key))


def parse(source: str) -> nodes.Expr:
    """The expression's syntax tree, checked as jinja2's compile_expression checks it."""
    parser = Parser(SANDBOX, source, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno)
    return expr


def _undefined(name: str) -> Any:
    # The error jinja2 raises for the same name: "'y' is undefined".
    SANDBOX.undefined(name=name)._fail_with_undefined_error()


def keyword_reader(name: str) -> Getter:
    """A name read from the keyword arguments of :func:`compile_expression`."""

    def read(names: dict[str, Any]) -> Any:
        try:
            return names[name]
        except KeyError:
            return _undefined(name)

    return read


def field_reader(name: str) -> Getter:
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


def closure(node: nodes.Node, name: Callable[[str], Getter]) -> Getter | None:
    """``node`` as a closure over the scope, or None when only jinja2 can run it."""
    parts: list[Getter] = []
    for child in _operands(node):
        part = closure(child, name)
        if part is None:
            return None
        parts.append(part)
    if isinstance(node, nodes.Const):
        const = node.value
        return lambda scope: const
    if isinstance(node, nodes.Name):
        return None if node.name in SANDBOX.globals else name(node.name)
    if isinstance(node, nodes.Getattr):
        return _getattr(parts[0], node.attr)
    if isinstance(node, nodes.Getitem):
        obj, arg = parts
        getitem = SANDBOX.getitem
        return lambda scope: _defined(getitem(obj(scope), arg(scope)))
    if isinstance(node, nodes.And):
        left, right = parts
        return lambda scope: left(scope) and right(scope)
    if isinstance(node, nodes.Or):
        left, right = parts
        return lambda scope: left(scope) or right(scope)
    if isinstance(node, nodes.BinExpr):
        if node.operator in SANDBOX.intercepted_binops:
            return None
        return _binary(_BINARY[type(node)], node.left, node.right, parts)
    if isinstance(node, nodes.UnaryExpr) and not isinstance(node, nodes.Not):
        if node.operator in SANDBOX.intercepted_unops:
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
    getattr_ = SANDBOX.getattr
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
    (whose kind :func:`closure` then refuses)."""
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
