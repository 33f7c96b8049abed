"""Compile a DAG once into a plan, then run the plan per call.

Why compile: the per-call path is what this engine competes on. Everything that does not
depend on the call's data (validation, which nodes a target needs, their order, what each
node's inputs are, which operator method to await) is worked out once per target and kept
until the DAG changes. A call then does only the work.

The plan splits the nodes a target needs into *chains*: maximal runs of nodes where each
feeds exactly the next. A chain runs as plain sequential awaits with no task per node. A
flow that is one chain (the common case) runs in the caller's task with no scheduler at all.
Otherwise chains run as soon as their inputs are ready: the first ready chain continues in
the current task, the others start as tasks (only real fan-out pays for concurrency).

Tasks are asyncio tasks in an ``asyncio.TaskGroup`` rather than an anyio task group: on
this workload anyio's task group costs about 3.5x ``asyncio.gather`` per fan-out, asyncio's
about 1x (see docs/architecture.md). Operators may still use anyio freely.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Sequence
from types import TracebackType
from typing import Any, cast

import anyio
import networkx as nx

from .context import EMPTY, SKIP_DATA, UNSET, DAGContext, _current
from .dag import DAG, DAGNode, NodeObserver
from .errors import (
    DAGValidationError,
    DeadlineExceeded,
    NodeError,
    Problem,
    RunError,
)
from .operators import (
    BaseOperator,
    BranchOperator,
    KindError,
    Step,
    identity,
    is_stream,
)
from .stream import tee

__all__ = ["Plan", "StreamCall", "compile_plan", "plan_for"]

_clock = time.perf_counter


def plan_for(target: BaseOperator, call_data: Any) -> Plan:
    """The compiled plan that runs ``target`` for this call data (cached per DAG version)."""
    dag = target.dag
    if dag is None:
        raise RunError(f"node '{target.label}' belongs to no flow", code="run.no_dag")
    cache = target._plans
    if cache is None or cache[0] != dag.version:
        cache = target._plans = [dag.version, None, None]
    # Index 1 holds the plan for value input, 2 for stream input.
    slot = 2 if is_stream(call_data) else 1
    plan: Plan | None = cache[slot]
    if plan is None:
        plan = compile_plan(target, entry_stream=slot == 2)
        if not plan.entry_dynamic:
            # The entry takes one kind whatever it is given: share one plan for both.
            cache[1] = cache[2] = plan
        else:
            cache[slot] = plan
    return plan


def compile_plan(target: BaseOperator, *, entry_stream: bool = False) -> Plan:
    """Validate the flow and compile the plan that runs it up to ``target``."""
    dag = target.dag
    if dag is None:
        raise RunError(f"node '{target.label}' belongs to no flow", code="run.no_dag")
    dag.validate()
    return Plan(dag, target, entry_stream)


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


class Plan:
    """What running one target needs, worked out once."""

    def __init__(self, dag: DAG, target: BaseOperator, entry_stream: bool) -> None:
        self.dag = dag
        self.target = target
        self.entry_stream = entry_stream
        graph = dag.graph()
        needed = nx.ancestors(graph, target) | {target}
        order = [n for n in nx.topological_sort(graph) if n in needed]
        self.nodes: list[BaseOperator] = [cast(BaseOperator, n) for n in order]
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
        self._compile_chains()
        self.linear = len(self.chains) == 1 and self.chains[0].branch is None
        # An entry that passes the call's input on unchanged needs no await: seed it.
        self.seed_entry = self.linear and self.steps[0] is identity
        self.loop_steps = self.steps[1:] if self.seed_entry else self.steps
        # Observing: a linear plan times its nodes in its own loop (no wrapper coroutine
        # per node); other plans wrap each step. Pass-through entries are not reported.
        self.observer = dag.node_observer
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
                and not isinstance(parents[0], BranchOperator)
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
            if isinstance(tail, BranchOperator):
                chain.branch = tail
        self.chains = chains
        self.root_chains = [c.id for c in chains if c.is_root]

    # --- running ----------------------------------------------------------------------------

    def no_input(self) -> RunError:
        assert self.input_node is not None
        return RunError(
            f"trigger '{self.input_node.label}' needs input data, but the call had none",
            code="run.no_input",
        )

    def new_context(
        self, share_data: dict[str, Any] | None = None, streaming: bool = False
    ) -> DAGContext:
        return DAGContext(
            self.dag, self.nodes, self.names, streaming_call=streaming, share_data=share_data
        )

    async def call(
        self,
        call_data: Any,
        share_data: dict[str, Any] | None = None,
        timeout: float | None = None,
        ctx: DAGContext | None = None,
    ) -> Any:
        """Run once. Pass ``ctx`` (from :meth:`new_context`) to look at it afterwards."""
        if call_data is EMPTY and self.input_node is not None:
            raise self.no_input()
        if ctx is None:
            # Positional: keyword arguments cost a server's every call.
            ctx = DAGContext(self.dag, self.nodes, self.names, share_data)
        elif ctx._nodes is not self.nodes or ctx._values:
            raise RunError("a context runs one call of the plan that made it", code="run.context")
        token = _current.set(ctx)
        try:
            if self.before_hooks:
                await self._run_hooks(self.before_hooks)
            if timeout is not None:
                with _deadline(self, timeout):
                    return await self.execute(ctx, call_data)
            if not self.linear:
                return await self.execute(ctx, call_data)
            # The linear case: _run_linear's loops, written out here on purpose. They are
            # the whole per-node cost of a chain, and calling _run_linear costs a coroutine.
            values = ctx._values
            append = values.append
            x = call_data
            if self.seed_entry:
                append(x)
            observer = self.observer
            try:
                if observer is None:
                    for step in self.loop_steps:
                        x = await step(x)
                        append(x)
                else:
                    # Each node timed for the observer (metrics).
                    nodes = self.nodes
                    for step, sink in self.timed_steps:
                        started = _clock()
                        try:
                            x = await step(x)
                        except BaseException as exc:
                            observer(nodes[len(values)], _clock() - started, exc)
                            raise
                        if sink is None:
                            observer(nodes[len(values)], _clock() - started, None)
                        else:
                            sink.append(_clock() - started)
                        append(x)
            except BaseException as exc:
                await _close_streams(values)
                if not _wraps(exc, self.dag):
                    raise
                raise self.nodes[self.blame(exc, len(values))].failure(exc) from exc
            return x
        finally:
            _current.reset(token)
            if self.after_hooks:
                await self._after(ctx)

    async def execute(self, ctx: DAGContext, call_data: Any) -> Any:
        """Run the plan in ``ctx``; return the target's output."""
        try:
            if self.linear:
                return await self._run_linear(ctx._values, call_data)
            return await _GraphRun(self, ctx._values, call_data).run()
        except BaseException:
            await _close_streams(ctx._values)
            raise

    async def _run_linear(self, values: list[Any], x: Any) -> Any:
        append = values.append
        if self.seed_entry:
            append(x)
        observer = self.observer
        try:
            if observer is None:
                for step in self.loop_steps:
                    x = await step(x)
                    append(x)
            else:
                nodes = self.nodes
                for step, sink in self.timed_steps:
                    started = _clock()
                    try:
                        x = await step(x)
                    except BaseException as exc:
                        observer(nodes[len(values)], _clock() - started, exc)
                        raise
                    if sink is None:
                        observer(nodes[len(values)], _clock() - started, None)
                    else:
                        sink.append(_clock() - started)
                    append(x)
        except Exception as exc:
            if not _wraps(exc, self.dag):
                raise
            raise self.nodes[self.blame(exc, len(values))].failure(exc) from exc
        return x

    async def _run_hooks(self, hooks: Sequence[Any]) -> None:
        for hook in hooks:
            await hook()

    async def _after(self, ctx: DAGContext) -> None:
        # Cleanup must run even when the call was cancelled.
        with anyio.CancelScope(shield=True):
            await self._run_hooks(self.after_hooks)

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

    def stream_error(self, exc: BaseException) -> BaseException:
        """Name the node that raised ``exc`` while a stream of this plan was iterated."""
        if not _wraps(exc, self.dag):
            return exc
        culprit = self.blame(exc, len(self.nodes))
        if culprit == len(self.nodes):
            return exc
        return self.nodes[culprit].failure(exc)


