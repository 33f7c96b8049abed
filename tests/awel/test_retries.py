"""``retries`` and ``timeout_s``, which every node accepts (Python keywords, YAML node keys).

A failing run is tried again after a short wait; a run past its limit raises
DeadlineExceeded (``run.deadline``); a node with neither runs its bare step.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import pytest

from awel import (
    DAG,
    DAGBuildError,
    DeadlineExceeded,
    InputOperator,
    MapOperator,
    NodeError,
    ReduceStreamOperator,
    SpecError,
    StreamifyAbsOperator,
    TriggerOperator,
    operators,
    registry,
)
from awel.spec import dump_flow, load_flow_text


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(operators, "RETRY_BACKOFF_S", 0.001)


class Flaky:
    """Fails its first ``failures`` calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self, x: int) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"try {self.calls} failed")
        return x + 1


def chain(fn: Any, **policy: Any) -> MapOperator[int, int]:
    with DAG("policy"):
        node: MapOperator[int, int] = MapOperator(fn, task_name="flaky", **policy)
        InputOperator.from_callable(task_name="start") >> node
    return node


async def test_a_failing_run_is_tried_again() -> None:
    flaky = Flaky(2)
    node = chain(flaky, retries=2)
    assert await node.call(1) == 2
    assert flaky.calls == 3


async def test_the_last_failure_is_the_nodes() -> None:
    flaky = Flaky(5)
    node = chain(flaky, retries=2)
    with pytest.raises(NodeError) as caught:
        await node.call(1)
    assert flaky.calls == 3
    assert caught.value.node == "flaky"
    assert str(caught.value.__cause__) == "try 3 failed"


async def test_waits_double_between_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(operators, "RETRY_BACKOFF_S", 0.05)
    monkeypatch.setattr("awel.operators.anyio.sleep", sleep)
    await chain(Flaky(3), retries=3).call(1)
    assert waits == [0.05, 0.1, 0.2]


async def test_a_slow_run_raises_deadline_exceeded_naming_the_node() -> None:
    async def slow(x: int) -> int:
        await asyncio.sleep(10)
        return x

    node = chain(slow, timeout_s=0.02)
    with pytest.raises(DeadlineExceeded) as caught:
        await node.call(1)
    assert caught.value.code == "run.deadline"
    assert "node 'flaky' ran past its timeout_s of 0.02s" in str(caught.value)


async def test_each_try_has_its_own_timeout() -> None:
    calls = 0

    async def slow_once(x: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(10)
        return x

    assert await chain(slow_once, timeout_s=0.02, retries=1).call(7) == 7
    assert calls == 2


async def test_a_timeout_error_of_the_step_itself_is_its_failure() -> None:
    async def raises(x: int) -> int:
        raise TimeoutError("upstream said so")

    with pytest.raises(NodeError) as caught:
        await chain(raises, timeout_s=5).call(1)
    assert isinstance(caught.value.__cause__, TimeoutError)


async def test_a_stream_has_its_timeout_as_a_whole() -> None:
    class Ticks(StreamifyAbsOperator[int, int]):
        async def streamify(self, n: int) -> AsyncIterator[int]:
            for i in range(n):
                await asyncio.sleep(0.01)
                yield i

    with DAG("ticks"):
        ticks = Ticks(task_name="ticks", timeout_s=0.1)
        TriggerOperator(task_name="trigger") >> ticks
    assert [x async for x in ticks.call_stream(3)] == [0, 1, 2]
    with pytest.raises(DeadlineExceeded, match="node 'ticks'"):
        async for _ in ticks.call_stream(100):
            pass


def test_retries_around_a_stream_are_refused() -> None:
    class Words(StreamifyAbsOperator[str, str]):
        async def streamify(self, x: str) -> AsyncIterator[str]:
            yield x

    with pytest.raises(Exception, match="cannot retry a failing run") as caught, DAG("words"):
        words = Words(task_name="words", retries=1)
        total = ReduceStreamOperator[str, str](lambda a, b: a + b, task_name="t", retries=1)
        TriggerOperator(task_name="trigger") >> words >> total
    assert [p.code for p in caught.value.problems] == ["dag.kind", "dag.kind"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "policy", [{"retries": -1}, {"retries": 1.5}, {"timeout_s": 0}, {"timeout_s": "1"}]
)
def test_bad_values_are_build_errors(policy: dict[str, Any]) -> None:
    with pytest.raises(DAGBuildError):
        MapOperator(lambda x: x, **policy)


def test_a_node_with_neither_runs_its_bare_step() -> None:
    async def inc(x: int) -> int:
        return x + 1

    node = chain(inc)
    from awel.runner import plan_for

    plan = plan_for(node, 1)
    assert plan.steps[-1] is inc


YAML = """\
    name: policy
    trigger: {}
    nodes:
      flaky: {op: test.flaky, retries: 2, timeout_s: 5}
    edges:
      - trigger >> flaky
"""

_FLAKY = Flaky(0)


class FlakyNode(MapOperator[int, int]):
    """Fails as often as the test's Flaky says."""

    async def map(self, x: int) -> int:
        return await _FLAKY(x)


async def test_yaml_nodes_take_retries_and_timeout_s_and_write_them_back() -> None:
    _FLAKY.failures, _FLAKY.calls = 2, 0
    with registry.registered("test.flaky", FlakyNode):
        dag = load_flow_text(textwrap.dedent(YAML), "policy.yaml")
        node = dag.get_node("flaky")
        assert (node.retries, node.timeout_s) == (2, 5)  # type: ignore[attr-defined]
        assert await dag.output_node.call(1) == 2
        text = dump_flow(dag)
        assert "retries: 2" in text and "timeout_s: 5" in text
        again = load_flow_text(text, "again.yaml").get_node("flaky")
        assert (again.retries, again.timeout_s) == (2, 5)  # type: ignore[attr-defined]


def test_bad_yaml_values_are_located() -> None:
    flow = YAML.replace("retries: 2", "retries: -1").replace("timeout_s: 5", "timeout_s: 0")
    with registry.registered("test.flaky", FlakyNode), pytest.raises(SpecError) as caught:
        load_flow_text(textwrap.dedent(flow), "policy.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "policy.yaml:4:36: node 'flaky', key 'retries': input should be greater than or equal to 0",
        "policy.yaml:4:51: node 'flaky', key 'timeout_s': input should be greater than 0",
    ]


class Strict(MapOperator[int, int]):
    """An operator whose constructor names its keywords (takes no retries=)."""

    def __init__(self, *, task_name: str | None = None, dag: DAG | None = None) -> None:
        super().__init__(task_name=task_name, dag=dag)

    async def map(self, x: int) -> int:
        return await _FLAKY(x)


async def test_yaml_keys_reach_an_operator_whose_constructor_does_not_take_them() -> None:
    _FLAKY.failures, _FLAKY.calls = 1, 0
    with registry.registered("test.flaky", Strict):
        dag = load_flow_text(textwrap.dedent(YAML), "policy.yaml")
        assert await dag.output_node.call(1) == 2
    assert _FLAKY.calls == 2
