"""Drawing a flow as text: Mermaid and Graphviz DOT, with no dependencies.

Both drawings are deterministic, so they can be pinned by snapshot tests and diffed in review:
node ids are positions (``n0``, ``n1`` ...) in a topological order that breaks ties by the
order nodes were added, never random node ids.

How a node is drawn says what kind of operator it is:

=====================  ===================  ==================
kind                   Mermaid              DOT
=====================  ===================  ==================
input, trigger         stadium ``([ ])``    rounded box
branch                 rhombus ``{ }``      diamond
join                   hexagon ``{{ }}``    hexagon
reduce, unstreamify    trapezoid            inverted trapezium
streamify, transform   parallelogram        parallelogram
map and the rest       rectangle            box
=====================  ===================  ==================

A node whose output is a stream is outlined dashed and marked ``[stream]``, and the edges
leaving it are thick. An edge a branch may skip is dashed, labelled with the predicate's
name when it has one.

    >>> print(draw_mermaid(dag))  # doctest: +SKIP
    ---
    title: "hello"
    ---
    flowchart TD
        n0(["trigger<br/>HttpTrigger"])
        n1["greet<br/>MapOperator"]
        n0 --> n1
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import networkx as nx

from .dag import DAG, DAGNode
from .errors import AwelError
from .operators import BaseOperator, BranchOperator, OperatorType
from .runner import compile_plan

__all__ = ["draw_dot", "draw_mermaid"]

_KINDS: dict[OperatorType, str] = {
    OperatorType.INPUT: "input",
    OperatorType.BRANCH: "branch",
    OperatorType.JOIN: "join",
    OperatorType.REDUCE: "reduce",
    OperatorType.UN_STREAMIFY: "reduce",
    OperatorType.STREAMIFY: "stream",
    OperatorType.TRANSFORM_STREAM: "stream",
    OperatorType.MAP: "map",
}

# Mermaid shape brackets per kind; the label goes between them, quoted.
_MERMAID_SHAPES: dict[str, tuple[str, str]] = {
    "input": ("([", "])"),
    "branch": ("{", "}"),
    "join": ("{{", "}}"),
    "reduce": ("[/", "\\]"),
    "stream": ("[/", "/]"),
    "map": ("[", "]"),
}

_DOT_SHAPES: dict[str, str] = {
    "input": 'shape=box, style="rounded"',
    "branch": "shape=diamond",
    "join": "shape=hexagon",
    "reduce": "shape=invtrapezium",
    "stream": "shape=parallelogram",
    "map": "shape=box",
}


@dataclass(frozen=True, slots=True)
class _Node:
    id: str
    name: str | None
    operator: str
    kind: str
    stream: bool


@dataclass(frozen=True, slots=True)
class _Edge:
    source: str
    target: str
    stream: bool
    #: Whether a branch may skip the edge's target.
    guarded: bool
    label: str | None


def draw_mermaid(dag: DAG) -> str:
    """The flow as a Mermaid ``flowchart TD`` (GitHub and most Markdown viewers render it).

    >>> print(draw_mermaid(dag))  # doctest: +SKIP
    """
    nodes, edges = _layout(dag)
    lines = ["---", f"title: {json.dumps(dag.dag_id)}", "---", "flowchart TD"]
    for node in nodes:
        label = _mermaid_text(node.name) + "<br/>" if node.name else ""
        label += _mermaid_text(node.operator)
        if node.stream:
            label += " [stream]"
        left, right = _MERMAID_SHAPES[node.kind]
        lines.append(f'    {node.id}{left}"{label}"{right}')
    for edge in edges:
        if edge.stream:
            arrow = "==>"
        elif edge.guarded:
            arrow = "-.->"
        else:
            arrow = "-->"
        text = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"    {edge.source} {arrow}{text} {edge.target}")
    streams = [n.id for n in nodes if n.stream]
    if streams:
        lines.append("    classDef stream stroke-dasharray: 5 5")
        lines.append(f"    class {','.join(streams)} stream")
    return "\n".join(lines) + "\n"


def draw_dot(dag: DAG) -> str:
    """The flow as Graphviz DOT text (render with ``dot -Tsvg`` where Graphviz is installed).

    >>> print(draw_dot(dag))  # doctest: +SKIP
    """
    nodes, edges = _layout(dag)
    lines = [
        f"digraph {_dot_quote(dag.dag_id)} {{",
        "    rankdir=TB;",
        '    node [fontname="Helvetica", fontsize=11];',
        '    edge [fontname="Helvetica", fontsize=10];',
    ]
    for node in nodes:
        label = f"{node.name}\n{node.operator}" if node.name else node.operator
        if node.stream:
            label += " [stream]"
        attrs = _DOT_SHAPES[node.kind]
        if node.stream:
            # Dashed as in the Mermaid drawing; keep "rounded" where the shape has it.
            attrs = attrs.replace('style="rounded"', 'style="rounded,dashed"')
            if "style=" not in attrs:
                attrs += ', style="dashed"'
        lines.append(f"    {node.id} [label={_dot_quote(label)}, {attrs}];")
    for edge in edges:
        attrs_list: list[str] = []
        if edge.stream:
            attrs_list.append("style=bold")
        elif edge.guarded:
            attrs_list.append("style=dashed")
        if edge.label:
            attrs_list.append(f"label={_dot_quote(edge.label)}")
        attrs = f" [{', '.join(attrs_list)}]" if attrs_list else ""
        lines.append(f"    {edge.source} -> {edge.target}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- the shared layout --------------------------------------------------------------------


def _layout(dag: DAG) -> tuple[list[_Node], list[_Edge]]:
    order = _ordered(dag)
    ids = {node: f"n{i}" for i, node in enumerate(order)}
    streams = _stream_outputs(dag)
    nodes = [
        _Node(
            id=ids[node],
            name=node.node_name,
            operator=_operator_name(node),
            kind=_KINDS.get(getattr(node, "operator_type", OperatorType.MAP), "map"),
            stream=node in streams,
        )
        for node in order
    ]
    edges: list[_Edge] = []
    for node in order:
        guards = _branch_guards(node)
        for child in node.downstream:
            guard = guards.get(child.label)
            edges.append(
                _Edge(
                    source=ids[node],
                    target=ids[child],
                    stream=node in streams,
                    guarded=guard is not None,
                    label=guard or None,
                )
            )
    return nodes, edges


def _ordered(dag: DAG) -> list[DAGNode]:
    """Topological order with ties broken by insertion order; insertion order if cyclic."""
    nodes = dag.nodes
    position = {node: i for i, node in enumerate(nodes)}
    graph = dag.graph()
    if not nx.is_directed_acyclic_graph(graph):
        return nodes
    return list(nx.lexicographical_topological_sort(graph, key=position.__getitem__))


def _operator_name(node: DAGNode) -> str:
    # Operators built from a YAML spec know the name they were registered under
    # (``awel.format``); that says more to the reader of the YAML than a class name.
    op = node.op_name if isinstance(node, BaseOperator) else None
    return op if isinstance(op, str) and op else type(node).__name__


def _stream_outputs(dag: DAG) -> set[DAGNode]:
    """Nodes whose output is a stream, as the compiled plans see it.

    Whether a map yields a stream depends on its input, so ask the compiler. A flow that does
    not compile is still drawn, marking only the operators that always yield streams.
    """
    out: set[DAGNode] = {
        n for n in dag.nodes if isinstance(n, BaseOperator) and n.streaming_operator
    }
    for leaf in dag.leaf_nodes:
        if not isinstance(leaf, BaseOperator):
            continue
        for entry_stream in (False, True):
            try:
                plan = compile_plan(leaf, entry_stream=entry_stream)
            except AwelError:
                continue
            break
        else:
            continue
        out.update(n for n, s in zip(plan.nodes, plan.stream_out, strict=True) if s)
    return out


def _branch_guards(node: DAGNode) -> dict[str, str]:
    """For a branch built with a mapping, its guarded children: label -> predicate name."""
    if not isinstance(node, BranchOperator) or not node._branches:
        return {}
    guards: dict[str, str] = {}
    for predicate, target in node._branches.items():
        name = target if isinstance(target, str) else target.label
        guards[name] = _callable_name(predicate)
    return guards


def _callable_name(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__name__", "")
    return "" if not isinstance(name, str) or name.startswith("<") else name


def _mermaid_text(text: str) -> str:
    # Inside a quoted Mermaid label, entity codes are the only safe way to write these.
    return (
        text.replace("#", "#35;")
        .replace("&", "#amp;")
        .replace('"', "#quot;")
        .replace("<", "#lt;")
        .replace(">", "#gt;")
    )


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
