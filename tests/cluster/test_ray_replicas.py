"""Two model replicas as Ray actors behind a real controller and API server
(``awel start worker --ray --replicas 2``, driven through server/ray_workers.py on the test
session's two-node Ray cluster): one is killed while requests run; none that had not
started streaming fails, the controller stops routing to it, Ray restarts it and it is
registered again.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from server.cluster import ClusterSettings
from server.ray_workers import ReplicaSet
from server.settings import Settings
from tests.cluster.procs import (
    DATA_DIR,
    INTERVAL,
    TIMEOUT,
    Proc,
    free_port,
    get_json,
    healthy_ports,
    model_built,
    wait_until,
)
from tests.cluster.test_multiprocess import stream_one

pytestmark = [
    pytest.mark.skipif(not model_built(), reason="smollm2 is not built (make models)"),
    pytest.mark.usefixtures("ray_cluster"),
    pytest.mark.timeout(300),
]


async def _wait(check: Any, timeout: float, what: str) -> None:
    """:func:`wait_until` off the event loop, which keeps serving the replicas' supervisor."""
    await asyncio.to_thread(wait_until, check, timeout, what)


async def _controller(tmp_path: Path) -> tuple[Proc, int]:
    """A controller started and answering its health check (stopped if it never does)."""
    port = free_port()
    controller = Proc(
        ["controller", "--port", str(port), "--heartbeat-timeout", TIMEOUT],
        tmp_path / "controller.log",
    ).start()
    try:
        health = f"http://127.0.0.1:{port}/api/health"
        await _wait(lambda: get_json(health) == {"status": "ok"}, 30, "controller")
    except BaseException:
        controller.stop()
        raise
    return controller, port


async def test_two_replicas_behind_the_controller_one_killed_under_load(tmp_path: Path) -> None:
    controller, controller_port = await _controller(tmp_path)
    api_port, first = free_port(), free_port()
    addr = f"http://127.0.0.1:{controller_port}"
    api = Proc(
        [
            *("apiserver", "--port", str(api_port), "--controller-addr", addr),
            *("--heartbeat-interval", INTERVAL, "--data-dir", str(tmp_path / "api")),
        ],
        tmp_path / "api.log",
    )
    group: ReplicaSet | None = None
    try:
        settings = Settings.load(
            None,
            host="127.0.0.1",
            port=first,
            data_dir=DATA_DIR,
            models=["smollm2"],
            model_api_port=0,
        )
        cluster = ClusterSettings(
            controller_addr=addr, heartbeat_interval=float(INTERVAL), heartbeat_timeout=1.0
        )
        # One CPU each, on a cluster of two one-CPU nodes: one replica per node.
        group = ReplicaSet(settings, cluster, replicas=2, num_cpus=1)
        pids = await group.check()
        victim = pids[0]
        assert victim is not None and pids[1] is not None and os.getpid() not in pids
        ports = {first, first + 1}
        await _wait(lambda: healthy_ports(controller_port) == ports, 60, "replicas registered")
        api.start()
        url = f"http://127.0.0.1:{api_port}"
        await _wait(
            lambda: any(m["id"] == "smollm2" for m in get_json(url + "/api/v1/models")["data"]),
            30,
            "the API server lists the model",
        )
        stop = asyncio.Event()
        supervisor = asyncio.create_task(group.run(stop))
        results = await _load_and_kill(url, victim)
        # No request that had not started streaming failed.
        unstarted = [r for r in results if not r["ok"] and not r["started"]]
        assert not unstarted, unstarted
        assert sum(r["ok"] for r in results) >= len(results) - 2
        # Ray restarts the dead replica; the supervisor starts its worker, which registers.
        await _wait(
            lambda: group is not None and group.pids[0] not in (None, victim), 90, "restart"
        )
        await _wait(lambda: healthy_ports(controller_port) == ports, 30, "registered again")
        async with aiohttp.ClientSession() as session:
            assert (await stream_one(session, url, 8))["ok"]
        stop.set()
        await supervisor
    finally:
        if group is not None:
            await group.aclose()
        api.stop()
        controller.stop()


async def _load_and_kill(url: str, victim: int) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        tasks = []
        for i in range(10):
            tasks.append(asyncio.create_task(stream_one(session, url, 24)))
            await asyncio.sleep(0.15)
            if i == 3:
                os.kill(victim, signal.SIGKILL)
        return list(await asyncio.gather(*tasks))


async def test_awel_start_worker_ray_registers_its_replicas_and_deregisters_on_stop(
    tmp_path: Path, ray_cluster: Any
) -> None:
    controller, controller_port = await _controller(tmp_path)
    port = free_port()
    addr = f"http://127.0.0.1:{controller_port}"
    worker = Proc(
        [
            *("worker", "--ray", "--replicas", "1", "--ray-address", ray_cluster.address),
            *("--model", "smollm2", "--port", str(port), "--controller-addr", addr),
            *("--data-dir", str(DATA_DIR), "--heartbeat-interval", INTERVAL),
        ],
        tmp_path / "worker.log",
    )
    try:
        worker.start()
        await _wait(lambda: healthy_ports(controller_port) == {port}, 90, "replica registered")
        worker.stop()  # SIGTERM: the replica stops its worker, which deregisters
        assert healthy_ports(controller_port) == set(), (tmp_path / "worker.log").read_text()
    finally:
        worker.stop()
        controller.stop()
