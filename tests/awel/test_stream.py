"""Streaming calls: both iteration forms, laziness, teeing, hooks and error attribution."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import pytest

from awel import (
    DAG,
    SKIP_DATA,
    BaseOperator,
    BranchJoinOperator,
    BranchOperator,
    InputOperator,
    InputSource,
    JoinOperator,
    MapOperator,
    NodeError,
    ReduceStreamOperator,
    RunError,
    StreamCall,
    StreamifyAbsOperator,
    TransformStreamAbsOperator,
    UnstreamifyAbsOperator,
    current_context,
)
from awel.stream import tee


def entry(name: str = "in") -> InputOperator[Any]:
    return InputOperator.from_callable(task_name=name)


def inline(fn: Any, name: str | None = None, **kw: Any) -> MapOperator[Any, Any]:
    return MapOperator(fn, offload=False, task_name=name, **kw)


class Count(StreamifyAbsOperator[int, int]):
    def __init__(self, log: list[str] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.log = log if log is not None else []

    async def streamify(self, input_value: int) -> AsyncIterator[int]:
        self.log.append("started")
        for i in range(input_value):
            self.log.append(f"yield {i}")
            yield i


class Hooks(Count):
    async def before_dag_run(self) -> None:
        self.log.append("before")

    async def after_dag_end(self) -> None:
        self.log.append("after")


class FailAt(TransformStreamAbsOperator[int, int]):
    async def transform_stream(self, input_stream: AsyncIterator[int]) -> AsyncIterator[int]:
        async for x in input_stream:
            if x == 2:
                raise ValueError(f"bad item {x}")
            yield x


class Collect(UnstreamifyAbsOperator[Any, list[Any]]):
    async def unstreamify(self, input_stream: AsyncIterator[Any]) -> list[Any]:
        return [x async for x in input_stream]


# --- the two iteration forms ----------------------------------------------------------------


@pytest.mark.parametrize("hooked", [False, True])
async def test_both_iteration_forms_give_every_item(hooked: bool) -> None:
    log: list[str] = []
    with DAG("d"):
        node = (Hooks if hooked else Count)(log)
        entry() >> node
    call = node.call_stream(3)
    assert isinstance(call, StreamCall)
    assert [x async for x in call] == [0, 1, 2]
    assert current_context() is None
    assert [x async for x in await node.call_stream(3)] == [0, 1, 2]
    if hooked:
        assert log.count("before") == 2 and log.count("after") == 2


async def test_stream_of_a_value_node_yields_it_once() -> None:
    with DAG("d"):
        node = inline(lambda x: x * 2)
        entry() >> node
    assert [x async for x in node.call_stream(21)] == [42]
    assert [x async for x in await node.call_stream(21)] == [42]


async def test_call_on_a_stream_node_returns_its_iterator() -> None:
    with DAG("d"):
        node = Count()
        entry() >> node
    it = await node.call(3)
    assert [x async for x in it] == [0, 1, 2]


async def test_start_runs_the_flow_before_iteration() -> None:
    ran: list[int] = []

    def record(x: int) -> int:
        ran.append(x)
        return x

    with DAG("d"):
        node = Count()
        entry() >> inline(record) >> node
    call = node.call_stream(2)
    assert call.context is None
    started = await call.start()
    assert started is call
    assert ran == [2]
    assert call.context is not None and call.context.streaming_call
    assert [x async for x in call] == [0, 1]


# --- laziness -----------------------------------------------------------------------------


async def test_upstream_stream_code_runs_only_when_iterated() -> None:
    log: list[str] = []
    with DAG("d"):
        source = Count(log)
        node = inline(lambda x: x * 10)
        entry() >> source >> node
    it = await node.call_stream(3)
    assert log == []
    assert await it.__anext__() == 0
    assert log == ["started", "yield 0"]
    assert [x async for x in it] == [10, 20]


async def test_transform_pulls_item_by_item() -> None:
    pulled: list[int] = []

    async def source() -> AsyncIterator[int]:
        for i in range(100):
            pulled.append(i)
            yield i

    class Take2(TransformStreamAbsOperator[int, int]):
        async def transform_stream(self, input_stream: AsyncIterator[int]) -> AsyncIterator[int]:
            async for x in input_stream:
                yield x
                if x == 1:
                    return

    with DAG("d"):
        node = Take2()
        InputOperator(InputSource.from_iterable(source())) >> node
    assert [x async for x in node.call_stream()] == [0, 1]
    assert pulled == [0, 1]


# --- hooks ----------------------------------------------------------------------------------


async def test_after_dag_end_waits_for_the_stream_to_be_consumed() -> None:
    log: list[str] = []
    with DAG("d"):
        node = Hooks(log)
        entry() >> node
    call = node.call_stream(2)
    it = aiter(call)
    assert await anext(it) == 0
    assert "before" in log and "after" not in log
    assert await anext(it) == 1
    assert "after" not in log
    with pytest.raises(StopAsyncIteration):
        await anext(it)
    assert log[-1] == "after"
    assert log.count("after") == 1


async def test_raw_form_with_hooks_runs_after_dag_end_once_consumed() -> None:
    log: list[str] = []
    with DAG("d"):
        node = inline(lambda x: x)
        entry() >> Hooks(log, task_name="h") >> node
    it = await node.call_stream(2)
    assert log == ["before"]
    assert [x async for x in it] == [0, 1]
    assert log[-1] == "after"


async def test_after_dag_end_runs_when_the_stream_fails() -> None:
    log: list[str] = []
    with DAG("d"):
        node = FailAt()
        entry() >> Hooks(log, task_name="h") >> node
    with pytest.raises(NodeError):
        async for _ in node.call_stream(5):
            pass
    assert log.count("after") == 1
    assert current_context() is None


# --- teeing ----------------------------------------------------------------------------------


async def test_a_stream_read_by_two_nodes_is_teed() -> None:
    pulled: list[int] = []

    async def source() -> AsyncIterator[int]:
        for i in range(1, 6):
            pulled.append(i)
            yield i

    with DAG("d"):
        i = InputOperator[Any](InputSource.from_iterable(source()))
        total = ReduceStreamOperator[Any, Any](lambda a, b: a + b, offload=False, task_name="total")
        count = ReduceStreamOperator[Any, Any](lambda a, b: a + 1, initial=0, offload=False)
        j = JoinOperator(lambda t, c: (t, c), offload=False)
        i >> [total, count] >> j
    assert await j.call() == (15, 5)
    assert pulled == [1, 2, 3, 4, 5]  # pulled once, seen by both


async def test_teed_consumers_may_drift_apart() -> None:
    async def drain_one_then_other(
        xs: AsyncIterator[int], ys: AsyncIterator[int]
    ) -> tuple[list[int], list[int]]:
        first = [x async for x in xs]
        second = [y async for y in ys]
        return first, second

    with DAG("d"):
        source = Count()
        doubled = inline(lambda x: x * 2, "doubled")
        negated = inline(lambda x: -x, "negated")
        j = JoinOperator[Any](drain_one_then_other)
        entry() >> source >> [doubled, negated] >> j
    assert await j.call(4) == ([0, 2, 4, 6], [0, -1, -2, -3])


async def test_a_teed_stream_is_closed_when_every_consumer_stops() -> None:
    closed: list[str] = []

    async def source() -> AsyncIterator[int]:
        try:
            for i in range(1000):
                yield i
        finally:
            closed.append("source")

    class First(UnstreamifyAbsOperator[int, int]):
        async def unstreamify(self, input_stream: AsyncIterator[int]) -> int:
            async with aclosing(input_stream):  # type: ignore[type-var]
                return await anext(input_stream)

    with DAG("d"):
        i = InputOperator[Any](InputSource.from_iterable(source()))
        j = JoinOperator(lambda a, b: (a, b), offload=False)
        i >> [First(task_name="f1"), First(task_name="f2")] >> j
    assert await j.call() == (0, 0)
    assert closed == ["source"]


async def test_an_error_in_a_teed_stream_reaches_the_caller() -> None:
    async def source() -> AsyncIterator[int]:
        yield 1
        raise OSError("source broke")

    with DAG("d"):
        i = InputOperator[Any](InputSource.from_iterable(source()))
        j = JoinOperator(lambda a, b: (a, b), offload=False)
        i >> [Collect(task_name="c1"), Collect(task_name="c2")] >> j
    with pytest.raises(NodeError) as info:
        await j.call()
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.node in {"c1", "c2"}


async def test_tee_helper_directly() -> None:
    async def source() -> AsyncIterator[int]:
        for i in range(3):
            yield i

    a, b = tee(source(), 2)
    assert [x async for x in a] == [0, 1, 2]
    assert [x async for x in b] == [0, 1, 2]


async def test_a_skipped_teed_stream_reaches_a_stubborn_consumer_as_skip_data_plain() -> None:
    # Without a tee (one consumer), a node that cannot be skipped receives SKIP_DATA.
    seen: list[Any] = []

    async def record(*streams: Any) -> list[Any]:
        seen.extend(streams)
        return [x for s in streams if s is not SKIP_DATA async for x in s]

    with DAG("d"):
        br = BranchOperator[Any]({(lambda x: False): "gone"})
        gone, kept = Count(task_name="gone"), Count(task_name="kept")
        j = BranchJoinOperator[Any](record)
        entry() >> br >> [gone, kept] >> j
    assert await j.call(2) == [0, 1]
    assert seen[0] is SKIP_DATA


async def test_a_skipped_teed_stream_reaches_a_stubborn_consumer_as_skip_data() -> None:
    seen: list[Any] = []

    async def record(*streams: Any) -> list[Any]:
        seen.extend(streams)
        return [x for s in streams if s is not SKIP_DATA async for x in s]

    with DAG("d"):
        br = BranchOperator[Any]({(lambda x: False): "gone"})
        gone, kept = Count(task_name="gone"), Count(task_name="kept")
        j = BranchJoinOperator[Any](record, task_name="j")
        also = ReduceStreamOperator[Any, Any](lambda a, b: a + b, task_name="also")
        out = JoinOperator[Any](lambda x, y: (x, y), offload=False)
        entry() >> br >> [gone, kept] >> j
        gone >> also  # a second consumer: `gone` would be teed
        [j, also] >> out
    assert await out.call(2) == ([0, 1], SKIP_DATA)
    assert seen[0] is SKIP_DATA


async def test_stream_of_a_skipped_target_raises() -> None:
    log: list[str] = []
    with DAG("d"):
        br = BranchOperator[Any]({(lambda x: False): "gone"})
        gone = Hooks(log, task_name="gone")
        entry() >> br >> [gone, inline(lambda x: x, "kept")]
    with pytest.raises(RunError) as info:
        async for _ in gone.call_stream(2):
            pass
    assert info.value.code == "run.output_skipped"
    assert log == ["before", "after"]
    assert current_context() is None


# --- errors while iterating --------------------------------------------------------------------


async def test_error_in_a_transform_names_the_transform() -> None:
    with DAG("flow") as dag:
        node = FailAt(task_name="fail_at")
        entry() >> Count() >> node
    got: list[int] = []
    with pytest.raises(NodeError) as info:
        async for x in node.call_stream(5):
            got.append(x)
    assert got == [0, 1]
    err = info.value
    assert (err.flow, err.node, err.operator) == (dag.dag_id, "fail_at", "FailAt")
    assert isinstance(err.__cause__, ValueError)
    assert str(err.__cause__) == "bad item 2"


async def test_error_in_a_streamify_names_the_streamify() -> None:
    class Broken(StreamifyAbsOperator[int, int]):
        async def streamify(self, input_value: int) -> AsyncIterator[int]:
            yield 1
            raise KeyError("gone")

    with DAG("d"):
        node = Broken(task_name="broken")
        entry() >> node
    with pytest.raises(NodeError) as info:
        async for _ in node.call_stream(1):
            pass
    assert info.value.node == "broken"
    assert isinstance(info.value.__cause__, KeyError)


async def test_error_in_a_map_over_a_stream_names_the_map() -> None:
    def explode(x: int) -> int:
        if x == 1:
            raise ZeroDivisionError("one")
        return x

    with DAG("d"):
        node = inline(explode, "explode")
        entry() >> Count() >> node
    with pytest.raises(NodeError) as info:
        async for _ in node.call_stream(3):
            pass
    assert info.value.node == "explode"
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    # The raw form reports it the same way: the map's wrapper names it.
    with pytest.raises(NodeError) as raw:
        async for _ in await node.call_stream(3):
            pass
    assert raw.value.node == "explode"


async def test_error_in_a_streaming_join_names_the_join() -> None:
    async def bad(xs: AsyncIterator[int]) -> AsyncIterator[int]:
        async for x in xs:
            yield x
        raise RuntimeError("join broke")

    with DAG("d"):
        j = JoinOperator(bad, task_name="joiner")
        entry() >> Count() >> j
    with pytest.raises(NodeError) as info:
        async for _ in j.call_stream(2):
            pass
    assert info.value.node == "joiner"


async def test_error_in_a_transform_read_by_a_map_names_the_transform() -> None:
    with DAG("d"):
        node = inline(lambda x: x, "after")
        entry() >> Count() >> FailAt(task_name="fail_at") >> node
    with pytest.raises(NodeError) as info:
        async for _ in node.call_stream(5):
            pass
    assert info.value.node == "fail_at"


async def test_error_in_a_streamify_read_by_a_reduce_names_the_streamify() -> None:
    class Broken(StreamifyAbsOperator[int, int]):
        async def streamify(self, input_value: int) -> AsyncIterator[int]:
            yield 1
            raise KeyError("gone")

    with DAG("d"):
        r = ReduceStreamOperator[Any, Any](lambda a, b: a + b, task_name="sum")
        entry() >> Broken(task_name="broken") >> r
    with pytest.raises(NodeError) as info:
        await r.call(1)
    assert info.value.node == "broken"


# --- scale ------------------------------------------------------------------------------


@pytest.mark.xfail(
    strict=True,
    raises=(RecursionError, NodeError),
    reason="engine limitation: each map over a stream nests one more async generator"
    " (operators._map_items), so a long chain of stream maps overflows the stack;"
    " consecutive stream maps in a chain could be fused into one generator",
)
async def test_long_chain_of_maps_over_a_stream() -> None:
    n = 3000
    with DAG("long"):
        prev: BaseOperator = InputOperator(InputSource.from_iterable([0, 1]))
        for _ in range(n):
            node = inline(lambda x: x + 1)
            prev >> node
            prev = node
    assert [x async for x in prev.call_stream()] == [n, n + 1]


async def test_chain_of_hundreds_of_maps_over_a_stream() -> None:
    n = 200
    with DAG("long"):
        prev: BaseOperator = InputOperator(InputSource.from_iterable([0, 1]))
        for _ in range(n):
            node = inline(lambda x: x + 1)
            prev >> node
            prev = node
    assert [x async for x in prev.call_stream()] == [n, n + 1]
