"""Start the real app on 127.0.0.1 and drive it with a real HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from server.app import make_app
from server.settings import Settings

FLOWS = Path(__file__).resolve().parents[2] / "flows"


@asynccontextmanager
async def running(
    tmp_path: Path, *, shipped: Iterable[Path] | None = None, **settings: object
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    opts: dict[str, object] = {"data_dir": tmp_path / "data", "reload": False, **settings}
    app = make_app(Settings(**opts), shipped=shipped)  # type: ignore[arg-type]
    server = TestServer(app, host="127.0.0.1", handler_cancellation=True)
    async with TestClient(server) as client:
        yield client


@pytest.fixture
def dags(tmp_path: Path) -> Path:
    d = tmp_path / "data" / "dags"
    d.mkdir(parents=True)
    return d