def _wraps(exc: BaseException, dag: DAG) -> bool:
    """Whether ``exc`` should be reported as a node's failure.

    Cancellation passes through; so do errors about the call itself (no input, a deadline)
    and a node failure this flow already reported.
    """
    if not isinstance(exc, Exception) or isinstance(exc, DeadlineExceeded):
        return False
    if isinstance(exc, RunError) and exc.code in _CALLER_ERRORS:
        return False
    return not (isinstance(exc, NodeError) and exc.flow == dag.dag_id)


#: Run errors about the call itself rather than any node's work.
_CALLER_ERRORS = frozenset({"run.no_input", "run.output_skipped"})


def _overrides_hook(node: BaseOperator, name: str) -> bool:
    return getattr(type(node), name) is not getattr(BaseOperator, name)


class _deadline:
    """``anyio.fail_after`` that reports the flow's own deadline as DeadlineExceeded."""

    def __init__(self, plan: Plan, timeout: float) -> None:
        self.plan = plan
        self.timeout = timeout
        self.scope = anyio.fail_after(timeout)

    def __enter__(self) -> None:
        self.scope.__enter__()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.scope.__exit__(et, ev, tb)
        except TimeoutError as exc:
            raise DeadlineExceeded(
                f"flow '{self.plan.dag.dag_id}' ran past its {self.timeout:g}s deadline",
            ) from exc


