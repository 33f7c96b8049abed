"""Compiling: a target and its DAG, worked out once into a plan.

Why compile: the per-call path is what this engine competes on. Everything that does not
depend on the call's data (which nodes a target needs, their order, what each node's inputs
are, which operator method to await) is worked out once per target and kept until the DAG
changes. Running the result is :mod:`awel.runner`'s job.

The plan splits the nodes a target needs into *chains*: maximal runs of nodes where each
feeds exactly the next. A chain runs as plain sequential awaits with no task per node.

This module sits below the operator kinds: it reads nodes only through what every
operator declares (``compile_step``, ``takes_call_data``, ``entry_kind``, ``is_branch`` ...),
so :mod:`awel.operators` can import the runner without a cycle.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

import networkx as nx

from .errors import DAGValidationError, Problem

if TYPE_CHECKING:
    from .dag import DAG, DAGNode, NodeObserver
    from .operators import BaseOperator, BranchOperator

__all__ = ["CompiledPlan", "CompiledSteps", "KindError", "Step", "compile_steps", "identity"]

#: The one async callable awaited for a node.
Step = Callable[..., Awaitable[Any]]


class Executor(Protocol):
    """Runs a node's call elsewhere (awel.executor.RayExecutor): its step, replaced."""

    def wrap(self, node: BaseOperator, inputs: Sequence[bool], streams: bool) -> Step: ...


class KindError(Exception):
    """Raised while compiling when a node gets a stream where it needs a value, or back."""


async def identity(value: Any) -> Any:
    """The step of a node that passes the call's input on unchanged."""
    return value


class CompiledSteps:
    """Each node's step and whether it yields a stream, or the problems found instead."""

    __slots__ = ("entry_dynamic", "problems", "steps", "stream_out")

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.stream_out: list[bool] = []
        self.problems: list[Problem] = []
        #: The entry takes a value or a stream depending on each call's input.
        self.entry_dynamic = False


def compile_steps(nodes: Sequence[BaseOperator], entry_stream: bool) -> CompiledSteps:
    """Compile ``nodes`` (in topological order) into steps, given the call's input kind.

    Every stream/value mismatch is collected rather than raised at the first.
    """
    out = CompiledSteps()
    position: dict[DAGNode, int] = {node: i for i, node in enumerate(nodes)}
    for node in nodes:
        if node.upstream:
            inputs: tuple[bool, ...] = tuple(out.stream_out[position[p]] for p in node.upstream)
        elif node.takes_call_data:
            if node.entry_kind is None:
                out.entry_dynamic = True
                inputs = (entry_stream,)
            else:
                inputs = (node.entry_kind,)
        else:
            inputs = ()
        try:
            step, streams = node.compile_step(inputs)
            if node.executor is not None:
                # The call runs elsewhere, from a copy of the node compiled there; the local
                # step was compiled for its checks only.
                step = node.executor_step(inputs, streams)
            if node.variables is not None:
                # Resolved at each call, inside the guard: a retry reads them again.
                step = node.variables.bind(node, inputs, streams)
            if node.retries or node.timeout_s is not None:
                # Only such nodes get a wrapper: the others' steps stay bare awaits.
                step = node.guard_step(step, inputs, streams)
        except KindError as exc:
            out.problems.append(Problem("dag.kind", f"node '{node.label}' {exc}", node.location))
            step, streams = _not_compiled, False
        out.steps.append(step)
        out.stream_out.append(streams)
    return out


def _observed(node: BaseOperator, step: Step, observer: NodeObserver) -> Step:
    clock = time.perf_counter

    async def timed(*args: Any) -> Any:
        started = clock()
        try:
            out = await step(*args)
        except BaseException as exc:
            observer(node, clock() - started, exc)
            raise
        observer(node, clock() - started, None)
        return out

    return timed


async def _not_compiled(*args: Any) -> Any:
    raise AssertionError("unreachable: a plan with problems is never run")


class _Chain:
    """Nodes run one after another in one task; see the module docstring."""

    __slots__ = (
        "branch",
        "children",
        "head_inputs",
        "head_skippable",
        "id",
        "is_root",
        "nodes",
        "npending",
        "steps",
    )

    def __init__(self, cid: int) -> None:
        self.id = cid
        self.nodes: list[int] = []
        self.steps: list[Step] = []
        #: (upstream node index, tee slot or -1) for each input of the head, in order.
        self.head_inputs: list[tuple[int, int]] = []
        self.is_root = False
        self.head_skippable = True
        self.npending = 0
        #: (child chain id, child head label) for every edge leaving the tail.
        self.children: list[tuple[int, str]] = []
        self.branch: BranchOperator[Any] | None = None


