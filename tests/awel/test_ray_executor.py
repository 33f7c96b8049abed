"""Nodes run on a real Ray cluster (a head and a second node on 127.0.0.1, tests/conftest.py):
the same results as locally, streams, cancellation, errors and lost workers, actors, fan-out.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from awel import DAG, BaseOperator, InputOperator, MapOperator, NodeError, ReduceStreamOperator
from awel.executor import STREAM_AHEAD, RayExecutor, RayWorkerLost, on_ray
from awel.iteration import IterateNode
from awel.operators import StreamifyAbsOperator
from awel.spec import load_flow_text

pytestmark = pytest.mark.usefixtures("ray_cluster")


def double(x: int) -> dict[str, int]:
    return {"value": x * 2, "pid": os.getpid()}


def _flow(executor: RayExecutor | None) -> MapOperator[Any, Any]:
    with DAG("ray.middle") as dag:
        entry = InputOperator.from_callable()
        middle = MapOperator(double, task_name="middle", executor=executor)
        last: MapOperator[Any, Any] = MapOperator(
            lambda d: d["value"] + 1, task_name="last", offload=False
        )
        entry >> middle >> last
    assert dag
    return last


async def test_a_flow_whose_middle_node_runs_on_ray_returns_what_it_returns_locally() -> None:
    local, remote = _flow(None), _flow(RayExecutor(num_cpus=1))
    for x in (1, 20, -3):
        assert await remote.call(x) == await local.call(x) == x * 2 + 1
    # It really ran elsewhere: the middle node's output came from another process.
    middle = remote.upstream[0]
    assert isinstance(middle, MapOperator)
    out = await middle.call(5)
    assert out["value"] == 10 and out["pid"] != os.getpid()


class Count(StreamifyAbsOperator[int, int]):
    async def streamify(self, input_value: int) -> AsyncIterator[int]:
        for i in range(input_value):
            yield i * i


async def test_a_streaming_node_on_ray_is_read_item_by_item() -> None:
    with DAG("ray.stream"):
        entry = InputOperator.from_callable()
        count = on_ray(Count(task_name="count"))
        total: ReduceStreamOperator[int, int] = ReduceStreamOperator(
            lambda a, b: a + b, initial=0, offload=False
        )
        entry >> count >> total
    assert await total.call(10) == sum(i * i for i in range(10))
    items = [x async for x in count.call_stream(6)]
    assert items == [0, 1, 4, 9, 16, 25]


def tick_forever(path: str) -> int:
    # Writes a heartbeat until stopped: the test reads whether the task still runs.
    while True:
        Path(path).write_text(str(time.monotonic()))
        time.sleep(0.05)


async def test_cancelling_the_run_cancels_the_ray_task(tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    with DAG("ray.cancel"):
        node = MapOperator(tick_forever, task_name="ticker", executor=RayExecutor())
    call = asyncio.ensure_future(node.call(str(beat)))
    for _ in range(300):
        if beat.exists():
            break
        await asyncio.sleep(0.05)
    assert beat.exists(), "the task never started"
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await asyncio.sleep(1.0)
    stopped = beat.read_text()
    await asyncio.sleep(0.5)
    assert beat.read_text() == stopped, "the Ray task kept running after the call was cancelled"


def parse(x: str) -> int:
    return int(x)


async def test_a_node_whose_task_raises_fails_naming_the_node_as_locally() -> None:
    with DAG("ray.fails"):
        node = MapOperator(parse, task_name="parse", executor=RayExecutor())
    with pytest.raises(NodeError) as caught:
        await node.call("twelve")
    assert caught.value.node == "parse"
    assert "flow 'ray.fails', node 'parse' (MapOperator) failed: ValueError" in str(caught.value)
    assert isinstance(caught.value.__cause__, ValueError)


def pid_then_wait(folder: str) -> str:
    # Each try leaves its pid; the test kills the ones it is told to.
    Path(folder, f"{os.getpid()}.pid").write_text("")
    deadline = time.monotonic() + 20
    while not Path(folder, "go").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return "done"


async def _pids(folder: Path, count: int) -> list[int]:
    for _ in range(400):
        found = [int(name[:-4]) for name in os.listdir(folder) if name.endswith(".pid")]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} tries never started")


async def test_a_killed_worker_is_retried_once_then_fails_clearly(tmp_path: Path) -> None:
    once, twice = tmp_path / "once", tmp_path / "twice"
    once.mkdir()
    twice.mkdir()
    with DAG("ray.killed"):
        node = MapOperator(pid_then_wait, task_name="hold", executor=RayExecutor(max_retries=1))
    # Killed once: Ray runs it again, and the call gets its value.
    call = asyncio.ensure_future(node.call(str(once)))
    (first,) = await _pids(once, 1)
    os.kill(first, signal.SIGKILL)
    await _pids(once, 2)
    (once / "go").write_text("")
    assert await asyncio.wait_for(call, 30) == "done"
    # Killed on both tries: a clear error naming the node.
    call = asyncio.ensure_future(node.call(str(twice)))
    (first,) = await _pids(twice, 1)
    os.kill(first, signal.SIGKILL)
    second = next(p for p in await _pids(twice, 2) if p != first)
    os.kill(second, signal.SIGKILL)
    with pytest.raises(NodeError) as caught:
        await asyncio.wait_for(call, 30)
    assert caught.value.node == "hold"
    assert isinstance(caught.value.__cause__, RayWorkerLost)
    assert "died (2 tries, max_retries 1)" in str(caught.value)


class Counter(MapOperator[int, tuple[int, int]]):
    """State kept between calls: it only survives if the node lives in one actor."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen = 0

    async def map(self, input_value: int) -> tuple[int, int]:
        self.seen += input_value
        return self.seen, os.getpid()


