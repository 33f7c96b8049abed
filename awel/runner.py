"""Running compiled plans: one call of a target, as a value or as a stream.

:mod:`awel.plan` works out once what a target needs; here a call does only the work. A
flow that is one chain (the common case) runs in the caller's task with no scheduler at all.
Otherwise chains run as soon as their inputs are ready: the first ready chain continues in
the current task, the others start as tasks (only real fan-out pays for concurrency).

Tasks are asyncio tasks in an ``asyncio.TaskGroup`` rather than an anyio task group: on
this workload anyio's task group costs about 3.5x ``asyncio.gather`` per fan-out, asyncio's
about 1x (see docs/architecture.md). Operators may still use anyio freely.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio

from .context import EMPTY, SKIP_DATA, UNSET, DAGContext, _current
from .errors import DeadlineExceeded, NodeError, RunError
from .plan import CompiledPlan, _Chain
from .stream import is_stream, tee

if TYPE_CHECKING:
    from .dag import DAG
    from .operators import BaseOperator

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


class Plan(CompiledPlan):
    """A compiled plan, and how to run it."""

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
            # the whole per-node cost of a chain, and calling _run_linear costs a coroutine
            # (measured: +180 ns on a 1-node chain's ~1.4 us call). A property test
            # (tests/awel/test_linear_paths.py) runs both copies on generated chains.
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
            async with asyncio.TaskGroup() as tg:
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
