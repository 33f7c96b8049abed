"""Python source for simple jinja2 expressions over a dict, the fastest of their paths.

:mod:`awel.expressions` runs a simple expression as nested closures; for the commonest input,
a plain dict, it first tries one compiled Python expression, where ``qty * price`` is
``v['qty'] * v['price']``: no call per name or operator. This module writes that source
from jinja2's syntax tree, for the same subset the closures take, or says it cannot.

What the source may contain is fixed here: ``v`` (the input), ``_c[i]`` (the i-th
constant, kept in a table rather than written into the text), ``_ga`` / ``_gs`` / ``_gi``
(the sandbox's attribute and item access, given by the caller), ``str``, string literals made with
``repr`` of names the jinja2 lexer accepted, brackets, and the operators below. Nothing a
flow file says becomes code.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from jinja2 import nodes

__all__ = ["expression_source"]

_BINARY: dict[type[nodes.BinExpr], str] = {
    nodes.Add: "+",
    nodes.Sub: "-",
    nodes.Mul: "*",
    nodes.Div: "/",
    nodes.FloorDiv: "//",
    nodes.Mod: "%",
    nodes.Pow: "**",
}
_COMPARE = {
    "eq": "==",
    "ne": "!=",
    "gt": ">",
    "gteq": ">=",
    "lt": "<",
    "lteq": "<=",
    "in": "in",
    "notin": "not in",
}


def expression_source(
    node: nodes.Node,
    consts: list[Any],
    *,
    global_names: Collection[str],
    intercepted: Collection[str],
) -> str | None:
    """Python source computing ``node`` over the dict ``v``; None outside the subset.

    ``consts`` collects the constants the source refers to as ``_c[i]``. A name that the
    environment defines globally (``range``) or an operator it intercepts is left to jinja2.
    """

    def src(n: nodes.Node) -> str | None:
        if isinstance(n, nodes.Const):
            consts.append(n.value)
            return f"_c[{len(consts) - 1}]"
        if isinstance(n, nodes.Name):
            if n.name in global_names:
                return None
            return "v" if n.name == "x" else f"v[{n.name!r}]"
        if isinstance(n, nodes.Getattr):
            # _ga may answer a plain dict's item directly, which is right only when dict has
            # no attribute of that name (the sandbox reads attributes first); _gs never does.
            helper = "_gs" if hasattr(dict, n.attr) else "_ga"
            obj = src(n.node)
            return None if obj is None else f"{helper}({obj}, {n.attr!r})"
        if isinstance(n, nodes.Getitem):
            if isinstance(n.arg, nodes.Slice):
                return None
            return _join("_gi({}, {})", src(n.node), src(n.arg))
        if isinstance(n, (nodes.And, nodes.Or)):
            word = "and" if isinstance(n, nodes.And) else "or"
            return _join("({} " + word + " {})", src(n.left), src(n.right))
        if isinstance(n, nodes.BinExpr):
            if n.operator in intercepted or type(n) not in _BINARY:
                return None
            return _join("({} " + _BINARY[type(n)] + " {})", src(n.left), src(n.right))
        if isinstance(n, nodes.Not):
            return _join("(not {})", src(n.node))
        if isinstance(n, (nodes.Neg, nodes.Pos)):
            if n.operator in intercepted:
                return None
            return _join("(" + n.operator + "{})", src(n.node))
        if isinstance(n, nodes.CondExpr):
            if n.expr2 is None:
                return None  # jinja2 gives an undefined value there
            return _join("({} if {} else {})", src(n.expr1), src(n.test), src(n.expr2))
        if isinstance(n, nodes.Compare):
            parts = [src(n.expr)]
            ops = []
            for operand in n.ops:
                ops.append(_COMPARE[operand.op])
                parts.append(src(operand.expr))
            if any(p is None for p in parts):
                return None
            text = str(parts[0])
            for op, part in zip(ops, parts[1:], strict=True):
                text += f" {op} {part}"
            return f"({text})"
        if isinstance(n, nodes.Concat):
            pieces: list[str | None] = []
            for child in n.nodes:
                if isinstance(child, nodes.Const):
                    # jinja2's str_join applies str(); a constant's text is made once.
                    consts.append(str(child.value))
                    pieces.append(f"_c[{len(consts) - 1}]")
                else:
                    piece = src(child)
                    pieces.append(None if piece is None else f"str({piece})")
            return _join('"".join([' + ", ".join("{}" for _ in pieces) + "])", *pieces)
        if isinstance(n, nodes.List):
            return _join("[" + ", ".join("{}" for _ in n.items) + "]", *map(src, n.items))
        if isinstance(n, nodes.Tuple):
            return _join("(" + "".join("{}, " for _ in n.items) + ")", *map(src, n.items))
        if isinstance(n, nodes.Dict):
            parts_kv: list[str | None] = []
            for pair in n.items:
                parts_kv += [src(pair.key), src(pair.value)]
            body = ", ".join("{}: {}" for _ in n.items)
            return _join("{{" + body + "}}", *parts_kv)
        return None

    return src(node)


def _join(template: str, *parts: str | None) -> str | None:
    """``template`` filled with ``parts``, or None if any part has no source."""
    if any(part is None for part in parts):
        return None
    return template.format(*parts)