async def test_a_stateful_node_runs_in_one_actor_made_once_and_reused() -> None:
    with DAG("ray.actor"):
        node = Counter(task_name="counter", executor=RayExecutor(actors=1))
    outs = [await node.call(1) for _ in range(3)]
    assert [seen for seen, _ in outs] == [1, 2, 3]
    assert len({pid for _, pid in outs}) == 1 and outs[0][1] != os.getpid()


def where(x: int) -> tuple[int, str]:
    import ray

    time.sleep(0.3)
    return x * 10, ray.get_runtime_context().get_node_id()


async def test_iterate_on_ray_fans_items_out_across_the_cluster() -> None:
    with DAG("ray.iterate"):
        fan = IterateNode(where, concurrency=2, task_name="fan", executor=RayExecutor(num_cpus=1))
    out = await fan.call(list(range(6)))
    assert [value for value, _ in out] == [0, 10, 20, 30, 40, 50]
    # One CPU per node, two items at once: both nodes ran some.
    assert len({node for _, node in out}) == 2


async def test_iterate_on_ray_actors_uses_each_actor() -> None:
    with DAG("ray.iterate_actors"):
        fan = IterateNode(double, concurrency=4, executor=RayExecutor(actors=2, num_cpus=0))
    out = await fan.call(list(range(8)))
    assert [d["value"] for d in out] == [x * 2 for x in range(8)]
    assert len({d["pid"] for d in out}) == 2


FLOW = """
name: ray.yaml
trigger: {}
nodes:
  twice: {op: awel.map, params: {expr: "x * 2"}, executor: ray, ray: {num_cpus: 1, max_retries: 2}}
  plus: {op: awel.map, params: {expr: "x + 1"}}
edges:
  - trigger >> twice >> plus
"""


