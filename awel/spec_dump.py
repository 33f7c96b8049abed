"""Writing a DAG out as a YAML flow file: the inverse of :func:`awel.spec.load_flow`.

A node is written as the operator it was built from when it knows that (nodes loaded from a
file, or made with :func:`awel.registry.build`, keep ``op_name`` and ``params``). A node of
a plain engine kind is written when a file can say the same thing: a ``MapOperator``,
``JoinOperator`` or ``ReduceStreamOperator`` whose function is importable at module level
becomes ``awel.map`` / ``awel.join`` / ``awel.reduce`` with ``fn: "module:qualname"``; an
operator class that needs no constructor arguments (it overrides ``map()`` and the like)
becomes ``op: "module:Class"``. Anything else (a lambda, a closure, state passed to a
constructor) raises :class:`~awel.errors.AwelError` naming the node, rather than writing a
file that would load into a different flow.

    >>> print(dump_flow(dag))  # doctest: +SKIP
    name: examples.hello
    trigger: {}
    nodes:
      greet:
        op: awel.format
        params:
          template: Hello, {{ name }}
    edges:
    - trigger >> greet
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import networkx as nx
import yaml

from . import registry
from .dag import DAG, DAGNode
from .errors import AwelError
from .operators import (
    BaseOperator,
    BranchJoinOperator,
    InputOperator,
    InputSource,
    JoinOperator,
    MapOperator,
    ReduceStreamOperator,
    TriggerOperator,
)

__all__ = ["dump_flow"]

# The names the file format uses, shared with the reader (awel.spec imports them from here).

#: What a node may be called: edges are parsed on ``>>``, ``[``, ``]`` and ``,``.
NODE_NAME = r"^[A-Za-z_][A-Za-z0-9_\-]*$"
#: The name of the trigger node in edges.
TRIGGER = "trigger"
#: Registered names ``trigger.KIND`` are trigger kinds for ``trigger: {KIND: {...}}``.
TRIGGER_OP_PREFIX = "trigger."
#: The operator of ``trigger: {}``.
PLAIN_TRIGGER = "awel.trigger"

# The engine's input sources are private classes; recognise them by example.
_CALL_DATA = type(InputSource.from_callable())
_DATA = type(InputSource.from_data(None))
_ITERABLE = type(InputSource.from_iterable(()))


class _NotRepresentable(Exception):
    """Why a node has no YAML form (turned into an AwelError naming the node)."""


def dump_flow(dag: DAG) -> str:
    """The YAML flow file that loads back into a flow like ``dag``.

    Raises :class:`~awel.errors.AwelError` (code ``spec.not_representable``) naming the first
    node that a file cannot describe.
    """
    doc: dict[str, Any] = {"name": dag.dag_id}
    if dag.description:
        doc["description"] = dag.description
    if dag.tags:
        doc["tags"] = dict(dag.tags)
    nodes: dict[str, Any] = {}
    for node in dag.nodes:
        name = node.label
        try:
            if not re.match(NODE_NAME, name):
                raise _NotRepresentable(
                    "its name cannot be used in edges; give it a task_name of letters,"
                    " digits, '_' and '-'"
                )
            op, params = _describe(node)
            _check_yaml(params)
        except _NotRepresentable as exc:
            raise AwelError(
                f"flow '{dag.dag_id}': node '{name}' ({type(node).__name__}) cannot be"
                f" written as YAML: {exc}",
                code="spec.not_representable",
            ) from None
        if name == TRIGGER and isinstance(node, TriggerOperator):
            doc["trigger"] = _trigger_section(op, params)
        else:
            entry: dict[str, Any] = {"op": op, "params": params} if params else {"op": op}
            if isinstance(node, BaseOperator):
                if node.retries:
                    entry["retries"] = node.retries
                if node.timeout_s is not None:
                    entry["timeout_s"] = node.timeout_s
                as_spec = getattr(node.executor, "as_spec", None)
                if as_spec is not None:
                    entry["executor"] = "ray"
                    options = as_spec()
                    if options:
                        entry["ray"] = options
            nodes[name] = entry
    doc["nodes"] = nodes
    doc["edges"] = _edge_lines(_ordered_edges(dag))
    text: str = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    return text


def _trigger_section(op: str, params: dict[str, Any]) -> dict[str, Any]:
    if op == PLAIN_TRIGGER and not params:
        return {}
    if op.startswith(TRIGGER_OP_PREFIX):
        return {op[len(TRIGGER_OP_PREFIX) :]: params}
    return {"op": op, "params": params} if params else {"op": op}


def _describe(node: DAGNode) -> tuple[str, dict[str, Any]]:
    """The ``op`` and ``params`` that rebuild ``node``."""
    op_name = node.op_name if isinstance(node, BaseOperator) else None
    params = node.params if isinstance(node, BaseOperator) else None
    if isinstance(op_name, str) and params is not None:
        return op_name, dict(params)
    expected_skip = not isinstance(node, BranchJoinOperator)
    if getattr(node, "can_skip_in_branch", expected_skip) != expected_skip:
        raise _NotRepresentable("can_skip_in_branch has no YAML form")
    described = _engine_kind(node)
    if described is not None:
        return described
    op = _by_class(node)
    if op is not None:
        return op, {}
    raise _NotRepresentable(
        "it was not built from a registered operator (use awel.registry.build), and its"
        " behaviour is not an importable module-level function or class"
    )


def _fn_path(fn: Any, what: str) -> str:
    path = registry.object_path(fn)
    if path is None:
        raise _NotRepresentable(
            f"its {what} {fn!r} is not importable at module level (a lambda, closure or"
            " method?); define it as a module-level function"
        )
    return path


def _engine_kind(node: DAGNode) -> tuple[str, dict[str, Any]] | None:
    """A plain engine operator with a function, as the built-in operator that says the same."""
    cls = type(node)
    if cls is MapOperator and isinstance(node, MapOperator) and node.map_function is not None:
        return "awel.map", {"fn": _fn_path(node.map_function, "map_function")}
    if cls is JoinOperator and isinstance(node, JoinOperator) and node.combine_function:
        return "awel.join", {"fn": _fn_path(node.combine_function, "combine_function")}
    if cls is BranchJoinOperator and isinstance(node, BranchJoinOperator):
        fn = node.combine_function
        if fn is None or getattr(fn, "__module__", None) == "awel.operators":
            return "awel.branch_join", {}
        return "awel.branch_join", {"fn": _fn_path(fn, "combine_function")}
    if (
        cls is ReduceStreamOperator
        and isinstance(node, ReduceStreamOperator)
        and node.reduce_function
    ):
        params = {"fn": _fn_path(node.reduce_function, "reduce_function")}
        if node.initial is not ReduceStreamOperator._NO_INITIAL:
            params["initial"] = node.initial
        return "awel.reduce", params
    if cls is InputOperator and isinstance(node, InputOperator):
        source = node.input_source
        if type(source) is _CALL_DATA:
            return "awel.input", {}
        if type(source) is _DATA:
            return "awel.input", {"value": getattr(source, "data", None)}
        items = getattr(source, "items", None)
        if type(source) is _ITERABLE and isinstance(items, (list, tuple)):
            return "awel.input", {"stream": list(items)}
        raise _NotRepresentable(f"its input source {type(source).__name__} has no YAML form")
    return None


def _by_class(node: DAGNode) -> str | None:
    """The class's registered name or import path, if a no-argument build reproduces it."""
    if not isinstance(node, BaseOperator):
        return None
    cls = type(node)
    if registry.params_model(cls) is not registry.NoParams:
        return None  # it takes params, and this node does not say which it was given
    init_owner = next(k for k in cls.__mro__ if "__init__" in vars(k))
    if init_owner.__module__ != "awel.operators":
        return None  # its own constructor may have taken arguments we cannot see
    # State an engine constructor takes that a bare `cls(task_name=...)` would not restore.
    for attr in ("map_function", "combine_function", "reduce_function", "_branches"):
        if getattr(node, attr, None) is not None and not isinstance(node, BranchJoinOperator):
            return None
    if getattr(node, "offload", True) is not True:
        return None
    if (
        isinstance(node, ReduceStreamOperator)
        and node.initial is not ReduceStreamOperator._NO_INITIAL
    ):
        return None
    if isinstance(node, InputOperator) and type(node.input_source) is not _CALL_DATA:
        return None
    return registry.name_of(cls) or registry.object_path(cls)


