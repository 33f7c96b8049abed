"""SubFlowOperator: a flow called as one node of another, run lazily and observed as its own."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from awel import (
    DAG,
    BaseOperator,
    DAGBuildError,
    InputOperator,
    MapOperator,
    NodeError,
    RunError,
    StreamifyAbsOperator,
    TransformStreamAbsOperator,
)
from awel.operators import SubFlowOperator


class Count(StreamifyAbsOperator[int, int]):
    async def streamify(self, input_value: int) -> AsyncIterator[int]:
        for i in range(input_value):
            yield i


class Collect(TransformStreamAbsOperator[Any, Any]):
    """Passes items on; a failure of the stream becomes a last item naming it."""

    async def transform_stream(self, input_stream: AsyncIterator[Any]) -> AsyncIterator[Any]:
        try:
            async for item in input_stream:
                yield item
        except NodeError as exc:
            yield f"failed: {exc.node}: {exc.__cause__}"


def counting(dag_id: str, *, plus: int = 0) -> DAG:
    with DAG(dag_id) as dag:
        start = InputOperator.from_callable(task_name="input")
        (
            start
            >> MapOperator(lambda x: x + plus, offload=False, task_name="add")
            >> Count(task_name="count")
        )
    return dag


def fails(dag_id: str) -> DAG:
    def boom(x: int) -> int:
        raise ValueError(f"no {x}")

    with DAG(dag_id) as dag:
        (
            InputOperator.from_callable(task_name="input")
            >> MapOperator(boom, offload=False, task_name="boom")
            >> Count(task_name="count")
        )
    return dag


async def items(node: BaseOperator, value: Any) -> list[Any]:
    return [x async for x in node.call_stream(value)]


async def test_a_flow_called_as_a_node_streams_its_output() -> None:
    inner = counting("inner", plus=1)
    with DAG("outer"):
        start = InputOperator.from_callable(task_name="input")
        call: SubFlowOperator[int, int] = SubFlowOperator(inner.output_node, task_name="call")
        out = start >> call >> Collect(task_name="collect")
    assert await items(out, 2) == [0, 1, 2]


class Pick(SubFlowOperator[tuple[str, int], int]):
    def flow_key(self, input_value: tuple[str, int]) -> str:
        return input_value[0]

    async def streamify(self, input_value: tuple[str, int]) -> AsyncIterator[int]:
        key, n = input_value
        async with contextlib.aclosing(self.run_flow(key, n)) as found:
            async for item in found:
                yield item


async def test_the_flow_is_picked_per_call_by_key() -> None:
    flows = {"one": counting("one").output_node, "ten": counting("ten", plus=10).output_node}
    with DAG("outer"):
        pick = InputOperator.from_callable(task_name="input") >> Pick(flows, task_name="pick")
    assert await items(pick, ("one", 2)) == [0, 1]
    assert len(await items(pick, ("ten", 1))) == 11
    with pytest.raises(NodeError) as caught:
        await items(pick, ("two", 1))
    assert isinstance(caught.value.__cause__, RunError)
    assert "has no sub-flow 'two'; it has one, ten" in str(caught.value.__cause__)


async def test_a_failure_inside_reaches_the_reader_of_the_stream() -> None:
    # The called flow runs when its stream is read, so even its value steps fail there,
    # where the reader can make an answer of the failure.
    inner = fails("inner")
    with DAG("outer"):
        out = (
            InputOperator.from_callable(task_name="input")
            >> SubFlowOperator(inner.output_node, task_name="call")
            >> Collect(task_name="collect")
        )
    assert await items(out, 3) == ["failed: boom: no 3"]


async def test_the_called_flow_is_observed_by_its_own_observer() -> None:
    inner = counting("inner")
    seen: list[tuple[str, str]] = []

    def observe(node: BaseOperator, _s: object, _e: object) -> None:
        assert node.dag is not None
        seen.append((node.dag.dag_id, node.label))

    inner.set_node_observer(observe)
    with DAG("outer") as outer:
        InputOperator.from_callable(task_name="input") >> SubFlowOperator(
            inner.output_node, task_name="call"
        )
    assert outer.subflows() == [inner]
    assert await items(outer.output_node, 2) == [0, 1]
    assert ("inner", "add") in seen
    assert ("inner", "count") in seen


def test_subflows_are_found_through_every_level_once() -> None:
    leaf = counting("leaf")
    with DAG("middle") as middle:
        InputOperator.from_callable() >> SubFlowOperator(leaf.output_node)
    with DAG("top") as top:
        start = InputOperator.from_callable()
        start >> SubFlowOperator(middle.output_node)
        start >> SubFlowOperator({"a": leaf.output_node, "b": middle.output_node})
    assert top.subflows() == [middle, leaf]
    assert leaf.subflows() == []


def test_a_sub_flow_must_belong_to_a_flow() -> None:
    loose = Count()
    with DAG("outer"), pytest.raises(DAGBuildError, match="belongs to no flow"):
        SubFlowOperator(loose, task_name="call")


async def test_several_flows_need_a_key() -> None:
    flows = {"a": counting("a").output_node, "b": counting("b").output_node}
    with DAG("outer"):
        call = InputOperator.from_callable() >> SubFlowOperator(flows, task_name="call")
    with pytest.raises(NodeError) as caught:
        await items(call, 1)
    assert "override flow_key()" in str(caught.value.__cause__)


async def test_stopping_early_closes_the_called_flow() -> None:
    closed: list[bool] = []

    class Endless(StreamifyAbsOperator[int, int]):
        async def streamify(self, input_value: int) -> AsyncIterator[int]:
            try:
                while True:
                    yield input_value
            finally:
                closed.append(True)

    with DAG("inner") as inner:
        InputOperator.from_callable() >> Endless()
    with DAG("outer"):
        call = InputOperator.from_callable() >> SubFlowOperator(inner.output_node)
    async with contextlib.aclosing(call.call_stream(7).__aiter__()) as stream:
        assert await anext(stream) == 7
    assert closed == [True]