async def test_a_flow_file_marks_a_node_to_run_on_ray() -> None:
    dag = load_flow_text(FLOW, "ray.yaml")
    nodes = {n.label: n for n in dag.nodes if isinstance(n, BaseOperator)}
    twice = nodes["twice"]
    assert twice.executor == RayExecutor(num_cpus=1, max_retries=2)
    assert await nodes["plus"].call(4) == 9
    from awel.spec import dump_flow

    text = dump_flow(dag)
    assert "executor: ray" in text and "max_retries: 2" in text
    assert load_flow_text(text, "again.yaml") is not None


def test_ray_options_without_the_ray_executor_are_an_error() -> None:
    from awel.errors import SpecError

    bad = FLOW.replace("executor: ray, ", "")
    with pytest.raises(SpecError, match="'ray' options apply with 'executor: ray'"):
        load_flow_text(bad, "bad.yaml")


def test_without_ray_started_a_ray_node_fails_clearly_and_others_run() -> None:
    script = f"""
import asyncio
from awel.spec import load_flow_text
dag = load_flow_text({FLOW!r}, "ray.yaml")
nodes = {{n.label: n for n in dag.nodes}}
try:
    asyncio.run(nodes["plus"].call(1))
except Exception as exc:
    print(exc)
"""
    env = {**os.environ, "RAY_ADDRESS": ""}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert "node 'twice'" in out.stdout and "Ray is off in this process" in out.stdout, out


ITERATE = """
name: ray.iterate_yaml
trigger: {}
nodes:
  each:
    op: awel.iterate
    executor: ray
    params: {concurrency: 2, steps: [{op: awel.format, params: {template: "<{{ input }}>"}}]}
edges:
  - trigger >> each
"""


async def test_a_flow_files_iterate_on_ray_builds_its_steps_on_the_workers() -> None:
    dag = load_flow_text(ITERATE, "iterate.yaml")
    (each,) = [n for n in dag.nodes if n.label == "each" and isinstance(n, BaseOperator)]
    assert await each.call(["a", "b", "c"]) == ["<a>", "<b>", "<c>"]


def test_start_ray_local_starts_a_cluster_on_loopback_that_runs_ray_nodes() -> None:
    script = f"""
import asyncio, os
from awel.executor import start_ray, stop_ray, ray_status
from awel.spec import load_flow_text
print(start_ray("local", num_cpus=1))
dag = load_flow_text({FLOW!r}, "ray.yaml")
nodes = {{n.label: n for n in dag.nodes}}
print("result", asyncio.run(nodes["plus"].call(4)), ray_status()["nodes"])
stop_ray()
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ENABLE")}
    env.update(RAY_ADDRESS="", RAY_AUTH_MODE="disabled")
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=90
    )
    assert "a local cluster on 127.0.0.1" in out.stdout, out
    assert "result 9 1" in out.stdout, out


def _note(path: str, text: str) -> None:
    # Small and local: written in place rather than through a thread.
    Path(path).write_text(text)


class Numbers(StreamifyAbsOperator[str, int]):
    """Counts the items it made in a file: how far it ran ahead of its reader."""

    async def streamify(self, input_value: str) -> AsyncIterator[int]:
        for i in range(200):
            _note(input_value, str(i + 1))
            yield i


async def test_a_ray_stream_runs_only_a_few_items_ahead_of_its_reader(tmp_path: Path) -> None:
    made = tmp_path / "made"
    with DAG("ray.backpressure"):
        numbers = Numbers(task_name="numbers", executor=RayExecutor())
    seen = []
    async for item in numbers.call_stream(str(made)):
        seen.append(item)
        if len(seen) == 3:
            await asyncio.sleep(1.5)  # the reader is slow: the generator must wait
            ahead = int(made.read_text())
            assert ahead <= 3 + STREAM_AHEAD + 2, ahead
    assert seen == list(range(200))


async def test_a_stream_node_in_an_actor_is_read_item_by_item() -> None:
    with DAG("ray.actor_stream"):
        count = Count(task_name="count", executor=RayExecutor(actors=1))
    assert [x async for x in count.call_stream(5)] == [0, 1, 4, 9, 16]
