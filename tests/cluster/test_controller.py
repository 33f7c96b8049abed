"""The controller: registry semantics, and its routes driven over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from operators.cluster.registry import ModelRegistry
from operators.cluster.state import Cluster, install_cluster
from operators.cluster.types import ModelInstance
from server.app import make_app
from server.flows import SHIPPED, flow_files
from server.settings import Settings


def inst(key: str = "m@llm", port: int = 1, **kw: object) -> ModelInstance:
    return ModelInstance(model_name=key, host="127.0.0.1", port=port, **kw)


async def test_register_heartbeat_expiry_and_deregister() -> None:
    registry = ModelRegistry(heartbeat_timeout=0.2)
    await registry.register(inst(port=1))
    await registry.register(inst(port=2))
    await registry.register(inst(port=2))  # again: still one entry per key, host and port
    assert [i.port for i in await registry.instances("m@llm")] == [1, 2]
    assert all(i.healthy and i.last_heartbeat for i in await registry.instances())
    await asyncio.sleep(0.12)
    await registry.heartbeat(inst(port=2))
    await asyncio.sleep(0.12)
    healthy = await registry.instances("m@llm", healthy_only=True)
    assert [i.port for i in healthy] == [2]  # port 1 stopped beating
    assert len(await registry.instances("m@llm")) == 2  # marked, never deleted
    await registry.heartbeat(inst(port=1))
    assert len(await registry.instances(healthy_only=True)) == 2  # back
    await registry.deregister("m@llm", "127.0.0.1", 1)
    assert [i.healthy for i in await registry.instances("m@llm")] == [False, True]
    await registry.deregister("m@llm", "127.0.0.1", 1, remove_from_registry=True)
    assert [i.port for i in await registry.instances()] == [2]


async def test_unchecked_instances_never_expire_and_disabled_are_never_picked() -> None:
    registry = ModelRegistry(heartbeat_timeout=0.05)
    await registry.register(inst(port=1, check_healthy=False))
    await registry.register(inst(port=2, enabled=False))
    await asyncio.sleep(0.08)
    assert [i.port for i in await registry.instances(healthy_only=True)] == [1]
    await registry.heartbeat(inst(port=2))
    picks = {(await registry.select("m@llm")).port for _ in range(4)}  # type: ignore[union-attr]
    assert picks == {1}


async def test_select_takes_turns_and_none_without_instances() -> None:
    registry = ModelRegistry()
    assert await registry.select("m@llm") is None
    for port in (1, 2, 3):
        await registry.register(inst(port=port))
    picks = [(await registry.select("m@llm")).port for _ in range(6)]  # type: ignore[union-attr]
    assert sorted(picks) == [1, 1, 2, 2, 3, 3]


@asynccontextmanager
async def controller(
    tmp_path: Path,
) -> AsyncIterator[tuple[TestClient[web.Request, web.Application], ModelRegistry]]:
    registry = ModelRegistry(heartbeat_timeout=5)
    previous = install_cluster(Cluster(registry))
    try:
        app = make_app(
            Settings(data_dir=tmp_path, reload=False),
            shipped=flow_files(SHIPPED / "controller", recursive=False),
            user_flows=False,
        )
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield client, registry
    finally:
        install_cluster(previous)


async def test_controller_routes(tmp_path: Path) -> None:
    async with controller(tmp_path) as (client, _):
        body = {"model_name": "smollm2@llm", "host": "127.0.0.1", "port": 8001}
        r = await client.post("/api/controller/models", json=body)
        assert (r.status, await r.json()) == (200, True)
        r = await client.post("/api/controller/heartbeat", json={**body, "port": 8002})
        assert (r.status, await r.json()) == (200, True)
        r = await client.get("/api/controller/models", params={"model_name": "smollm2@llm"})
        listed = await r.json()
        assert [i["port"] for i in listed] == [8001, 8002]
        assert set(listed[0]) == set(ModelInstance.model_fields)
        assert listed[0]["healthy"] is True
        r = await client.delete(
            "/api/controller/models",
            params={"model_name": "smollm2@llm", "host": "127.0.0.1", "port": "8001"},
        )
        assert (r.status, await r.json()) == (200, True)
        r = await client.get("/api/controller/models", params={"healthy_only": "true"})
        assert [i["port"] for i in await r.json()] == [8002]
        r = await client.get("/api/health")
        assert await r.json() == {"status": "ok"}


async def test_malformed_registration_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    async with controller(tmp_path) as (client, registry):
        before = await registry.instances()
        for path in ("/api/controller/models", "/api/controller/heartbeat"):
            for bad in (
                {"model_name": "smollm2", "host": "h", "port": 1},
                {"model_name": "m@llm", "host": "h", "port": "eighty"},
                {"model_name": "m@llm", "port": 1},
            ):
                r = await client.post(path, json=bad)
                assert r.status == 400, bad
                body = await r.json()
                assert body["success"] is False
                assert any(f in body["err_msg"] for f in ("model_name", "port", "host"))
            r = await client.post(
                path, data=b"{not json", headers={"Content-Type": "application/json"}
            )
            assert r.status == 400
        assert await registry.instances() == before
        r = await client.delete("/api/controller/models", params={"model_name": "m@llm"})
        assert r.status == 400
        assert "host" in (await r.json())["err_msg"]
