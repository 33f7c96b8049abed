"""Start the real app on 127.0.0.1 and drive it with a real HTTP client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from server import app as server_app
from server.settings import Settings

FLOWS = Path(__file__).resolve().parents[2] / "flows"


@asynccontextmanager
async def running(
    tmp_path: Path, *, shipped: Iterable[Path] | None = None, **settings: object
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    opts: dict[str, object] = {"data_dir": tmp_path / "data", "reload": False, **settings}
    app = server_app.make_app(Settings(**opts), shipped=shipped)  # type: ignore[arg-type]
    server = TestServer(app, host="127.0.0.1", handler_cancellation=True)
    async with TestClient(server) as client:
        yield client


@pytest.fixture
def dags(tmp_path: Path) -> Path:
    d = tmp_path / "data" / "dags"
    d.mkdir(parents=True)
    return d


async def until(condition: Callable[[], object], *, tries: int = 200) -> None:
    """Wait (up to about two seconds) until ``condition()`` is true."""
    for _ in range(tries):
        if condition():
            return
        await asyncio.sleep(0.01)


async def abandon_slow_request(client: TestClient[web.Request, web.Application]) -> dict[str, int]:
    """POST to the SLOW flow (tests/server/flows_src.py), hang up once it runs, and wait
    for the server to cancel it; return the flow's counters of started and cancelled runs."""
    dag = next(d for d in client.app[server_app.FLOWS].dags() if d.dag_id == "slow")
    node = dag.get_node("slow")
    state: dict[str, int] = type(node).map.__globals__["STATE"]  # type: ignore[attr-defined]
    url = client.make_url("/api/v1/awel/trigger/slow")
    async with aiohttp.ClientSession() as session:
        task = asyncio.create_task(session.post(url, json={}))
        await until(lambda: state["started"])
        assert state["started"] == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await until(lambda: state["cancelled"])
    return state
