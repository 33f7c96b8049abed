"""Every operator kind: how it is defined, what it takes and gives, and its compile rules."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from awel import (
    DAG,
    EMPTY,
    SKIP_DATA,
    BranchJoinOperator,
    BranchOperator,
    DAGValidationError,
    InputOperator,
    InputSource,
    JoinOperator,
    MapOperator,
    NodeError,
    OperatorType,
    ReduceStreamOperator,
    RunError,
    StreamifyAbsOperator,
    TransformStreamAbsOperator,
    TriggerOperator,
    UnstreamifyAbsOperator,
)

# --- small operators used throughout -----------------------------------------------------


class Count(StreamifyAbsOperator[int, int]):
    """Streams 0 .. n-1."""

    async def streamify(self, input_value: int) -> AsyncIterator[int]:
        for i in range(input_value):
            yield i


class Collect(UnstreamifyAbsOperator[Any, list[Any]]):
    async def unstreamify(self, input_stream: AsyncIterator[Any]) -> list[Any]:
        return [x async for x in input_stream]


class Double(TransformStreamAbsOperator[int, int]):
    async def transform_stream(self, input_stream: AsyncIterator[int]) -> AsyncIterator[int]:
        async for x in input_stream:
            yield x * 2


class Inc(MapOperator[int, int]):
    async def map(self, input_value: int) -> int:
        return input_value + 1


class Trigger(TriggerOperator[Any]):
    pass


def entry(name: str = "in") -> InputOperator[Any]:
    return InputOperator.from_callable(task_name=name)


def inline(fn: Any, name: str | None = None, **kw: Any) -> MapOperator[Any, Any]:
    return MapOperator(fn, offload=False, task_name=name, **kw)


async def kind_error(node: Any, data: Any = 1) -> DAGValidationError:
    with pytest.raises(DAGValidationError) as info:
        await node.call(data)
    err = info.value
    assert [p.code for p in err.problems] == ["dag.kind"]
    assert err.code == "dag.kind"
    return err


# --- MapOperator --------------------------------------------------------------------------


async def test_map_by_subclass() -> None:
    with DAG("d"):
        inc = Inc(task_name="inc")
        entry() >> inc
    assert await inc.call(41) == 42
    assert inc.operator_type is OperatorType.MAP


async def test_map_by_async_function() -> None:
    async def triple(x: int) -> int:
        return x * 3

    with DAG("d"):
        node = MapOperator[Any, Any](triple)
        entry() >> node
    assert await node.call(5) == 15


async def test_map_by_async_callable_object_and_partial() -> None:
    import functools

    class AddOne:
        async def __call__(self, x: int) -> int:
            return x + 1

    async def add(x: int, y: int) -> int:
        return x + y

    loop_thread = threading.get_ident()

    async def where(x: int) -> int:
        return threading.get_ident()

    with DAG("d"):
        j = JoinOperator[Any](lambda *xs: xs, offload=False)
        (
            entry()
            >> [
                MapOperator[Any, Any](AddOne(), task_name="obj"),
                MapOperator[Any, Any](functools.partial(add, 10), task_name="partial"),
                MapOperator[Any, Any](where, task_name="where"),
            ]
            >> j
        )
    # Recognised as async: awaited on the loop, never sent to a thread.
    assert await j.call(1) == (2, 11, loop_thread)


async def test_map_by_function_keyword() -> None:
    with DAG("d"):
        node = MapOperator[Any, Any](map_function=lambda x: -x, offload=False)
        entry() >> node
    assert await node.call(5) == -5


async def test_sync_map_function_runs_off_the_event_loop() -> None:
    seen: list[int] = []

    def where(x: int) -> int:
        seen.append(threading.get_ident())
        return x

    with DAG("d"):
        node = MapOperator(where)
        entry() >> node
    assert await node.call(7) == 7
    assert seen and seen[0] != threading.get_ident()


async def test_sync_map_method_runs_off_the_event_loop() -> None:
    seen: list[int] = []

    class SyncMap(MapOperator[int, int]):
        def map(self, input_value: int) -> int:  # type: ignore[override]
            seen.append(threading.get_ident())
            return input_value + 1

    with DAG("d"):
        node = SyncMap()
        entry() >> node
    assert await node.call(1) == 2
    assert seen[0] != threading.get_ident()


async def test_offload_false_runs_inline_on_the_loop_thread() -> None:
    seen: list[int] = []

    def where(x: int) -> int:
        seen.append(threading.get_ident())
        return x

    with DAG("d"):
        node = MapOperator(where, offload=False)
        entry() >> node
    assert await node.call(7) == 7
    assert seen == [threading.get_ident()]


async def test_blocking_func_to_async_uses_a_worker_thread() -> None:
    class Blocking(MapOperator[int, tuple[int, int]]):
        async def map(self, input_value: int) -> tuple[int, int]:
            return await self.blocking_func_to_async(
                lambda v: (v * 2, threading.get_ident()), input_value
            )

    with DAG("d"):
        node = Blocking()
        entry() >> node
    value, thread = await node.call(4)
    assert value == 8
    assert thread != threading.get_ident()


async def test_a_root_map_takes_the_call_data() -> None:
    with DAG("d"):
        node = inline(lambda x: x * 2)
    assert await node.call(21) == 42


async def test_map_without_a_function_is_rejected_at_compile() -> None:
    with DAG("d"):
        node = MapOperator[Any, Any](task_name="empty")
        entry() >> node
    err = await kind_error(node)
    assert "'empty'" in str(err)
    assert "map_function" in str(err)


async def test_map_with_two_parents_is_rejected_at_compile() -> None:
    with DAG("d"):
        a = entry()
        b, c = inline(lambda x: x, "b"), inline(lambda x: x, "c")
        node = inline(lambda x: x, "two_parents")
        a >> [b, c] >> node
    err = await kind_error(node)
    assert "'two_parents'" in str(err)
    assert "2 nodes feed it" in str(err)


async def test_map_over_a_stream_is_applied_per_item_lazily() -> None:
    calls: list[int] = []

    def square(x: int) -> int:
        calls.append(x)
        return x * x

    with DAG("d"):
        node = inline(square)
        entry() >> Count() >> node
    it = await node.call_stream(3)
    assert calls == []  # nothing pulled yet
    assert await it.__anext__() == 0
    assert calls == [0]
    assert [x async for x in it] == [1, 4]
    assert calls == [0, 1, 2]


# --- JoinOperator -------------------------------------------------------------------------


async def test_join_combines_in_upstream_order() -> None:
    with DAG("d"):
        a = entry()
        first = inline(lambda x: ("first", x), "first")
        second = inline(lambda x: ("second", x), "second")
        third = inline(lambda x: ("third", x), "third")
        join = JoinOperator(lambda *xs: list(xs), offload=False)
        a >> [second, third, first]
        # Upstream order is the order links were made, not the order nodes were built.
        third >> join
        first >> join
        second >> join
    assert await join.call(1) == [("third", 1), ("first", 1), ("second", 1)]
    assert join.operator_type is OperatorType.JOIN


async def test_join_with_async_and_threaded_combine() -> None:
    seen: list[int] = []

    async def add(x: int, y: int) -> int:
        return x + y

    def mul(x: int, y: int) -> int:
        seen.append(threading.get_ident())
        return x * y

    with DAG("d"):
        a = entry()
        b, c = inline(lambda x: x + 1, "b"), inline(lambda x: x + 2, "c")
        j1 = JoinOperator[Any](add, task_name="j1")
        j2 = JoinOperator(mul, task_name="j2")
        a >> [b, c]
        [b, c] >> j1
        [b, c] >> j2
    assert await j1.call(1) == 5
    assert await j2.call(1) == 6
    assert seen and seen[0] != threading.get_ident()


async def test_join_by_subclass() -> None:
    class Pair(JoinOperator[tuple[int, int]]):
        async def combine(self, *inputs: Any) -> tuple[int, int]:
            x, y = inputs
            return (x, y)

    with DAG("d"):
        a = entry()
        j = Pair()
        a >> [inline(lambda x: x, "b"), inline(lambda x: -x, "c")] >> j
    assert await j.call(3) == (3, -3)


async def test_join_of_one_input() -> None:
    with DAG("d"):
        j = JoinOperator(lambda x: [x], offload=False)
        entry() >> j
    assert await j.call(3) == [3]


async def test_join_with_an_async_generator_combine_streams() -> None:
    async def interleave(xs: AsyncIterator[int], ys: AsyncIterator[int]) -> AsyncIterator[int]:
        async for x in xs:
            yield x
            yield await ys.__anext__()

    with DAG("d"):
        a = entry()
        j = JoinOperator(interleave)
        a >> [Count(task_name="c1"), Count(task_name="c2")] >> j
    assert [x async for x in j.call_stream(3)] == [0, 0, 1, 1, 2, 2]


async def test_join_mixing_stream_and_value_inputs_is_rejected() -> None:
    with DAG("d"):
        a = entry()
        j = JoinOperator(lambda x, y: x, offload=False, task_name="mixed")
        a >> [Count(), inline(lambda x: x)] >> j
    err = await kind_error(j, 3)
    assert "'mixed'" in str(err)


async def test_join_without_combine_is_rejected() -> None:
    with DAG("d"):
        j = JoinOperator[Any](task_name="nothing")
        entry() >> j
    assert "'nothing'" in str(await kind_error(j))


# --- BranchOperator and skips -----------------------------------------------------------


def parity_dag() -> tuple[DAG, BranchOperator[int], JoinOperator[Any]]:
    with DAG("parity") as dag:
        a = entry()
        br = BranchOperator[Any](
            {(lambda x: x % 2 == 0): "even", (lambda x: x % 2 == 1): "odd"}, task_name="br"
        )
        even = inline(lambda x: f"even {x}", "even")
        odd = inline(lambda x: f"odd {x}", "odd")
        out = BranchJoinOperator[Any](task_name="out")
        a >> br >> [even, odd] >> out
    return dag, br, out


async def test_branch_join_takes_the_side_that_ran() -> None:
    _, br, out = parity_dag()
    assert await out.call(4) == "even 4"
    assert await out.call(7) == "odd 7"
    assert br.operator_type is OperatorType.BRANCH
    assert out.can_skip_in_branch is False


async def test_either_join_passes_on_a_stream_or_a_value_whichever_side_ran() -> None:
    from awel.operators import EitherJoin

    with DAG("either") as dag:
        a = entry()
        br = BranchOperator[Any](
            {(lambda n: n > 0): "streamed", (lambda n: n <= 0): "valued"}, task_name="br"
        )
        streamed = Count(task_name="streamed")
        valued = inline(lambda n: f"value {n}", "valued")
        out = EitherJoin(task_name="out")
        a >> br >> [streamed, valued] >> out
    assert dag.problems() == []
    assert [x async for x in out.call_stream(3)] == [0, 1, 2]
    assert await out.call(0) == "value 0"
    assert out.can_skip_in_branch is False


async def test_branch_passes_its_input_through() -> None:
    _, br, _ = parity_dag()
    assert await br.call(5) == 5


async def test_skipped_nodes_get_skip_data_and_the_join_receives_it() -> None:
    seen: list[tuple[Any, ...]] = []

    def record(*xs: Any) -> str:
        seen.append(xs)
        return "ran"

    with DAG("d"):
        a = entry()
        br = BranchOperator[Any]({(lambda x: x > 0): "pos", (lambda x: x <= 0): "neg"})
        pos = inline(lambda x: "pos", "pos")
        neg = inline(lambda x: "neg", "neg")
        pos_below = inline(lambda x: x + "!", "pos_below")
        j = JoinOperator(record, offload=False)
        a >> br >> [pos, neg]
        pos >> pos_below
        [pos_below, neg] >> j
    assert await j.call(1) == "ran"
    assert await j.call(-1) == "ran"
    # The skip of `pos` spread to `pos_below`, whose only input it was.
    assert seen == [("pos!", SKIP_DATA), (SKIP_DATA, "neg")]
    assert not SKIP_DATA


async def test_skip_spreads_only_to_nodes_whose_inputs_were_all_skipped() -> None:
    ran: list[str] = []

    def mark(name: str) -> Any:
        def fn(*xs: Any) -> Any:
            ran.append(name)
            return name

        return fn

    with DAG("d"):
        a = entry()
        br = BranchOperator[Any]({(lambda x: False): "gone"}, task_name="br")
        gone = inline(mark("gone"), "gone")
        kept = inline(mark("kept"), "kept")
        below_gone = inline(mark("below_gone"), "below_gone")
        both = JoinOperator(mark("both"), offload=False, task_name="both")
        out = JoinOperator(lambda *xs: xs, offload=False, task_name="out")
        a >> br >> [gone, kept]
        gone >> below_gone
        [gone, kept] >> both
        [below_gone, both] >> out
    assert await out.call(0) == (SKIP_DATA, "both")
    assert sorted(ran) == ["both", "kept"]


async def test_a_node_that_cannot_be_skipped_still_runs() -> None:
    with DAG("d"):
        a = entry()
        br = BranchOperator[Any]({(lambda x: False): "gone"}, task_name="br")
        gone = inline(lambda x: "gone", "gone")
        stubborn = inline(lambda x: ("stubborn saw", x), "stubborn", can_skip_in_branch=False)
        a >> br >> gone >> stubborn
    assert await stubborn.call(0) == ("stubborn saw", SKIP_DATA)


async def test_skipped_output_node_raises() -> None:
    with DAG("d"):
        a = entry()
        br = BranchOperator[Any]({(lambda x: False): "gone"}, task_name="br")
        gone = inline(lambda x: x, "gone")
        a >> br >> [gone, inline(lambda x: x, "other")]
    with pytest.raises(RunError) as info:
        await gone.call(1)
    assert info.value.code == "run.output_skipped"
    assert "'gone'" in str(info.value)


async def test_branch_targets_may_be_nodes_and_predicates_async() -> None:
    async def is_big(x: int) -> bool:
        return x > 10

    with DAG("d"):
        a = entry()
        big = inline(lambda x: "big", "big")
        small = inline(lambda x: "small", "small")
        br = BranchOperator[Any]({is_big: big, (lambda x: x <= 10): small})
        out = BranchJoinOperator[Any]()
        a >> br >> [big, small] >> out
    assert await out.call(11) == "big"
    assert await out.call(1) == "small"


async def test_branches_may_be_computed_by_overriding_branches() -> None:
    class Router(BranchOperator[str]):
        async def branches(self) -> dict[Any, Any]:
            return {(lambda s: s == "a"): "to_a", (lambda s: s == "b"): "to_b"}

    with DAG("d"):
        a = entry()
        router = Router()
        out = BranchJoinOperator[Any]()
        a >> router >> [inline(lambda s: "A", "to_a"), inline(lambda s: "B", "to_b")] >> out
    assert await out.call("a") == "A"
    assert await out.call("b") == "B"


async def test_children_not_named_by_the_branch_always_run() -> None:
    with DAG("d"):
        a = entry()
        br = BranchOperator[Any]({(lambda x: False): "gone"})
        out = JoinOperator(lambda *xs: xs, offload=False)
        a >> br >> [inline(lambda x: "gone", "gone"), inline(lambda x: "free", "free")] >> out
    assert await out.call(1) == (SKIP_DATA, "free")


async def test_branch_join_with_a_custom_combine_sees_skip_data() -> None:
    with DAG("d"):
        a = entry()
        br = BranchOperator[Any]({(lambda x: x): "yes", (lambda x: not x): "no"})
        out = BranchJoinOperator(lambda y, n: (y, n))
        a >> br >> [inline(lambda x: "yes", "yes"), inline(lambda x: "no", "no")] >> out
    assert await out.call(True) == ("yes", SKIP_DATA)
    assert await out.call(False) == (SKIP_DATA, "no")


async def test_branch_on_a_stream_is_rejected() -> None:
    with DAG("d"):
        br = BranchOperator[Any]({(lambda x: True): "x"}, task_name="br")
        entry() >> Count() >> br >> inline(lambda x: x, "x")
    assert "'br'" in str(await kind_error(br))


async def test_failing_predicate_is_reported_as_the_branch_node() -> None:
    def bad(x: int) -> bool:
        raise LookupError("no route")

    with DAG("flow") as dag:
        a = entry()
        br = BranchOperator[Any]({bad: "x"}, task_name="router")
        out = BranchJoinOperator[Any]()
        a >> br >> inline(lambda x: x, "x") >> out
    with pytest.raises(NodeError) as info:
        await out.call(1)
    assert info.value.node == "router"
    assert info.value.flow == dag.dag_id
    assert isinstance(info.value.__cause__, LookupError)


# --- ReduceStreamOperator -----------------------------------------------------------------


async def test_reduce_without_initial_folds_from_the_first_item() -> None:
    pairs: list[tuple[int, int]] = []

    def add(a: int, b: int) -> int:
        pairs.append((a, b))
        return a + b

    with DAG("d"):
        r = ReduceStreamOperator[Any, Any](add, offload=False)
        entry() >> Count() >> r
    assert await r.call(4) == 6
    assert pairs == [(0, 1), (1, 2), (3, 3)]
    assert r.operator_type is OperatorType.REDUCE


async def test_reduce_with_initial() -> None:
    with DAG("d"):
        r = ReduceStreamOperator[Any, Any](lambda acc, x: [*acc, x], initial=[], offload=False)
        entry() >> Count() >> r
    assert await r.call(3) == [0, 1, 2]
    assert await r.call(0) == []


async def test_reduce_of_an_empty_stream_without_initial_fails() -> None:
    with DAG("d"):
        r = ReduceStreamOperator[Any, Any](lambda a, b: a + b, task_name="sum")
        entry() >> Count() >> r
    with pytest.raises(NodeError) as info:
        await r.call(0)
    assert info.value.node == "sum"
    assert isinstance(info.value.__cause__, ValueError)
    assert "empty stream" in str(info.value)


async def test_reduce_by_subclass_runs_async_reduce() -> None:
    class Max(ReduceStreamOperator[int, int]):
        async def reduce(self, a: Any, b: Any) -> Any:
            return max(a, b)

    with DAG("d"):
        r = Max()
        InputOperator(InputSource.from_iterable([3, 9, 2])) >> r
    assert await r.call() == 9


async def test_reduce_of_a_value_is_rejected() -> None:
    with DAG("d"):
        r = ReduceStreamOperator[Any, Any](lambda a, b: a, task_name="r")
        entry() >> r
    assert "'r'" in str(await kind_error(r))


async def test_reduce_without_a_function_is_rejected() -> None:
    with DAG("d"):
        r = ReduceStreamOperator[Any, Any](task_name="r")
        entry() >> Count() >> r
    assert "reduce_function" in str(await kind_error(r, 3))


# --- Streamify, Unstreamify, TransformStream ------------------------------------------------


async def test_streamify_transform_unstreamify() -> None:
    with DAG("d"):
        c = Count()
        t = Double()
        u = Collect()
        entry() >> c >> t >> u
    assert await u.call(4) == [0, 2, 4, 6]
    assert [x async for x in t.call_stream(3)] == [0, 2, 4]
    assert (c.operator_type, t.operator_type, u.operator_type) == (
        OperatorType.STREAMIFY,
        OperatorType.TRANSFORM_STREAM,
        OperatorType.UN_STREAMIFY,
    )
    assert c.streaming_operator and t.streaming_operator
    assert not u.streaming_operator


async def test_streamify_of_a_stream_is_rejected() -> None:
    with DAG("d"):
        c = Count(task_name="twice")
        entry() >> Count() >> c
    assert "'twice'" in str(await kind_error(c, 3))


async def test_unstreamify_of_a_value_is_rejected() -> None:
    with DAG("d"):
        u = Collect(task_name="u")
        entry() >> u
    assert "'u'" in str(await kind_error(u))


async def test_transform_of_a_value_is_rejected() -> None:
    with DAG("d"):
        t = Double(task_name="t")
        entry() >> t
    assert "'t'" in str(await kind_error(t))


async def test_kind_error_names_every_bad_node_at_once() -> None:
    with DAG("d"):
        u = Collect(task_name="u")
        t = Double(task_name="t")
        entry() >> u >> t
    with pytest.raises(DAGValidationError) as info:
        await t.call(1)
    assert [p.code for p in info.value.problems] == ["dag.kind", "dag.kind"]
    assert "'u'" in str(info.value) and "'t'" in str(info.value)


# --- inputs ---------------------------------------------------------------------------------


async def test_input_from_data_gives_the_same_value_on_every_call() -> None:
    with DAG("d"):
        i = InputOperator[Any](InputSource.from_data({"k": 1}))
        node = inline(lambda d: d["k"])
        i >> node
    assert await node.call() == 1
    assert await node.call("ignored") == 1
    assert i.operator_type is OperatorType.INPUT
    assert not i.takes_call_data


async def test_dummy_input() -> None:
    with DAG("d"):
        i = InputOperator.dummy_input("dummy")
        node = inline(lambda s: s.upper())
        i >> node
    assert await node.call() == "DUMMY"


async def test_input_from_a_list_streams_it_every_call() -> None:
    with DAG("d"):
        i = InputOperator[Any](InputSource.from_iterable([1, 2, 3]))
        r = ReduceStreamOperator[Any, Any](lambda a, b: a + b, offload=False)
        i >> r
    assert await r.call() == 6
    assert await r.call() == 6


async def test_input_from_a_one_shot_iterator_can_be_read_once() -> None:
    with DAG("d"):
        i = InputOperator[Any](InputSource.from_iterable(iter([1, 2, 3])))
        r = ReduceStreamOperator[Any, Any](lambda acc, x: [*acc, x], initial=[], offload=False)
        i >> r
    assert await r.call() == [1, 2, 3]
    assert await r.call() == []


async def test_input_from_an_async_iterable() -> None:
    async def gen() -> AsyncIterator[str]:
        yield "a"
        yield "b"

    with DAG("d"):
        i = InputOperator[Any](InputSource.from_iterable(gen()))
        u = Collect()
        i >> u
    assert await u.call() == ["a", "b"]


async def test_input_from_callable_reads_the_call_data() -> None:
    with DAG("d"):
        i = InputOperator[Any](InputSource.from_callable())
    with DAG("e"):
        default = InputOperator[Any](task_name="default")
    assert await default.call(2) == 2
    assert await i.call({"q": 1}) == {"q": 1}
    assert i.takes_call_data
    assert default.takes_call_data


async def test_input_from_callable_without_data_gives_empty() -> None:
    with DAG("d"):
        i = InputOperator.from_callable()
    assert await i.call() is EMPTY
    assert not EMPTY


async def test_input_from_callable_passes_a_stream_through() -> None:
    async def items() -> AsyncIterator[int]:
        for i in range(3):
            yield i

    with DAG("d"):
        node = inline(lambda x: x + 10)
        entry() >> node
    assert [x async for x in node.call_stream(items())] == [10, 11, 12]
    # The same flow still takes plain values.
    assert await node.call(1) == 11


async def test_trigger_without_input_raises() -> None:
    with DAG("d"):
        t = Trigger(task_name="hook")
        node = inline(lambda x: x)
        t >> node
    with pytest.raises(RunError) as info:
        await node.call()
    assert info.value.code == "run.no_input"
    assert "'hook'" in str(info.value)


async def test_trigger_hands_the_call_data_on() -> None:
    with DAG("d") as dag:
        t = Trigger()
        node = inline(lambda x: x["name"])
        t >> node
    assert await node.call({"name": "ada"}) == "ada"
    assert dag.trigger_nodes == [t]
    assert isinstance(t, InputOperator)


def test_operator_type_values_match_awel() -> None:
    assert [t.value for t in OperatorType] == [
        "map",
        "reduce",
        "join",
        "branch",
        "input",
        "streamify",
        "un_streamify",
        "transform_stream",
    ]


def test_class_flags_default_off() -> None:
    for cls in (MapOperator, JoinOperator, BranchOperator, ReduceStreamOperator, InputOperator):
        assert cls.streaming_operator is False
        assert cls.incremental_output is False
        assert cls.output_format is None


async def test_a_mutable_initial_value_is_not_shared_between_calls() -> None:
    from awel import InputOperator, ReduceStreamOperator

    def append(acc: list[int], item: int) -> list[int]:
        acc.append(item)
        return acc

    with DAG("collect"):
        items = InputOperator.from_callable()
        collect = ReduceStreamOperator[int, list[int]](append, initial=[], offload=False)
        items >> collect

    async def numbers(n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i

    assert await collect.call(numbers(2)) == [0, 1]
    assert await collect.call(numbers(3)) == [0, 1, 2]
