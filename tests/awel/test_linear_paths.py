"""The two copies of the linear loop agree, on generated chains.

A linear plan runs inline in ``Plan.call`` (its hot path: calling a helper would cost a
coroutine per call, measured at 10-15% of a short chain's call) and in ``Plan._run_linear``
(reached through ``Plan.execute``: calls with a deadline, streaming calls). Both must give
the same output, the same node outputs, the same failure (which node, which cause) and tell
an observer the same things.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from awel import (
    DAG,
    BaseOperator,
    DAGContext,
    InputOperator,
    InputSource,
    MapOperator,
    NodeError,
    ReduceStreamOperator,
    StreamifyAbsOperator,
    TriggerOperator,
)
from awel.runner import Plan, compile_plan


class Boom(Exception):
    pass


class Spread(StreamifyAbsOperator[int, int]):
    """Streams 0 .. |x| % 4 - 1; fails after the first item when told to."""

    def __init__(self, fail: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fail = fail

    async def streamify(self, input_value: int) -> AsyncIterator[int]:
        for i in range(abs(input_value) % 4 + 1):
            if self.fail and i == 1:
                raise Boom("in the stream")
            yield i


async def add_one(x: int) -> int:
    return x + 1


def raise_boom(x: int) -> int:
    raise Boom(f"at {x}")


def times(k: int) -> Callable[[int], int]:
    return lambda x: x * k


def plus(k: int) -> Callable[[int], int]:
    return lambda x: x + k


def total(a: int, b: int) -> int:
    return a + b


def link(a: BaseOperator, b: BaseOperator) -> BaseOperator:
    a.set_downstream(b)
    return b


def build(entry: str, ops: list[tuple[str, int]], observer: Any) -> BaseOperator:
    with DAG("chain") as dag:
        node: BaseOperator
        if entry == "trigger":
            node = TriggerOperator(task_name="n0")
        elif entry == "input":
            node = InputOperator.from_callable(task_name="n0")
        else:  # a source of its own: a step to await, not a seeded pass-through
            node = InputOperator(InputSource.from_data(7), task_name="n0")
        for i, (op, k) in enumerate(ops, start=1):
            name = f"n{i}"
            nxt: BaseOperator
            if op == "add":
                nxt = MapOperator(add_one, task_name=name)
            elif op == "mul":
                nxt = MapOperator(times(k), offload=False, task_name=name)
            elif op == "fail":
                nxt = MapOperator(raise_boom, offload=False, task_name=name)
            else:  # "stream" / "stream_fail": streamify -> map per item -> reduce
                spread = Spread(op == "stream_fail", task_name=name)
                each = MapOperator(plus(k), offload=False, task_name=f"{name}m")
                node = link(link(node, spread), each)
                nxt = ReduceStreamOperator(total, initial=0, offload=False, task_name=f"{name}r")
            node = link(node, nxt)
    if observer is not None:
        dag.set_node_observer(observer)
    return node


@dataclass
class Seen:
    """What an observer was told."""

    calls: list[tuple[str, str | None]] = field(default_factory=list)
    timed: Counter[str] = field(default_factory=Counter)

    def __call__(self, node: BaseOperator, seconds: float, error: BaseException | None) -> None:
        assert seconds >= 0
        self.calls.append((node.label, type(error).__name__ if error else None))


@dataclass
class SeenWithTimings(Seen):
    sinks: dict[str, list[float]] = field(default_factory=dict)

    def timings(self, node: BaseOperator) -> list[float]:
        return self.sinks.setdefault(node.label, [])

    def counts(self) -> dict[str, int]:
        return {label: len(times) for label, times in self.sinks.items()}


def outputs(ctx: DAGContext) -> dict[str, Any]:
    # Streams are fresh objects on every run: compare that there was one, not which.
    return {k: "<stream>" if hasattr(v, "__aiter__") else v for k, v in ctx.outputs.items()}


async def run(plan: Plan, x: int, via_execute: bool) -> tuple[Any, ...]:
    ctx = plan.new_context()
    # A deadline sends the call through Plan.execute and so _run_linear; none keeps it inline.
    timeout = 1e6 if via_execute else None
    try:
        out = await plan.call(x, None, timeout, ctx)
    except NodeError as exc:
        return ("failed", exc.node, type(exc.__cause__).__name__, outputs(ctx))
    return ("ok", out, outputs(ctx))


ops = st.lists(
    st.tuples(
        st.sampled_from(["add", "add", "mul", "mul", "stream", "fail", "stream_fail"]),
        st.integers(-3, 3),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=80, deadline=None)
@given(
    entry=st.sampled_from(["trigger", "input", "data"]),
    chain=ops,
    observe=st.sampled_from(["none", "calls", "timings"]),
    x=st.integers(-50, 50),
)
def test_inline_loop_and_run_linear_agree(
    entry: str, chain: list[tuple[str, int]], observe: str, x: int
) -> None:
    async def both() -> None:
        results = []
        seen: list[Seen] = []
        for via_execute in (False, True):
            observer = {"none": None, "calls": Seen(), "timings": SeenWithTimings()}[observe]
            leaf = build(entry, chain, observer)
            plan = compile_plan(leaf)
            assert plan.linear
            results.append(await run(plan, x, via_execute))
            if observer is not None:
                seen.append(observer)
        assert results[0] == results[1]
        if seen:
            inline, executed = seen
            assert inline.calls == executed.calls
            if isinstance(inline, SeenWithTimings) and isinstance(executed, SeenWithTimings):
                assert inline.counts() == executed.counts()

    asyncio.run(both())


def test_the_generator_reaches_both_loops_shapes() -> None:
    """The chains above are linear, seeded or not, observed or not (what the loops split on)."""
    seeded = compile_plan(build("trigger", [("add", 0)], None))
    awaited = compile_plan(build("data", [("add", 0)], None))
    observed = compile_plan(build("input", [("stream", 1)], SeenWithTimings()))
    assert seeded.linear and seeded.seed_entry
    assert awaited.linear and not awaited.seed_entry
    assert observed.linear and observed.observer is not None and observed.timed_steps
