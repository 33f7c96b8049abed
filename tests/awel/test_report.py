"""One call observed: output or error, nodes that ran or were skipped, timings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio

from awel import (
    DAG,
    BranchJoinOperator,
    BranchOperator,
    DeadlineExceeded,
    InputOperator,
    MapOperator,
    NodeError,
    StreamifyAbsOperator,
)
from awel.report import call_with_report, stream_with_report


def branchy() -> DAG:
    with DAG("branchy") as dag:
        start = InputOperator.from_callable(task_name="start")
        route: BranchOperator[int] = BranchOperator(
            {(lambda x: x > 0): "pos", (lambda x: x <= 0): "neg"}, task_name="route"
        )
        pos = MapOperator[int, str](lambda x: "positive", offload=False, task_name="pos")
        neg = MapOperator[int, str](lambda x: "not positive", offload=False, task_name="neg")
        end: BranchJoinOperator[str] = BranchJoinOperator(task_name="end")
        start >> route >> [pos, neg] >> end
    return dag


async def test_ran_and_skipped_nodes() -> None:
    report = await call_with_report(branchy().output_node, 3)
    assert report.error is None
    assert report.result == "positive"
    assert report.ran == ["start", "route", "pos", "end"]
    assert report.skipped == ["neg"]
    assert report.elapsed_ms > 0
    assert set(report.summary()) == {"elapsed_ms", "ran", "skipped"}


async def test_an_error_is_returned_with_the_nodes_that_ran() -> None:
    def boom(x: int) -> int:
        raise ValueError("no")

    with DAG("fails") as dag:
        InputOperator.from_callable(task_name="a") >> MapOperator(boom, task_name="b")
    report = await call_with_report(dag.output_node, 1)
    assert isinstance(report.error, NodeError)
    assert report.error.node == "b"
    assert report.ran == ["a"]


class Echo(MapOperator[Any, Any]):
    ended: list[bool] = []

    async def map(self, value: Any) -> Any:
        ctx = self.current_dag_context
        await ctx.save_to_share_data("value", value)
        return ctx.get_task_output("start"), await ctx.get_from_share_data("value")

    async def after_dag_end(self) -> None:
        Echo.ended.append(True)


async def test_operators_see_the_context_and_hooks_run() -> None:
    with DAG("ctx") as dag:
        InputOperator.from_callable(task_name="start") >> Echo(task_name="echo")
    Echo.ended.clear()
    report = await call_with_report(dag.output_node, 5)
    assert report.result == (5, 5)
    assert Echo.ended == [True]


async def test_a_deadline() -> None:
    async def slow(x: int) -> int:
        await anyio.sleep(5)
        return x

    with DAG("slow") as dag:
        InputOperator.from_callable(task_name="a") >> MapOperator[int, int](slow, task_name="b")
    report = await call_with_report(dag.output_node, 1, timeout=0.01)
    assert isinstance(report.error, DeadlineExceeded)
    assert str(report.error) == "flow 'slow' ran past its 0.01s deadline"


class Letters(StreamifyAbsOperator[str, str]):
    async def streamify(self, input_value: str) -> AsyncIterator[str]:
        for c in input_value:
            yield c
        if input_value == "bad":
            raise RuntimeError("bad stream")


def letters() -> DAG:
    with DAG("letters") as dag:
        InputOperator.from_callable(task_name="text") >> Letters(task_name="letters")
    return dag


async def test_a_stream_output_of_a_plain_call_is_read_into_a_list() -> None:
    report = await call_with_report(letters().output_node, "abc")
    assert report.result == ["a", "b", "c"]
    assert report.ran == ["text", "letters"]


async def test_a_failing_stream_names_its_node() -> None:
    report = await call_with_report(letters().output_node, "bad")
    assert isinstance(report.error, NodeError)
    assert report.error.node == "letters"


async def test_streaming_hands_over_each_item() -> None:
    got: list[tuple[int, str]] = []
    report = await stream_with_report(letters().output_node, "ab", lambda i, x: got.append((i, x)))
    assert got == [(0, "a"), (1, "b")]
    assert report.items == 2
    assert report.first_item_ms is not None
    assert report.ran == ["text", "letters"]
    failed = await stream_with_report(letters().output_node, "bad", lambda i, x: None)
    assert isinstance(failed.error, NodeError)
    assert failed.items == 3
