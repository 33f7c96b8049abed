"""The cluster key: a real controller process started with ``--cluster-key`` refuses requests
without it; the roles of ``awel start`` (run in-process here) send it with every request."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner

from operators.cluster.client import ClusterError, ControllerClient
from operators.cluster.remote import remote_set
from operators.cluster.state import current_cluster
from operators.cluster.types import MANAGER_KEY
from server.cluster import ClusterSettings, role_context
from server.settings import Settings
from server.start_cli import start
from tests.cluster.procs import Proc, free_port
from tests.cluster.roles import serving_role

pytestmark = pytest.mark.timeout(60)

KEY = "cluster-secret"


@contextmanager
def controller(tmp_path: Path) -> Iterator[str]:
    """``awel start controller --cluster-key KEY`` on a free port; its address."""
    port = free_port()
    proc = Proc(
        ["controller", "--port", str(port), "--cluster-key", KEY, "--data-dir", str(tmp_path)],
        tmp_path / "controller.log",
    ).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


async def wait_up(address: str) -> None:
    # The controller's probe stays open: this waits without a key.
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(address + "/api/health") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"the controller at {address} did not start")


async def listed(address: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as http,
        http.get(address + "/api/controller/models") as r,
    ):
        assert r.status == 200
        return {f"{i['model_name']}:{i['port']}": i for i in await r.json()}


def role_settings(tmp_path: Path, key: str | None) -> Settings:
    return Settings(data_dir=tmp_path, models=[], port=free_port(), cluster_key=key, reload=False)


def worker(address: str, settings: Settings) -> AbstractAsyncContextManager[None]:
    """A worker role in this process, its app listening and its manager announced."""
    cluster = ClusterSettings(controller_addr=address, heartbeat_interval=0.2)
    return serving_role("worker", settings, cluster)


async def test_the_controller_refuses_requests_without_the_cluster_key(tmp_path: Path) -> None:
    with controller(tmp_path) as address:
        await wait_up(address)
        body = {"model_name": "m@llm", "host": "127.0.0.1", "port": 9}
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                async with http.post(
                    address + "/api/controller/models", json=body, headers=headers
                ) as r:
                    assert r.status == 401
                    answer = await r.json()
                    assert answer["success"] is False and answer["err_code"] == "401"
                async with http.get(address + "/api/controller/models", headers=headers) as r:
                    assert r.status == 401
        assert await listed(address) == {}


async def test_a_worker_registers_with_the_key_and_not_without(tmp_path: Path) -> None:
    with controller(tmp_path) as address:
        await wait_up(address)
        wrong = role_settings(tmp_path / "wrong", "not-the-key")
        async with worker(address, wrong):
            await asyncio.sleep(0.5)  # a couple of heartbeats
            assert f"{MANAGER_KEY}:{wrong.port}" not in await listed(address)
        good = role_settings(tmp_path / "good", KEY)
        async with worker(address, good):
            found = await listed(address)
            assert found[f"{MANAGER_KEY}:{good.port}"]["healthy"] is True

            # The worker's own routes want the key too; a server's clients send it.
            models = remote_set(ControllerClient(address, key=KEY), key=KEY)
            unkeyed = remote_set(ControllerClient(address, key=KEY))
            try:
                inst = await models.router.pick(MANAGER_KEY, set())
                assert inst is not None and inst.port == good.port
                with models.router.using(inst) as client:
                    with pytest.raises(ClusterError) as refused:
                        await client.call("model_metadata", {"model": "nope"})
                    assert refused.value.status not in (401, None)
                with unkeyed.router.using(inst) as client:
                    with pytest.raises(ClusterError) as refused:
                        await client.call("model_metadata", {"model": "nope"})
                    assert refused.value.status == 401
            finally:
                for s in (models, unkeyed):
                    await s.router.aclose()
                    await s.router.registry.aclose()  # type: ignore[attr-defined]


async def test_a_server_role_reads_the_controller_with_the_key(tmp_path: Path) -> None:
    with controller(tmp_path) as address:
        await wait_up(address)
        cluster = ClusterSettings(controller_addr=address, heartbeat_interval=0.2)
        good = role_settings(tmp_path / "good", KEY)
        async with worker(address, good), role_context("apiserver", good, cluster):
            found = await current_cluster().registry.instances(MANAGER_KEY)
            assert [i.port for i in found] == [good.port]
        wrong = role_settings(tmp_path / "wrong", "not-the-key")
        async with role_context("webserver", wrong, cluster):
            with pytest.raises(ClusterError) as refused:
                await current_cluster().registry.instances()
            assert refused.value.status == 401


def test_every_start_command_takes_the_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Settings] = []
    monkeypatch.setattr("server.main.run", lambda settings, **_: seen.append(settings))
    addr = ["--controller-addr", "http://127.0.0.1:1"]
    keys = ["--cluster-key", "ck", "--api-key", "a", "--api-key", "b"]
    for args in (
        ["controller"],
        ["worker", "--model", "smollm2", *addr],
        ["apiserver", *addr],
        ["webserver", *addr],
    ):
        result = CliRunner().invoke(start, [*args, *keys])
        assert result.exit_code == 0, result.output
        assert (seen[-1].cluster_key, seen[-1].api_keys) == ("ck", ["a", "b"]), args
    monkeypatch.setenv("AWEL_CLUSTER_KEY", "from-env")
    result = CliRunner().invoke(start, ["controller"])
    assert result.exit_code == 0 and seen[-1].cluster_key == "from-env"
