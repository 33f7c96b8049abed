"""Running flows: what a call runs, concurrency of fan-out, errors, hooks, plan caching, scale."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from awel import (
    DAG,
    SKIP_DATA,
    BaseOperator,
    BranchJoinOperator,
    BranchOperator,
    DAGValidationError,
    InputOperator,
    InputSource,
    JoinOperator,
    MapOperator,
    NodeError,
    ReduceStreamOperator,
    StreamifyAbsOperator,
    current_context,
)
from awel.runner import plan_for

# A guard against a deadlock hanging the test until pytest's timeout; never a speed check.
GUARD = 20


def entry(name: str = "in") -> InputOperator[Any]:
    return InputOperator.from_callable(task_name=name)


def inline(fn: Any, name: str | None = None, **kw: Any) -> MapOperator[Any, Any]:
    return MapOperator(fn, offload=False, task_name=name, **kw)


async def test_async_tests_run_on_asyncio() -> None:
    # conftest.py pins the backend; the engine's fan-out uses asyncio.TaskGroup.
    assert asyncio.current_task() is not None


# --- what a call runs ---------------------------------------------------------------------


async def test_call_runs_up_to_the_called_node_only() -> None:
    ran: list[str] = []

    def step(name: str) -> Any:
        def fn(x: int) -> int:
            ran.append(name)
            return x + 1

        return fn

    with DAG("d"):
        a = entry()
        b, c, d = inline(step("b"), "b"), inline(step("c"), "c"), inline(step("d"), "d")
        a >> b >> c >> d
    assert await b.call(0) == 1
    assert ran == ["b"]
    ran.clear()
    assert await c.call(0) == 2
    assert ran == ["b", "c"]
    ran.clear()
    assert await d.call(0) == 3
    assert ran == ["b", "c", "d"]


async def test_calling_a_middle_node_of_a_fan_out_runs_its_ancestors_only() -> None:
    ran: list[str] = []

    def step(name: str) -> Any:
        def fn(*xs: Any) -> str:
            ran.append(name)
            return name

        return fn

    with DAG("d"):
        a = entry()
        left, right = inline(step("left"), "left"), inline(step("right"), "right")
        below_left = inline(step("below_left"), "below_left")
        j = JoinOperator(step("j"), offload=False, task_name="j")
        a >> [left, right] >> j
        left >> below_left
    assert await below_left.call(1) == "below_left"
    assert ran == ["left", "below_left"]


async def test_call_data_reaches_the_entry_and_flows_down() -> None:
    with DAG("d"):
        a = entry()
        j = JoinOperator(lambda x, y: (x, y), offload=False)
        a >> [inline(lambda v: v["a"], "a"), inline(lambda v: v["b"], "b")] >> j
    assert await j.call({"a": 1, "b": 2}) == (1, 2)


async def test_several_roots_with_their_own_sources() -> None:
    with DAG("d"):
        a = entry()
        fixed = InputOperator[Any](InputSource.from_data(10), task_name="fixed")
        j = JoinOperator(lambda x, y: x + y, offload=False)
        [a, fixed] >> j
    assert await j.call(5) == 15


async def test_a_node_runs_once_per_call_even_when_read_twice() -> None:
    runs = 0

    def count(x: int) -> int:
        nonlocal runs
        runs += 1
        return x

    with DAG("d"):
        a = entry()
        shared = inline(count, "shared")
        j = JoinOperator(lambda x, y: x + y, offload=False)
        a >> shared >> [inline(lambda x: x, "p"), inline(lambda x: x * 10, "q")] >> j
    assert await j.call(2) == 22
    assert runs == 1


async def test_repeated_calls_are_independent() -> None:
    with DAG("d"):
        a = entry()
        j = JoinOperator(lambda x, y: x * y, offload=False)
        a >> [inline(lambda x: x + 1, "p"), inline(lambda x: x - 1, "q")] >> j
    assert [await j.call(n) for n in range(4)] == [-1, 0, 3, 8]


async def test_call_without_data_on_an_input_with_fixed_data() -> None:
    with DAG("d"):
        i = InputOperator.dummy_input(3)
        node = inline(lambda x: x * 2)
        i >> node
    assert await node.call() == 6


async def test_a_sub_flow_may_be_called_from_an_operator() -> None:
    with DAG("inner") as inner:
        inner_in = entry()
        inner_out = inline(lambda x: x * 10)
        inner_in >> inner_out

    class CallsInner(MapOperator[int, tuple[int, Any]]):
        async def map(self, input_value: int) -> tuple[int, Any]:
            before = self.current_dag_context
            value = await inner_out.call(input_value)
            # The outer call's context is back once the inner call returned.
            assert self.current_dag_context is before
            return value, before.dag.dag_id

    with DAG("outer"):
        node = CallsInner()
        entry() >> node
    assert await node.call(4) == (40, "outer")
    assert inner.dag_id == "inner"


# --- concurrency of fan-out ------------------------------------------------------------------


async def test_fan_out_runs_concurrently() -> None:
    width = 16
    started = 0
    all_started = anyio.Event()

    async def wait_for_all(x: int) -> int:
        nonlocal started
        started += 1
        if started == width:
            all_started.set()
        # Only returns once every sibling has started: sequential running would deadlock.
        await all_started.wait()
        return x

    with DAG("fan"):
        a = entry()
        maps = [MapOperator[int, int](wait_for_all, task_name=f"m{i}") for i in range(width)]
        j = JoinOperator(lambda *xs: sum(xs), offload=False)
        a >> maps >> j
    with anyio.fail_after(GUARD):
        assert await j.call(2) == 2 * width
    assert started == width


async def test_sync_functions_of_a_fan_out_run_in_parallel_threads() -> None:
    width = 8
    barrier = threading.Barrier(width, timeout=GUARD)
    threads: set[int] = set()
    lock = threading.Lock()

    def meet(x: int) -> int:
        with lock:
            threads.add(threading.get_ident())
        barrier.wait()  # raises BrokenBarrierError unless all run at once
        return x

    with DAG("fan"):
        a = entry()
        maps = [MapOperator(meet, task_name=f"m{i}") for i in range(width)]
        j = JoinOperator(lambda *xs: len(xs), offload=False)
        a >> maps >> j
    assert await j.call(1) == width
    assert len(threads) == width
    assert threading.get_ident() not in threads


async def test_independent_roots_run_concurrently() -> None:
    first_started = anyio.Event()

    async def waits(x: Any) -> str:
        await first_started.wait()
        return "second"

    async def signals(x: Any) -> str:
        first_started.set()
        return "first"

    with DAG("d"):
        # The entry is listed first, so it is driven first, and it waits for the other root.
        a = entry()
        b = InputOperator[Any](InputSource.from_data(0), task_name="b")
        w = MapOperator[Any, Any](waits, task_name="w")
        s = MapOperator[Any, Any](signals, task_name="s")
        j = JoinOperator(lambda x, y: (x, y), offload=False)
        a >> w
        b >> s
        [w, s] >> j
    with anyio.fail_after(GUARD):
        assert await j.call(0) == ("second", "first")


async def test_twenty_stacked_diamonds() -> None:
    with DAG("diamonds"):
        prev: BaseOperator = entry()
        for i in range(20):
            left = inline(lambda x: x, f"l{i}")
            right = inline(lambda x: x, f"r{i}")
            join = JoinOperator(lambda x, y: x + y, offload=False, task_name=f"j{i}")
            prev >> [left, right] >> join
            prev = join
    assert await prev.call(1) == 2**20
    assert await prev.call(3) == 3 * 2**20


async def test_chain_of_ten_thousand_nodes() -> None:
    n = 10_000
    with DAG("long"):
        prev: BaseOperator = entry()
        for _ in range(n):
            node = inline(lambda x: x + 1)
            prev >> node
            prev = node
    assert await prev.call(0) == n
    assert [x async for x in prev.call_stream(1)] == [n + 1]


async def test_chain_of_ten_thousand_nodes_behind_a_fan_out() -> None:
    n = 10_000
    with DAG("long"):
        a = entry()
        prev: BaseOperator = inline(lambda x: x, "start")
        a >> [prev, inline(lambda x: 0, "side")]
        for _ in range(n):
            node = inline(lambda x: x + 1)
            prev >> node
            prev = node
        j = JoinOperator(lambda x, y: (x, y), offload=False)
        [prev, a.downstream[1]] >> j
    assert await j.call(0) == (n, 0)


async def test_long_skipped_paths_do_not_recurse() -> None:
    # Each diamond is its own set of chains, so skipping settles thousands of chains.
    with DAG("skips"):
        a = entry()
        br = BranchOperator[Any]({(lambda x: False): "gone", (lambda x: True): "kept"})
        gone = inline(lambda x: x, "gone")
        kept = inline(lambda x: "kept", "kept")
        a >> br >> [gone, kept]
        prev: BaseOperator = gone
        for i in range(2000):
            left, right = inline(lambda x: x, f"l{i}"), inline(lambda x: x, f"r{i}")
            join = JoinOperator(lambda x, y: x, offload=False, task_name=f"j{i}")
            prev >> [left, right] >> join
            prev = join
        out = BranchJoinOperator(lambda x, y: (x, y))
        [prev, kept] >> out
    assert await out.call(1) == (SKIP_DATA, "kept")


# --- errors ---------------------------------------------------------------------------------


async def test_node_error_names_flow_node_and_operator() -> None:
    original = KeyError("missing")

    def fail(x: Any) -> Any:
        raise original

    with DAG("flow_x"):
        a = entry()
        bad = inline(fail, "bad_node")
        a >> bad >> inline(lambda x: x, "after")
    with pytest.raises(NodeError) as info:
        await bad.downstream[0].call(1)  # type: ignore[attr-defined]
    err = info.value
    assert err.code == "run.node_failed"
    assert (err.flow, err.node, err.operator) == ("flow_x", "bad_node", "MapOperator")
    assert err.__cause__ is original
    message = str(err)
    assert "flow 'flow_x'" in message and "node 'bad_node'" in message
    assert "MapOperator" in message and "KeyError" in message


class Boom(MapOperator[Any, Any]):
    async def map(self, input_value: Any) -> Any:
        raise RuntimeError(f"boom {input_value}")


async def test_node_error_in_a_fan_out_keeps_its_cause() -> None:
    with DAG("fan"):
        a = entry()
        j = JoinOperator(lambda x, y: (x, y), offload=False)
        a >> [inline(lambda x: x, "fine"), Boom(task_name="boom")] >> j
    with pytest.raises(NodeError) as info:
        await j.call(3)
    err = info.value
    assert (err.node, err.operator) == ("boom", "Boom")
    assert isinstance(err.__cause__, RuntimeError)
    assert str(err.__cause__) == "boom 3"


async def test_node_error_of_an_unnamed_node_uses_its_label() -> None:
    with DAG("d"):
        node = Boom()
        entry() >> node
    with pytest.raises(NodeError) as info:
        await node.call(1)
    assert info.value.node == node.label
    assert info.value.node.startswith("Boom_")


async def test_failing_node_cancels_its_running_siblings() -> None:
    sibling_started = anyio.Event()
    cancelled = False
    cleaned_up = False

    async def waits_forever(x: Any) -> Any:
        nonlocal cancelled, cleaned_up
        sibling_started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled = True
            raise
        finally:
            cleaned_up = True

    async def fails(x: Any) -> Any:
        await sibling_started.wait()
        raise ValueError("failed")

    with DAG("d"):
        a = entry()
        j = JoinOperator(lambda x, y: (x, y), offload=False)
        a >> [MapOperator(fails, task_name="fails"), MapOperator(waits_forever)] >> j
    with anyio.fail_after(GUARD), pytest.raises(NodeError) as info:
        await j.call(1)
    assert info.value.node == "fails"
    assert cancelled and cleaned_up


async def test_error_of_a_sub_flow_keeps_the_inner_node_name() -> None:
    with DAG("inner"):
        inner = Boom(task_name="inner_boom")
        entry() >> inner

    async def call_inner(x: Any) -> Any:
        return await inner.call(x)

    with DAG("outer"):
        outer = MapOperator(call_inner, task_name="outer_map")
        entry() >> outer
    with pytest.raises(NodeError) as info:
        await outer.call(1)
    # The outer node is reported, the inner failure is its cause.
    assert info.value.flow == "outer" and info.value.node == "outer_map"
    cause = info.value.__cause__
    assert isinstance(cause, NodeError)
    assert (cause.flow, cause.node) == ("inner", "inner_boom")


async def test_a_failed_call_does_not_poison_the_next() -> None:
    def maybe_fail(x: int) -> int:
        if x < 0:
            raise ValueError("negative")
        return x

    with DAG("d"):
        a = entry()
        j = JoinOperator(lambda x, y: x + y, offload=False)
        a >> [inline(maybe_fail, "check"), inline(lambda x: x, "id")] >> j
    with pytest.raises(NodeError):
        await j.call(-1)
    assert await j.call(2) == 4


# --- hooks --------------------------------------------------------------------------------


class Hooked(MapOperator[Any, Any]):
    def __init__(self, log: list[str], fn: Any = None, **kw: Any) -> None:
        super().__init__(fn or (lambda x: x), offload=False, **kw)
        self.log = log

    async def before_dag_run(self) -> None:
        self.log.append(f"before {self.label}")

    async def after_dag_end(self) -> None:
        self.log.append(f"after {self.label}")


async def test_hooks_run_once_per_call_around_the_nodes() -> None:
    log: list[str] = []

    def body(x: Any) -> Any:
        log.append("body")
        return x

    with DAG("d"):
        a = entry()
        h1 = Hooked(log, body, task_name="h1")
        h2 = Hooked(log, task_name="h2")
        j = JoinOperator(lambda x, y: x, offload=False)
        a >> [h1, h2] >> j
    await j.call(1)
    assert sorted(log[:2]) == ["before h1", "before h2"]
    assert log[2] == "body"
    assert sorted(log[3:]) == ["after h1", "after h2"]
    log.clear()
    await j.call(2)
    assert len(log) == 5


async def test_hooks_of_nodes_outside_the_call_do_not_run() -> None:
    log: list[str] = []
    with DAG("d"):
        a = entry()
        first = inline(lambda x: x, "first")
        later = Hooked(log, task_name="later")
        a >> first >> later
    assert await first.call(1) == 1
    assert log == []


async def test_after_dag_end_runs_on_failure() -> None:
    log: list[str] = []
    with DAG("d"):
        a = entry()
        h = Hooked(log, task_name="h")
        a >> h >> Boom(task_name="boom")
    with pytest.raises(NodeError):
        await h.downstream[0].call(1)  # type: ignore[attr-defined]
    assert log == ["before h", "after h"]


async def test_after_dag_end_runs_on_failure_in_a_fan_out() -> None:
    log: list[str] = []
    with DAG("d"):
        a = entry()
        j = JoinOperator(lambda x, y: x, offload=False)
        a >> [Hooked(log, task_name="h"), Boom(task_name="boom")] >> j
    with pytest.raises(NodeError):
        await j.call(1)
    assert log == ["before h", "after h"]


async def test_context_is_available_to_before_dag_run() -> None:
    seen: list[Any] = []

    class Peek(MapOperator[Any, Any]):
        async def before_dag_run(self) -> None:
            seen.append(self.current_dag_context)

        async def map(self, input_value: Any) -> Any:
            return self.current_dag_context

    with DAG("d"):
        p = Peek()
        entry() >> p
    ctx = await p.call(1)
    assert seen == [ctx]


# --- compiled plans -----------------------------------------------------------------------


async def test_plan_is_reused_until_the_dag_changes() -> None:
    with DAG("d") as dag:
        a = entry()
        j = JoinOperator(lambda *xs: sum(xs), offload=False)
        a >> [inline(lambda x: x, "p"), inline(lambda x: x * 10, "q")] >> j
    assert await j.call(1) == 11
    plan = plan_for(j, 1)
    assert plan_for(j, 2) is plan
    # Adding a parent after a call recompiles the plan and the new node takes part.
    extra = inline(lambda x: x * 100, "extra", dag=dag)
    a >> extra >> j
    assert plan_for(j, 1) is not plan
    assert await j.call(1) == 111


async def test_a_node_added_after_a_call_is_validated() -> None:
    with DAG("d") as dag:
        a = entry()
        node = inline(lambda x: x + 1, "node")
        a >> node
    assert await node.call(1) == 2
    # A second entry makes the flow invalid: the next call must see it.
    InputOperator.from_callable(task_name="second", dag=dag) >> JoinOperator(
        lambda x, y: x, task_name="j", dag=dag
    )
    with pytest.raises(DAGValidationError) as info:
        await node.call(1)
    assert "dag.entry" in [p.code for p in info.value.problems]


async def test_hooks_added_by_a_new_node_are_picked_up() -> None:
    log: list[str] = []
    with DAG("d") as dag:
        a = entry()
        j = JoinOperator(lambda *xs: len(xs), offload=False)
        a >> inline(lambda x: x, "p") >> j
    assert await j.call(1) == 1
    h = Hooked(log, task_name="h", dag=dag)
    a >> h >> j
    assert await j.call(1) == 2
    assert log == ["before h", "after h"]


async def test_no_context_leaks_out_of_a_call() -> None:
    with DAG("d"):
        a = entry()
        j = JoinOperator(lambda x, y: x, offload=False)
        a >> [inline(lambda x: x, "p"), Boom(task_name="boom")] >> j
    assert current_context() is None
    with pytest.raises(NodeError):
        await j.call(1)
    assert current_context() is None
    assert await a.downstream[0].call(1) == 1  # type: ignore[attr-defined]
    assert current_context() is None


async def test_a_sub_flows_call_may_be_used_as_a_map_function() -> None:
    with DAG("inner"):
        leaf = inline(lambda x: x * 10, "times_ten")
        entry() >> leaf
    with DAG("outer"):
        node = MapOperator[Any, Any](leaf.call)
        entry() >> node
    result = await node.call(2)
    if inspect.iscoroutine(result):
        result.close()  # keep the un-awaited coroutine from warning in a later test
    assert result == 20


@pytest.mark.parametrize("fan_out", [False, True])
async def test_streams_made_before_a_failure_are_closed(fan_out: bool) -> None:
    log: list[str] = []

    class Count(StreamifyAbsOperator[int, int]):
        async def streamify(self, input_value: int) -> AsyncIterator[int]:
            try:
                for i in range(input_value):
                    yield i
            finally:
                log.append("closed")

    def add(a: int, b: int) -> int:
        if b == 2:
            raise ValueError("no twos")
        return a + b

    with DAG("d"):
        a = entry()
        r = ReduceStreamOperator[Any, Any](add, offload=False, task_name="sum")
        a >> Count() >> r
        target: BaseOperator = r
        if fan_out:
            target = JoinOperator[Any](lambda x, y: x, offload=False)
            side = inline(lambda x: x, "side")
            a >> side
            [r, side] >> target
    with pytest.raises(NodeError) as info:
        await target.call(100)
    assert info.value.node == "sum"
    assert log == ["closed"]


async def test_a_node_observer_times_every_node_and_sees_failures() -> None:
    from awel import InputOperator, MapOperator

    seen: list[tuple[str, bool]] = []
    with DAG("observed") as dag:
        start = InputOperator.from_callable(task_name="start")
        half = MapOperator[Any, Any](lambda x: 1 / x, offload=False, task_name="half")
        start >> half
    assert await half.call(2) == 0.5  # compiled without an observer first
    dag.set_node_observer(lambda node, seconds, error: seen.append((node.label, error is None)))
    assert await half.call(4) == 0.25
    # The entry passes the input on unchanged: nothing to time, nothing reported.
    assert seen == [("half", True)]
    seen.clear()
    with pytest.raises(NodeError):
        await half.call(0)
    assert seen == [("half", False)]
    dag.set_node_observer(None)
    await half.call(1)
    assert len(seen) == 1


async def test_an_observer_with_timing_lists_gets_successes_appended_and_failures_called() -> None:
    from awel import InputOperator, MapOperator

    class Observer:
        def __init__(self) -> None:
            self.lists: dict[str, list[float]] = {}
            self.called: list[tuple[str, bool]] = []

        def timings(self, node: Any) -> list[float] | None:
            # A list for "half"; None for "plus", which is then called as usual.
            return self.lists.setdefault(node.label, []) if node.label == "half" else None

        def __call__(self, node: Any, seconds: float, error: BaseException | None) -> None:
            self.called.append((node.label, error is None))

    observer = Observer()
    with DAG("timed_lists") as dag:
        start = InputOperator.from_callable(task_name="start")
        half = MapOperator[Any, Any](lambda x: 1 / x, offload=False, task_name="half")
        plus = MapOperator[Any, Any](lambda x: x + 1, offload=False, task_name="plus")
        start >> half >> plus
    dag.set_node_observer(observer)
    assert await plus.call(2) == 1.5
    assert await plus.call(4, timeout=5) == 1.25  # the timed path runs the same loop
    assert len(observer.lists["half"]) == 2 and all(t >= 0 for t in observer.lists["half"])
    assert observer.called == [("plus", True), ("plus", True)]
    observer.called.clear()
    with pytest.raises(NodeError):
        await plus.call(0)
    # A failure is always told through the call, never appended.
    assert observer.called == [("half", False)]
    assert len(observer.lists["half"]) == 2


async def test_a_node_observer_sees_the_nodes_of_a_fan_out() -> None:
    from awel import InputOperator, JoinOperator, MapOperator

    seen: list[str] = []
    with DAG("observed_fan") as dag:
        start = InputOperator.from_callable(task_name="start")
        a = MapOperator[Any, Any](lambda x: x + 1, offload=False, task_name="a")
        b = MapOperator[Any, Any](lambda x: x * 2, offload=False, task_name="b")
        total = JoinOperator[Any](lambda x, y: x + y, offload=False, task_name="total")
        start >> [a, b] >> total
    dag.set_node_observer(lambda node, seconds, error: seen.append(node.label))
    assert await total.call(3) == 10
    assert sorted(seen) == ["a", "b", "total"]