async def _close_streams(values: Sequence[Any]) -> None:
    with anyio.CancelScope(shield=True):
        for value in values:
            aclose = getattr(value, "aclose", None)
            if aclose is not None:
                # Best effort: this runs on the error path, where the first error matters.
                with contextlib.suppress(Exception):
                    await aclose()


class _GraphRun:
    """One call of a plan whose nodes do not form a single chain."""

    __slots__ = ("data", "pending", "plan", "ran_in", "skip", "tees", "tg", "values")

    def __init__(self, plan: Plan, values: list[Any], data: Any) -> None:
        self.plan = plan
        self.data = data
        values.extend([UNSET] * len(plan.nodes))
        self.values = values
        chains = plan.chains
        self.pending = [c.npending for c in chains]
        self.ran_in = [0] * len(chains)
        self.skip = [False] * len(chains)
        self.tees: dict[int, list[AsyncIterator[Any]]] = {}
        self.tg: Any = None

    async def run(self) -> Any:
        roots = self.plan.root_chains
        try:
            async with _task_group() as tg:
                self.tg = tg
                for cid in roots[1:]:
                    tg.create_task(self._drive(cid))
                await self._drive(roots[0])
        except BaseExceptionGroup as group:
            err = _first_error(group)
            # Re-raise the node's own error, keeping its cause (not the group) as the story.
            raise err from err.__cause__
        out = self.values[self.plan.target_index]
        if out is SKIP_DATA:
            raise RunError(
                f"the output node '{self.plan.target.label}' of flow"
                f" '{self.plan.dag.dag_id}' was skipped by a branch",
                code="run.output_skipped",
            )
        return out

    async def _drive(self, cid: int) -> None:
        chains = self.plan.chains
        while True:
            chain = chains[cid]
            skipped = await self._exec(chain)
            ready = self._finish(chain, skipped)
            if not ready:
                return
            for other in ready[1:]:
                self.tg.create_task(self._drive(other))
            cid = ready[0]

    async def _exec(self, chain: _Chain) -> set[str] | None:
        """Run a chain; return the labels its branch tail skipped (None if no branch)."""
        values = self.values
        nodes = chain.nodes
        i = nodes[0]
        try:
            if chain.is_root:
                x = await chain.steps[0](self.data)
            else:
                args = [
                    values[p] if slot < 0 else self.tees[p][slot] for p, slot in chain.head_inputs
                ]
                x = await chain.steps[0](*args)
            values[i] = x
            for j in range(1, len(nodes)):
                i = nodes[j]
                x = await chain.steps[j](x)
                values[i] = x
            if chain.branch is not None:
                return await chain.branch.choose(x)
        except Exception as exc:
            if not _wraps(exc, self.plan.dag):
                raise
            raise self.plan.nodes[self.plan.blame(exc, i)].failure(exc) from exc
        return None

    def _finish(self, chain: _Chain, skipped: set[str] | None) -> list[int]:
        """Mark ``chain`` done; return the chains that became ready to run.

        Chains that turn out to be skipped are settled here too, without running, which can
        cascade; a worklist (not recursion) keeps long skipped paths off the stack.
        """
        ready: list[int] = []
        work: list[tuple[_Chain, set[str] | None, bool]] = [(chain, skipped, True)]
        chains = self.plan.chains
        while work:
            done, skip_labels, ran = work.pop()
            if ran:
                tail = done.nodes[-1]
                copies = self.plan.tee_counts.get(tail)
                if copies:
                    self.tees[tail] = tee(self.values[tail], copies)
            for child, label in done.children:
                self.pending[child] -= 1
                if ran:
                    if skip_labels and label in skip_labels:
                        self.skip[child] = True
                    else:
                        self.ran_in[child] += 1
                if self.pending[child]:
                    continue
                nxt = chains[child]
                if self.skip[child] or (self.ran_in[child] == 0 and nxt.head_skippable):
                    for n in nxt.nodes:
                        self.values[n] = SKIP_DATA
                    copies = self.plan.tee_counts.get(nxt.nodes[-1])
                    if copies:
                        # Consumers that run anyway read SKIP_DATA through their tee slot.
                        self.tees[nxt.nodes[-1]] = [SKIP_DATA] * copies
                    work.append((nxt, None, False))
                else:
                    ready.append(child)
        return ready


