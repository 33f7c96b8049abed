"""DAGContext: shared data, node outputs, and isolation between calls."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from awel import (
    DAG,
    SKIP_DATA,
    BranchOperator,
    DAGContext,
    InputOperator,
    JoinOperator,
    MapOperator,
    NodeError,
    RunError,
    StreamifyAbsOperator,
    current_context,
)

GUARD = 20


def entry(name: str = "in") -> InputOperator[Any]:
    return InputOperator.from_callable(task_name=name)


def inline(fn: Any, name: str | None = None, **kw: Any) -> MapOperator[Any, Any]:
    return MapOperator(fn, offload=False, task_name=name, **kw)


class Save(MapOperator[Any, Any]):
    def __init__(self, key: str, *, overwrite: bool = False, **kw: Any) -> None:
        super().__init__(**kw)
        self.key = key
        self.overwrite = overwrite

    async def map(self, input_value: Any) -> Any:
        await self.current_dag_context.save_to_share_data(
            self.key, input_value, overwrite=self.overwrite
        )
        return input_value


class Load(MapOperator[Any, Any]):
    def __init__(self, key: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.key = key

    async def map(self, input_value: Any) -> Any:
        return await self.current_dag_context.get_from_share_data(self.key)


async def test_share_data_passes_between_nodes() -> None:
    with DAG("d"):
        load = Load("k", task_name="load")
        entry() >> Save("k", task_name="save") >> inline(lambda x: "ignored") >> load
    assert await load.call({"v": 1}) == {"v": 1}
    # A fresh call starts with empty share data.
    assert await load.call(2) == 2


async def test_missing_share_data_is_none() -> None:
    with DAG("d"):
        load = Load("never")
        entry() >> load
    assert await load.call(1) is None


async def test_saving_an_existing_key_needs_overwrite() -> None:
    with DAG("d"):
        again = Save("k", task_name="again")
        entry() >> Save("k", task_name="first") >> again
    # A RunError an operator runs into is that node's failure (runner._wraps).
    with pytest.raises(NodeError) as info:
        await again.call(1)
    assert info.value.node == "again"
    cause = info.value.__cause__
    assert isinstance(cause, RunError)
    assert cause.code == "run.share_data_exists"
    assert "'k'" in str(cause)


async def test_overwrite_replaces_the_value() -> None:
    with DAG("d"):
        load = Load("k")
        entry() >> Save("k") >> inline(lambda x: x + 1) >> Save("k", overwrite=True) >> load
    assert await load.call(1) == 2


async def test_share_data_api_directly() -> None:
    with DAG("d") as dag:
        a = entry()
    ctx = DAGContext(dag, [a], {a.label: 0})
    await ctx.save_to_share_data("k", 1)
    with pytest.raises(RunError) as info:
        await ctx.save_to_share_data("k", 2)
    assert info.value.code == "run.share_data_exists"
    assert await ctx.get_from_share_data("k") == 1
    await ctx.save_to_share_data("k", 3, overwrite=True)
    assert await ctx.get_from_share_data("k") == 3
    assert ctx.share_data == {"k": 3}


async def test_task_share_data_uses_dbgpt_key_and_returns_the_value() -> None:
    with DAG("d") as dag:
        a = entry()
    ctx = DAGContext(dag, [a], {a.label: 0})
    await ctx.save_task_share_data("llm", "model", "gpt")
    assert ctx.share_data == {"llm___$$$$$$___model": "gpt"}
    # Unlike DB-GPT 0.8.2, the getter is awaited, so it returns the value, not a coroutine.
    assert await ctx.get_task_share_data("llm", "model") == "gpt"
    with pytest.raises(RunError):
        await ctx.save_task_share_data("llm", "model", "other")
    await ctx.save_task_share_data("llm", "model", "other", overwrite=True)
    assert await ctx.get_task_share_data("llm", "model") == "other"


async def test_share_data_argument_is_the_calls_share_data() -> None:
    shared: dict[str, Any] = {"preset": "hello"}
    with DAG("d"):
        load = Load("preset")
        entry() >> Save("out", task_name="save") >> load
    assert await load.call(5, share_data=shared) == "hello"
    assert shared == {"preset": "hello", "out": 5}


async def test_get_task_output_of_an_earlier_node() -> None:
    class Peek(MapOperator[Any, Any]):
        async def map(self, input_value: Any) -> Any:
            ctx = self.current_dag_context
            return ctx.get_task_output("first"), ctx.get_task_output("second")

    with DAG("d"):
        peek = Peek()
        entry() >> inline(lambda x: x * 2, "first") >> inline(lambda x: x + 1, "second") >> peek
    assert await peek.call(5) == (10, 11)


async def test_get_task_output_of_a_node_outside_the_call() -> None:
    class Peek(MapOperator[Any, Any]):
        key = ""

        async def map(self, input_value: Any) -> Any:
            return self.current_dag_context.get_task_output(self.key)

    with DAG("d"):
        a = entry()
        peek = Peek(task_name="peek")
        a >> peek >> inline(lambda x: x, "later")
    for key, code in (("later", "run.unknown_node"), ("nowhere", "run.unknown_node")):
        peek.key = key
        with pytest.raises(NodeError) as info:
            await peek.call(1)
        cause = info.value.__cause__
        assert isinstance(cause, RunError)
        assert cause.code == code
        assert f"'{key}'" in str(cause)


async def test_get_task_output_of_a_node_not_yet_run() -> None:
    other_may_finish = anyio.Event()

    class Early(MapOperator[Any, Any]):
        async def map(self, input_value: Any) -> Any:
            try:
                self.current_dag_context.get_task_output("slow")
            except RunError as exc:
                return exc.code
            finally:
                other_may_finish.set()
            return "ran"

    async def slow(x: Any) -> Any:
        await other_may_finish.wait()
        return x

    with DAG("d"):
        a = entry()
        j = JoinOperator(lambda x, y: x, offload=False)
        a >> [Early(task_name="early"), MapOperator(slow, task_name="slow")] >> j
    with anyio.fail_after(GUARD):
        assert await j.call(1) == "run.not_ready"


async def test_outputs_and_skips_are_visible_in_the_context() -> None:
    class Spy(JoinOperator[Any]):
        async def combine(self, *inputs: Any) -> Any:
            ctx = self.current_dag_context
            return ctx.outputs, ctx.is_skipped("gone"), ctx.is_skipped("kept")

    with DAG("d"):
        a = entry(name="a")
        br = BranchOperator[Any]({(lambda x: False): "gone"}, task_name="br")
        spy = Spy()
        a >> br >> [inline(lambda x: 1, "gone"), inline(lambda x: 2, "kept")] >> spy
    outputs, gone_skipped, kept_skipped = await spy.call(0)
    assert outputs == {"a": 0, "br": 0, "gone": SKIP_DATA, "kept": 2}
    assert gone_skipped and not kept_skipped


async def test_context_describes_the_call() -> None:
    class Peek(MapOperator[Any, Any]):
        async def map(self, input_value: Any) -> Any:
            return self.current_dag_context

    with DAG("described") as dag:
        peek = Peek()
        entry() >> peek
    ctx = await peek.call(1)
    assert isinstance(ctx, DAGContext)
    assert ctx.dag is dag
    assert ctx.streaming_call is False
    assert "described" in repr(ctx)
    streamed = [x async for x in peek.call_stream(1)]
    assert streamed[0] is not ctx
    assert streamed[0].streaming_call is True
    assert streamed[0].run_id != ctx.run_id


async def test_current_dag_context_outside_a_call_raises() -> None:
    with DAG("d"):
        node = inline(lambda x: x)
    assert current_context() is None
    with pytest.raises(RunError) as info:
        _ = node.current_dag_context
    assert info.value.code == "run.no_context"


async def test_context_is_visible_to_sync_functions_in_worker_threads() -> None:
    def peek(x: Any) -> Any:
        return threading.get_ident(), current_context()

    with DAG("d"):
        node = MapOperator(peek)
        j = JoinOperator(lambda x, y: (x, y), offload=False)
        entry() >> [node, inline(lambda x: current_context(), "loop")] >> j
    (thread, in_thread), in_loop = await j.call(1)
    assert thread != threading.get_ident()
    assert in_thread is not None and in_thread is in_loop


async def test_concurrent_calls_do_not_share_context() -> None:
    calls = 8
    arrived = 0
    all_arrived = anyio.Event()

    class Remember(MapOperator[int, Any]):
        async def map(self, input_value: int) -> Any:
            nonlocal arrived
            ctx = self.current_dag_context
            await ctx.save_to_share_data("mine", input_value)
            arrived += 1
            if arrived == calls:
                all_arrived.set()
            await all_arrived.wait()  # every call has written before any reads back
            return input_value, await ctx.get_from_share_data("mine"), ctx.run_id

    with DAG("d"):
        a = entry()
        j = JoinOperator(lambda x, y: x, offload=False)
        a >> [Remember(task_name="r"), inline(lambda x: x, "other")] >> j

    results: dict[int, Any] = {}

    async def one(n: int) -> None:
        results[n] = await j.call(n)

    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            for n in range(calls):
                tg.start_soon(one, n)
    assert all(results[n][:2] == (n, n) for n in range(calls))
    assert len({r[2] for r in results.values()}) == calls


class Count(StreamifyAbsOperator[int, int]):
    async def streamify(self, input_value: int) -> AsyncIterator[int]:
        for i in range(input_value):
            yield i


async def test_stream_operators_see_the_context_while_iterated() -> None:
    class Tag(MapOperator[int, Any]):
        async def map(self, input_value: int) -> Any:
            return input_value, await self.current_dag_context.get_from_share_data("tag")

    with DAG("d"):
        tag = Tag()
        entry() >> Save("tag", task_name="save") >> Count() >> tag
    assert [x async for x in tag.call_stream(2)] == [(0, 2), (1, 2)]
    assert current_context() is None


async def test_raw_stream_of_a_sub_flow_does_not_replace_the_callers_context() -> None:
    with DAG("inner"):
        inner = Count()
        entry() >> inner

    class Outer(MapOperator[int, Any]):
        async def map(self, input_value: int) -> Any:
            mine = self.current_dag_context
            items = [x async for x in await inner.call_stream(input_value)]
            return items, self.current_dag_context is mine

    with DAG("outer"):
        outer = Outer()
        entry() >> outer
    assert await outer.call(2) == ([0, 1], True)
    assert current_context() is None
