"""Cancellation, deadlines and stopping streams early: every node and stream cleans up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import anyio
import pytest

from awel import (
    DAG,
    AwelError,
    DeadlineExceeded,
    InputOperator,
    InputSource,
    JoinOperator,
    MapOperator,
    StreamifyAbsOperator,
    current_context,
)

# A guard against a hang turning into pytest's 60 s timeout; never a speed check.
GUARD = 20
# Deadlines below are met only by nodes that wait forever, so the exact value is irrelevant.
SHORT = 0.05


def entry(name: str = "in") -> InputOperator[Any]:
    return InputOperator.from_callable(task_name=name)


class Forever(MapOperator[Any, Any]):
    """Waits until cancelled, recording what happened to it."""

    def __init__(self, log: list[str], **kw: Any) -> None:
        super().__init__(**kw)
        self.log = log
        self.started = anyio.Event()

    async def map(self, input_value: Any) -> Any:
        self.started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            self.log.append(f"cancelled {self.label}")
            raise
        finally:
            self.log.append(f"finally {self.label}")

    async def after_dag_end(self) -> None:
        self.log.append(f"after {self.label}")


def linear(log: list[str]) -> tuple[Forever, Forever]:
    with DAG("linear"):
        node = Forever(log, task_name="forever")
        entry() >> node
    return node, node


def fan_out(log: list[str]) -> tuple[Forever, JoinOperator[Any]]:
    with DAG("fan"):
        a = entry()
        first = Forever(log, task_name="f1")
        j = JoinOperator(lambda x, y: (x, y), offload=False)
        a >> [first, Forever(log, task_name="f2")] >> j
    return first, j


SHAPES = [pytest.param(linear, id="linear"), pytest.param(fan_out, id="fan_out")]


@pytest.mark.parametrize("shape", SHAPES)
async def test_cancelling_the_caller_cancels_running_nodes(shape: Any) -> None:
    log: list[str] = []
    started, target = shape(log)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(target.call, 1)
            await started.started.wait()
            tg.cancel_scope.cancel()
    names = [n for n in ("forever", "f1", "f2") if f"finally {n}" in log]
    assert names, log
    for name in names:
        assert f"cancelled {name}" in log
        assert f"after {name}" in log
    # after_dag_end runs once the nodes are done, not before.
    assert max(log.index(f"finally {n}") for n in names) < min(
        log.index(f"after {n}") for n in names
    )


@pytest.mark.parametrize("shape", SHAPES)
async def test_asyncio_task_cancel(shape: Any) -> None:
    log: list[str] = []
    started, target = shape(log)
    task = asyncio.create_task(target.call(1))
    with anyio.fail_after(GUARD):
        await started.started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert any(entry.startswith("finally") for entry in log)
    assert any(entry.startswith("after") for entry in log)


@pytest.mark.parametrize("shape", SHAPES)
async def test_cancel_scope_around_a_call(shape: Any) -> None:
    log: list[str] = []
    started, target = shape(log)

    async def cancel_when_started(scope: anyio.CancelScope) -> None:
        await started.started.wait()
        scope.cancel()

    result = "not cancelled"
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            with anyio.CancelScope() as scope:
                tg.start_soon(cancel_when_started, scope)
                result = await target.call(1)
    assert scope.cancelled_caught
    assert result == "not cancelled"
    assert any(entry.startswith("cancelled") for entry in log)
    assert current_context() is None


@pytest.mark.parametrize("shape", SHAPES)
async def test_deadline(shape: Any) -> None:
    log: list[str] = []
    _, target = shape(log)
    with anyio.fail_after(GUARD), pytest.raises(DeadlineExceeded) as info:
        await target.call(1, timeout=SHORT)
    err = info.value
    assert isinstance(err, TimeoutError) and isinstance(err, AwelError)
    assert err.code == "run.deadline"
    assert f"flow '{target.dag.dag_id}'" in str(err)
    assert any(entry.startswith("cancelled") for entry in log)
    assert any(entry.startswith("after") for entry in log)
    assert current_context() is None


async def test_deadline_not_reached_returns_the_result() -> None:
    with DAG("d"):
        a = entry()
        j = JoinOperator(lambda x, y: x + y, offload=False)
        a >> [MapOperator(lambda x: x, task_name="p"), MapOperator(lambda x: 1, task_name="q")] >> j
    assert await j.call(1, timeout=GUARD) == 2
    assert await a.downstream[0].call(5, timeout=GUARD) == 5  # type: ignore[attr-defined]


async def test_an_outer_deadline_is_the_callers_timeout() -> None:
    log: list[str] = []
    _, target = fan_out(log)
    with pytest.raises(TimeoutError) as info, anyio.fail_after(SHORT):
        await target.call(1)
    assert not isinstance(info.value, DeadlineExceeded)
    assert any(entry.startswith("finally") for entry in log)


async def test_a_node_that_swallows_nothing_of_a_deadline_is_still_stopped() -> None:
    # A fan-out where one side finishes and the other waits: the deadline stops the waiter.
    log: list[str] = []
    with DAG("d"):
        a = entry()
        j = JoinOperator(lambda x, y: x, offload=False)
        a >> [MapOperator(lambda x: x, task_name="quick"), Forever(log, task_name="slow")] >> j
    with pytest.raises(DeadlineExceeded):
        await j.call(1, timeout=SHORT)
    assert log == ["cancelled slow", "finally slow", "after slow"]


# --- streams ----------------------------------------------------------------------------


class Endless(StreamifyAbsOperator[int, int]):
    """Yields 0, 1, 2 ... and then waits forever; records its cleanup."""

    def __init__(self, log: list[str], stop: int = 10**9, **kw: Any) -> None:
        super().__init__(**kw)
        self.log = log
        self.stop = stop

    async def streamify(self, input_value: int) -> AsyncIterator[int]:
        try:
            for i in range(self.stop):
                yield i
            await anyio.sleep_forever()
        finally:
            self.log.append("stream finally")

    async def after_dag_end(self) -> None:
        self.log.append("after")


def stream_flow(log: list[str], stop: int = 10**9) -> Endless:
    with DAG("s"):
        node = Endless(log, stop, task_name="endless")
        entry() >> node
    return node


async def test_breaking_out_of_a_stream_closes_it_and_runs_after_dag_end() -> None:
    log: list[str] = []
    node = stream_flow(log)
    got: list[int] = []
    async with aclosing(node.call_stream(0)) as stream:
        async for x in stream:
            got.append(x)
            if x == 2:
                break
    assert got == [0, 1, 2]
    assert log == ["stream finally", "after"]
    assert current_context() is None


async def test_breaking_out_closes_upstream_generators_too() -> None:
    log: list[str] = []

    async def source() -> AsyncIterator[int]:
        try:
            for i in range(10**9):
                yield i
        finally:
            log.append("source finally")

    class Hooked(MapOperator[int, int]):
        async def map(self, input_value: int) -> int:
            return input_value * 2

        async def after_dag_end(self) -> None:
            log.append("after")

    with DAG("s"):
        doubled = Hooked()
        InputOperator(InputSource.from_iterable(source())) >> doubled
    async with aclosing(doubled.call_stream()) as stream:
        async for x in stream:
            if x == 4:
                break
    assert log == ["source finally", "after"]


async def test_aclose_after_partial_consumption() -> None:
    log: list[str] = []
    node = stream_flow(log)
    stream = node.call_stream(0)
    it = aiter(stream)
    assert await anext(it) == 0
    assert log == []
    await stream.aclose()
    assert log == ["stream finally", "after"]
    await stream.aclose()  # idempotent
    assert log == ["stream finally", "after"]


async def test_aclose_of_a_started_but_unread_stream_runs_the_hooks() -> None:
    log: list[str] = []
    node = stream_flow(log)
    stream = await node.call_stream(0).start()
    await stream.aclose()
    assert log == ["after"]
    assert current_context() is None


async def test_aclose_of_the_raw_iterator() -> None:
    log: list[str] = []
    node = stream_flow(log)
    it = await node.call_stream(0)
    assert await anext(it) == 0
    await it.aclose()  # type: ignore[attr-defined]
    assert log == ["stream finally", "after"]


async def test_cancelling_a_stream_consumer_cleans_up() -> None:
    log: list[str] = []
    node = stream_flow(log, stop=2)
    got: list[int] = []
    second = anyio.Event()

    async def consume() -> None:
        async for x in node.call_stream(0):
            got.append(x)
            if x == 1:
                second.set()

    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await second.wait()
            tg.cancel_scope.cancel()
    assert got == [0, 1]
    assert log == ["stream finally", "after"]


async def test_stream_deadline_while_iterating() -> None:
    log: list[str] = []
    node = stream_flow(log, stop=2)
    got: list[int] = []
    with anyio.fail_after(GUARD), pytest.raises(DeadlineExceeded) as info:
        async for x in node.call_stream(0, timeout=SHORT):
            got.append(x)
    assert got == [0, 1]
    assert info.value.code == "run.deadline"
    assert log == ["stream finally", "after"]


async def test_stream_deadline_before_the_stream_starts() -> None:
    log: list[str] = []
    with DAG("s"):
        waiter = Forever(log, task_name="waiter")
        node = Endless(log, task_name="endless")
        entry() >> waiter >> node
    with anyio.fail_after(GUARD), pytest.raises(DeadlineExceeded):
        async for _ in node.call_stream(0, timeout=SHORT):
            pass
    assert "cancelled waiter" in log
    assert "after" in log and "after waiter" in log


async def test_stream_deadline_in_the_raw_form() -> None:
    log: list[str] = []
    node = stream_flow(log, stop=1)
    it = await node.call_stream(0, timeout=SHORT)
    with anyio.fail_after(GUARD), pytest.raises(DeadlineExceeded):
        async for _ in it:
            pass
    assert log == ["stream finally", "after"]