class CompiledPlan:
    """What running one target needs, worked out once (run by :class:`awel.runner.Plan`)."""

    def __init__(self, dag: DAG, target: BaseOperator, entry_stream: bool) -> None:
        self.dag = dag
        self.target = target
        self.entry_stream = entry_stream
        graph = dag.graph()
        needed = nx.ancestors(graph, target) | {target}
        order = [n for n in nx.topological_sort(graph) if n in needed]
        self.nodes: list[BaseOperator] = cast("list[BaseOperator]", order)
        self.index: dict[DAGNode, int] = {n: i for i, n in enumerate(self.nodes)}
        self.names: dict[str, int] = {}
        for i, n in enumerate(self.nodes):
            self.names[n.label] = i
            self.names[n.node_id] = i
        compiled = compile_steps(self.nodes, entry_stream)
        if compiled.problems:
            raise DAGValidationError(dag.dag_id, compiled.problems)
        self.steps = compiled.steps
        self.stream_out = compiled.stream_out
        self.entry_dynamic = compiled.entry_dynamic
        self.observer = dag.node_observer
        # A tracer (an observer with ``wrap_step``, see DAG.set_node_observer) sees every
        # step itself, streams included, and reports on its own: no timing on top of it.
        wrap = getattr(self.observer, "wrap_step", None)
        if wrap is not None:
            self.steps = [
                wrap(node, step, streams)
                for node, step, streams in zip(self.nodes, self.steps, self.stream_out, strict=True)
            ]
            self.observer = None
        self._compile_chains()
        self.linear = len(self.chains) == 1 and self.chains[0].branch is None
        # An entry that passes the call's input on unchanged needs no await: seed it.
        self.seed_entry = self.linear and self.steps[0] is identity
        self.loop_steps = self.steps[1:] if self.seed_entry else self.steps
        # Observing: a linear plan times its nodes in its own loop (no wrapper coroutine
        # per node); other plans wrap each step. Pass-through entries are not reported.
        #: Each loop step with the list its successful run times go to (None: call the
        #: observer), when observed (see DAG.set_node_observer).
        self.timed_steps: list[tuple[Step, list[float] | None]] = []
        if self.observer is not None and self.linear:
            timings = getattr(self.observer, "timings", None)
            first = len(self.steps) - len(self.loop_steps)
            for i, step in enumerate(self.loop_steps, start=first):
                sink = timings(self.nodes[i]) if timings is not None else None
                self.timed_steps.append((step, sink))
        if self.observer is not None and not self.linear:
            for chain in self.chains:
                chain.steps = [
                    step if step is identity else _observed(self.nodes[i], step, self.observer)
                    for i, step in zip(chain.nodes, chain.steps, strict=True)
                ]
        #: The entry that refuses a call without input, if there is one.
        self.input_node = next(
            (n for n in self.nodes if not n.upstream and n.takes_call_data and n.needs_input),
            None,
        )
        self.target_index = len(self.nodes) - 1
        self.output_stream = self.stream_out[-1]
        self.before_hooks = [
            n.before_dag_run for n in self.nodes if _overrides_hook(n, "before_dag_run")
        ]
        self.after_hooks = [
            n.after_dag_end for n in self.nodes if _overrides_hook(n, "after_dag_end")
        ]
        # Code objects of stream-producing methods, to tell which node raised inside a
        # stream when nothing of ours sits between the consumer and the operator.
        self._stream_codes: list[tuple[Any, int]] = []
        for i, node in enumerate(self.nodes):
            if self.stream_out[i]:
                for fn in (
                    getattr(type(node), "streamify", None),
                    getattr(type(node), "transform_stream", None),
                    getattr(type(node), "combine", None),
                    getattr(node, "combine_function", None),
                ):
                    code = getattr(fn, "__code__", None)
                    if code is not None:
                        self._stream_codes.append((code, i))

    # --- compiling ----------------------------------------------------------------------

    def _compile_chains(self) -> None:
        index = self.index
        nodes = self.nodes
        # In-plan children of each node, in downstream order.
        kids: list[list[int]] = [[index[c] for c in n.downstream if c in index] for n in nodes]
        chain_of: list[int] = [-1] * len(nodes)
        chains: list[_Chain] = []
        for i, node in enumerate(nodes):
            parents = node.upstream
            if (
                len(parents) == 1
                and len(kids[index[parents[0]]]) == 1
                and not parents[0].is_branch
                and node.can_skip_in_branch
            ):
                chain = chains[chain_of[index[parents[0]]]]
            else:
                chain = _Chain(len(chains))
                chains.append(chain)
                chain.is_root = not parents
                chain.head_skippable = node.can_skip_in_branch
                chain.npending = len(parents)
            chain.nodes.append(i)
            chain.steps.append(self.steps[i])
            chain_of[i] = chain.id
        # Wire tails to heads; streams read by several consumers are teed, one slot each.
        self.tee_counts: dict[int, int] = {}
        for chain in chains:
            head = nodes[chain.nodes[0]]
            for p in head.upstream:
                pi = index[p]
                slot = -1
                if self.stream_out[pi] and len(kids[pi]) > 1:
                    slot = self.tee_counts.get(pi, 0)
                    self.tee_counts[pi] = slot + 1
                chain.head_inputs.append((pi, slot))
                chains[chain_of[pi]].children.append((chain.id, head.label))
            tail = nodes[chain.nodes[-1]]
            if tail.is_branch:
                chain.branch = cast("BranchOperator[Any]", tail)
        self.chains = chains
        self.root_chains = [c.id for c in chains if c.is_root]

    # --- running ----------------------------------------------------------------------------

    def blame(self, exc: BaseException, running: int) -> int:
        """The index of the node that raised ``exc`` while node ``running`` ran.

        Usually ``running`` itself; but a node reading a stream runs the code of the stream
        operators upstream of it, and the traceback tells whose frame raised.
        """
        culprit = running
        tb = exc.__traceback__
        codes = self._stream_codes
        while tb is not None:
            code = tb.tb_frame.f_code
            for c, i in codes:
                if c is code and i <= running:
                    culprit = i
            tb = tb.tb_next
        return culprit


def _overrides_hook(node: BaseOperator, name: str) -> bool:
    # The base class marks its no-op hooks, so a plan awaits only hooks a node really has.
    return not getattr(getattr(type(node), name), "_awel_noop", False)
