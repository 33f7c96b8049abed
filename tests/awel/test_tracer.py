"""A tracer (an observer with ``wrap_step``) sees every node's step, streams included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from awel import DAG, JoinOperator, MapOperator, StreamifyAbsOperator
from awel.operators import BaseOperator, InputOperator
from awel.plan import Step


class Recorder:
    def __init__(self) -> None:
        self.wrapped: list[tuple[str, bool]] = []
        self.log: list[tuple[str, Any]] = []
        self.called = 0

    def __call__(self, node: BaseOperator, seconds: float, error: BaseException | None) -> None:
        self.called += 1

    def wrap_step(self, node: BaseOperator, step: Step, streams: bool) -> Step:
        self.wrapped.append((node.label, streams))

        async def traced(*args: Any) -> Any:
            self.log.append(("start", node.label))
            out = await step(*args)
            self.log.append(("end", node.label))
            return out

        return traced


class Items(StreamifyAbsOperator[int, int]):
    async def streamify(self, input_value: int) -> AsyncIterator[int]:
        for i in range(input_value):
            yield i


def _linear() -> tuple[DAG, BaseOperator]:
    with DAG("traced_linear") as dag:
        entry = InputOperator.from_callable(task_name="in")
        double: MapOperator[int, int] = MapOperator(lambda x: x * 2, task_name="double")
        entry >> double
    return dag, double


async def test_a_tracer_wraps_each_step_once_when_the_plan_compiles() -> None:
    dag, out = _linear()
    tracer = Recorder()
    dag.set_node_observer(tracer)
    assert await out.call(2) == 4
    assert await out.call(3) == 6
    assert tracer.wrapped == [("in", False), ("double", False)]
    assert (
        tracer.log == [("start", "in"), ("end", "in"), ("start", "double"), ("end", "double")] * 2
    )
    # The wrapper reports: the observer itself is not called on top of it.
    assert tracer.called == 0
    dag.set_node_observer(None)
    tracer.log.clear()
    assert await out.call(4) == 8
    assert tracer.log == []


async def test_a_tracer_sees_fan_out_and_streams() -> None:
    with DAG("traced_fan") as dag:
        entry = InputOperator.from_callable(task_name="in")
        left: MapOperator[int, int] = MapOperator(lambda x: x + 1, task_name="left")
        right: MapOperator[int, int] = MapOperator(lambda x: x + 2, task_name="right")
        both = JoinOperator(lambda a, b: a + b, task_name="both")
        items = Items(task_name="items")
        entry >> [left, right]
        [left, right] >> both
        both >> items
    tracer = Recorder()
    dag.set_node_observer(tracer)
    got = [x async for x in items.call_stream(1)]
    assert got == [0, 1, 2, 3, 4]
    assert dict(tracer.wrapped) == {
        "in": False,
        "left": False,
        "right": False,
        "both": False,
        "items": True,
    }
    assert ("end", "both") in tracer.log
    assert tracer.called == 0