def _check_yaml(params: dict[str, Any]) -> None:
    try:
        yaml.safe_dump(params)
    except yaml.YAMLError as exc:
        raise _NotRepresentable(f"a parameter has no YAML form ({exc})") from None


def _ordered_edges(dag: DAG) -> list[tuple[DAGNode, DAGNode]]:
    """Every link, in an order that rebuilds each node's upstream and downstream order.

    Upstream order is a join's argument order, so it must survive the round trip; linking
    edges one by one fixes both orders, and the order the flow was built in satisfies
    both, so a topological sort of "must come before" always finds one.
    """
    natural = [(up, node) for node in dag.nodes for up in node.upstream]
    position = {edge: i for i, edge in enumerate(natural)}
    before: nx.DiGraph[tuple[DAGNode, DAGNode]] = nx.DiGraph()
    before.add_nodes_from(natural)
    for node in dag.nodes:
        ups = [(up, node) for up in node.upstream]
        downs = [(node, down) for down in node.downstream]
        for seq in (ups, downs):
            before.add_edges_from(itertools.pairwise(seq))
    if not nx.is_directed_acyclic_graph(before):
        return natural
    return list(nx.lexicographical_topological_sort(before, key=position.__getitem__))


def _edge_lines(edges: list[tuple[DAGNode, DAGNode]]) -> list[str]:
    """Edges written compactly (``a >> [b, c] >> d``) without changing the link order.

    ``[a, b] >> [c, d]`` links a-c, a-d, b-c, b-d in that order, so neighbouring edges that
    share a side merge into one group, and a group whose sources are the previous group's
    targets continues its chain: the file links exactly the sequence it was given.
    """
    groups: list[tuple[list[DAGNode], list[DAGNode]]] = []
    for src, dst in edges:
        if groups:
            sources, targets = groups[-1]
            if sources == [src] and dst not in targets:
                targets.append(dst)
                continue
            if targets == [dst] and src not in sources:
                sources.append(src)
                continue
        groups.append(([src], [dst]))
    lines: list[str] = []
    previous: list[DAGNode] | None = None
    for sources, targets in groups:
        if previous is not None and sources == previous:
            lines[-1] += " >> " + _side(targets)
        else:
            lines.append(f"{_side(sources)} >> {_side(targets)}")
        previous = targets
    return lines


def _side(nodes: list[DAGNode]) -> str:
    names = [n.label for n in nodes]
    return names[0] if len(names) == 1 else "[" + ", ".join(names) + "]"