def _task_group() -> Any:
    import asyncio

    return asyncio.TaskGroup()


def _first_error(group: BaseExceptionGroup[Any]) -> BaseException:
    errors: list[BaseException] = []

    def collect(g: BaseExceptionGroup[Any]) -> None:
        for e in g.exceptions:
            if isinstance(e, BaseExceptionGroup):
                collect(e)
            else:
                errors.append(e)

    collect(group)
    first = errors[0]
    if len(errors) > 1:
        first.add_note(
            f"{len(errors) - 1} other node(s) failed too: " + "; ".join(str(e) for e in errors[1:])
        )
    return first


class StreamCall:
    """A streaming call: iterate it, or await it for the target's own iterator.

    ``async for item in node.call_stream(data)``: errors are reported as the node that
    raised them, ``after_dag_end`` hooks run when the loop ends, and breaking out of the
    loop closes the streams (use ``aclose()`` or ``contextlib.aclosing`` for that to happen
    at once rather than when the iterator is collected).

    ``it = await node.call_stream(data)``: runs the flow and returns the target's iterator
    itself when the call needs no cleanup, so iteration costs nothing beyond the operators'
    own code (DB-GPT's form).
    """

    __slots__ = (
        "_ctx",
        "_data",
        "_deadline",
        "_done",
        "_gen",
        "_it",
        "_share",
        "_timeout",
        "_token",
        "plan",
    )

    def __init__(
        self, plan: Plan, data: Any, share_data: dict[str, Any] | None, timeout: float | None
    ) -> None:
        self.plan = plan
        self._data = data
        self._share = share_data
        self._timeout = timeout
        self._it: AsyncIterator[Any] | None = None
        self._ctx: DAGContext | None = None
        self._token: Any = None
        self._deadline = math.inf
        self._done = False
        self._gen: AsyncGenerator[Any, None] | None = None

    async def _start(self) -> AsyncIterator[Any]:
        plan = self.plan
        if self._data is EMPTY and plan.input_node is not None:
            self._done = True
            raise plan.no_input()
        ctx = self._ctx = plan.new_context(self._share, True)
        # Left set while the stream is read: stream operators run during iteration and may
        # look at the context then. Reset when the stream ends.
        self._token = _current.set(ctx)
        if self._timeout is not None:
            self._deadline = time.monotonic() + self._timeout
        try:
            if plan.before_hooks:
                await plan._run_hooks(plan.before_hooks)
            if self._timeout is None:
                out = await plan.execute(ctx, self._data)
            else:
                with _deadline(plan, self._timeout):
                    out = await plan.execute(ctx, self._data)
        except BaseException:
            await self._finish()
            raise
        self._it = out.__aiter__() if is_stream(out) else _once(out)
        return self._it

    async def start(self) -> StreamCall:
        """Run the flow up to its stream now (iteration would otherwise do it lazily)."""
        if self._it is None and not self._done:
            await self._start()
        return self

    def __aiter__(self) -> AsyncIterator[Any]:
        gen = self._gen
        if gen is None:
            gen = self._gen = self._iterate()
        return gen

    async def _iterate(self) -> AsyncGenerator[Any, None]:
        # An async generator rather than a class with __anext__: the per-item cost of
        # delegating through a generator is about a third of an `async def __anext__`.
        if self._done:
            return
        it = self._it if self._it is not None else await self._start()
        exhausted = False
        try:
            if self._deadline is math.inf:
                async for item in it:
                    yield item
            else:
                while True:
                    remaining = max(self._deadline - time.monotonic(), 0.0)
                    with _deadline(self.plan, remaining):
                        try:
                            item = await it.__anext__()
                        except StopAsyncIteration:
                            break
                    yield item
            exhausted = True
        except Exception as exc:
            err = self.plan.stream_error(exc)
            if err is exc:
                raise
            raise err from exc
        finally:
            # A stream read to its end has closed itself; anything else (an error, the
            # consumer stopping early, cancellation) closes what is still open.
            if exhausted:
                await self._finish()
            else:
                await self._close()

    async def aclose(self) -> None:
        """Stop early: close the streams and run the cleanup hooks."""
        if self._gen is not None:
            await self._gen.aclose()
        if not self._done:
            await self._close()

    async def _close(self) -> None:
        it = self._it
        if it is not None:
            aclose = getattr(it, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()
        if self._ctx is not None:
            await _close_streams(self._ctx._values)
        await self._finish()

    async def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        self._it = None
        self._reset_context()
        if self.plan.after_hooks and self._ctx is not None:
            await self.plan._after(self._ctx)

    def _reset_context(self) -> None:
        if self._token is not None:
            try:
                _current.reset(self._token)
            except ValueError:  # iterated from another task than the one that started it
                _current.set(None)
            self._token = None

    def __await__(self) -> Generator[Any, None, AsyncIterator[Any]]:
        return self._raw().__await__()

    async def _raw(self) -> AsyncIterator[Any]:
        it = await self._start()
        if self.plan.after_hooks or self._timeout is not None:
            return self.__aiter__()
        # Nothing to clean up: hand over the target's own iterator, and give the caller
        # its own context back (a sub-flow's must not stay current in the caller's task).
        self._reset_context()
        return it

    @property
    def context(self) -> DAGContext | None:
        """The call's context once it started."""
        return self._ctx


async def _once(value: Any) -> AsyncIterator[Any]:
    yield value
