"""DB-GPT's liveness routes: ``GET /api/v1/test`` (a plain string) and the model serve
API's health, ``GET /api/v1/worker/health`` (and under ``/api/v2/serve/model``)."""

from __future__ import annotations

from pathlib import Path

from .conftest import running


async def test_liveness_routes_answer_dbgpts_shapes(tmp_path: Path) -> None:
    async with running(tmp_path) as client:
        up = await client.get("/api/v1/test")
        assert up.status == 200 and await up.json() == "service status is UP"
        for path in ("/api/v1/worker/health", "/api/v2/serve/model/health"):
            health = await client.get(path)
            assert health.status == 200 and await health.json() == {"status": "ok"}, path
        refused = await client.post("/api/v1/worker/health")
        assert refused.status == 405 and (await refused.json())["success"] is False
