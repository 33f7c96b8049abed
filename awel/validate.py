"""Structural checks of a DAG, all problems collected at once.

Checked here, once per DAG version: the graph has nodes, is acyclic (the cycle is printed),
is connected, has exactly one entry for the call's input, every node can be executed, input
nodes have nothing upstream, and branches route to nodes that are really below them. Then,
when the entry's input kind is fixed, every node is checked for getting a stream where it
needs a value or back; an entry that takes either is checked when a call compiles its plan.
Last, once the rest holds, :func:`type_problems` checks that each edge's types can meet
(:mod:`awel.iotypes`), for ``awel validate`` and flows loaded from files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import networkx as nx

from .errors import DAGValidationError, Problem
from .iotypes import fits, is_unknown, type_name
from .plan import CompiledPlan, compile_steps

if TYPE_CHECKING:
    from .dag import DAG, DAGNode
    from .operators import BaseOperator

#: Names operators that take a given type, closest to a name first (the registry's, given by
#: whoever can reach it: validation sits below the registry).
Suggest = Callable[[Any, "str | None"], list[str]]

# Nodes are read through what DAGNode declares (runnable, takes_call_data, is_trigger,
# must_be_root, branch_targets), so this module sits below the operator kinds and the DAG
# can check itself when its `with` block closes.


def structural_problems(dag: DAG) -> list[Problem]:
    problems: list[Problem] = []

    def add(code: str, message: str, node: object = None) -> None:
        loc = getattr(node, "location", None) or dag.location
        problems.append(Problem(code, message, loc))

    nodes = dag.nodes
    if not nodes:
        add("dag.empty", f"flow '{dag.dag_id}' has no nodes")
        return problems

    for node in nodes:
        if not node.runnable:
            add(
                "dag.not_operator",
                f"node '{node.label}' is a {type(node).__name__}, not an operator, so it"
                " cannot run",
                node,
            )

    graph = dag.graph()
    if not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph)
        path = " -> ".join([cycle[0][0].label, *(edge[1].label for edge in cycle)])
        add("dag.cycle", f"flow '{dag.dag_id}' has a cycle: {path}", cycle[0][0])

    parts = list(nx.weakly_connected_components(graph))
    if len(parts) > 1:
        shown = " | ".join(
            ", ".join(sorted(n.label for n in part)) for part in sorted(parts, key=len)
        )
        add(
            "dag.disconnected",
            f"flow '{dag.dag_id}' falls apart into {len(parts)} unconnected parts ({shown});"
            " link them, or make each its own flow",
        )

    roots = [n for n in nodes if not n.upstream]
    entries = [n for n in roots if n.runnable and n.takes_call_data]
    if len(entries) > 1:
        names = ", ".join(f"'{n.label}'" for n in entries)
        add(
            "dag.entry",
            f"flow '{dag.dag_id}' has {len(entries)} nodes that would take the call's input"
            f" ({names}); a flow takes its input through exactly one trigger or input node."
            " Give the others an upstream node, or a source of their own"
            " (InputSource.from_data)",
            entries[1],
        )
    triggers = [n for n in nodes if n.is_trigger]
    if len(triggers) > 1:
        names = ", ".join(f"'{n.label}'" for n in triggers)
        add(
            "dag.entry",
            f"flow '{dag.dag_id}' has {len(triggers)} triggers ({names}); exactly one is allowed",
            triggers[1],
        )

    for node in nodes:
        if node.must_be_root and node.upstream:
            feeding = ", ".join(f"'{p.label}'" for p in node.upstream)
            add(
                "dag.input_fed",
                f"input node '{node.label}' reads its own source but {feeding} feeds it;"
                " an input or trigger node must be a root",
                node,
            )
        targets = node.branch_targets()
        if targets:
            below = {c.label for c in node.downstream}
            for name in targets:
                if name not in below:
                    add(
                        "dag.branch_target",
                        f"branch '{node.label}' routes to '{name}', which is not directly"
                        f" below it (below it: {', '.join(sorted(below)) or 'nothing'})",
                        node,
                    )
    if not problems:
        problems.extend(kind_problems(dag))
    return problems


def kind_problems(dag: DAG) -> list[Problem]:
    """Stream/value mismatches, found when the flow is built if its entry's input kind is
    fixed (a trigger's always is). An entry that takes either is checked per call instead."""
    nodes = [cast("BaseOperator", n) for n in dag.topological_nodes() if n.runnable]
    compiled = compile_steps(nodes, entry_stream=False)
    return [] if compiled.entry_dynamic else compiled.problems


def flow_problems(dag: DAG, suggest: Suggest | None = None) -> list[Problem]:
    """Every problem that would stop ``dag`` from running, found without running it.

    The structural checks (:meth:`DAG.problems`), then, if those pass, compiling a plan for
    each output node, which finds nodes fed a stream where they need a value or back. An
    entry that reads the call's input may be meant for a stream: the flow is fine if either
    kind of input compiles. Last, if all that holds, the types of each edge
    (:func:`type_problems`; ``suggest`` names operators that would fit instead).
    """
    found = dag.problems()
    if found:
        return found
    for leaf in dag.leaf_nodes:
        if not leaf.runnable:
            continue
        op = cast("BaseOperator", leaf)
        try:
            CompiledPlan(dag, op, entry_stream=False)
        except DAGValidationError as exc:
            try:
                CompiledPlan(dag, op, entry_stream=True)
            except DAGValidationError:
                found.extend(p for p in exc.problems if p not in found)
    if not found:
        found.extend(type_problems(dag, suggest))
    return found


def type_problems(dag: DAG, suggest: Suggest | None = None) -> list[Problem]:
    """Edges whose output type certainly does not fit the input type below it.

    Each node's types are what it declares (``DAGNode.io_types``); a branch gives what it
    was given. Only a sure mismatch is reported (:func:`awel.iotypes.fits`), at the edge's
    line in a YAML file (else the node's, else the flow's). ``suggest(given, op)`` names
    operators that take the given type, the closest to ``op`` first.
    """
    nodes = [cast("BaseOperator", n) for n in dag.topological_nodes() if n.runnable]
    compiled = compile_steps(nodes, entry_stream=False)
    streams = dict(zip(nodes, compiled.stream_out, strict=True))
    gives: dict[DAGNode, Any] = {}
    problems: list[Problem] = []
    for node in nodes:
        types = node.io_types()
        for i, parent in enumerate(node.upstream):
            given = gives.get(parent, Any)
            taken = types.takes_at(i)
            if fits(given, taken) is not False:
                continue
            stream = streams.get(cast("BaseOperator", parent), False)
            gave = f"a stream of {type_name(given)}" if stream else type_name(given)
            took = f"a stream of {type_name(taken)}" if types.takes_stream else type_name(taken)
            op = _op_of(node)
            hint = ""
            if suggest is not None:
                near = [name for name in suggest(given, op) if name != op]
                hint = f"; did you mean {near[0]}?" if near else ""
            where = (
                dag.edge_locations.get((parent.label, node.label)) or node.location or dag.location
            )
            message = (
                f"edge '{parent.label} >> {node.label}': {_op_of(parent)} gives {gave},"
                f" {op} takes {took}{hint}"
            )
            problems.append(Problem("dag.edge_type", message, where))
        out = types.gives
        if types.passes_through and node.upstream:
            passed = gives.get(node.upstream[0], Any)
            out = types.takes if is_unknown(passed) else passed
        gives[node] = out
    return problems


def _op_of(node: DAGNode) -> str:
    """The operator's registered name when the node was built from one, else its class."""
    name = getattr(node, "op_name", None)
    return name if isinstance(name, str) else type(node).__name__
