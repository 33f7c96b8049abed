"""Request size limits: an oversized body gets a 413 in the route's JSON error style."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from . import flows_src
from .conftest import running

LIMIT = 1024

CHAT = """
from awel import DAG, MapOperator
from awel.trigger import HttpTrigger


class Reply(MapOperator[dict, dict]):
    async def map(self, body: dict) -> dict:
        return {"ok": True}


with DAG("chat") as dag:
    t = HttpTrigger(path="/v1/chat/completions", methods="POST", request_body=dict,
                    errors="openai")
    t >> Reply(task_name="reply")
"""


async def test_a_body_over_the_limit_is_a_413_that_names_the_limit(
    tmp_path: Path, dags: Path
) -> None:
    (dags / "echo.py").write_text(flows_src.ECHO)
    async with running(tmp_path, shipped=[], max_request_size=LIMIT) as client:
        url = "/api/v1/awel/trigger/echo"
        resp = await client.post(url, json={"name": "x" * (2 * LIMIT)})
        assert resp.status == 413
        assert resp.content_type == "application/json"
        body = await resp.json()
        assert body["success"] is False
        assert body["err_code"] == "413"
        assert body["data"] is None
        assert f"the limit is {LIMIT} bytes" in body["err_msg"]
        assert "max_request_size" in body["err_msg"]
        # Just under the limit still goes through.
        ok = await client.post(url, json={"name": "x" * (LIMIT - 100)})
        assert ok.status == 200


async def test_a_chunked_body_over_the_limit_is_a_json_413_too(tmp_path: Path, dags: Path) -> None:
    # No Content-Length to check up front: aiohttp refuses the body while it is read.
    (dags / "echo.py").write_text(flows_src.ECHO)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(4):
            yield b"x" * LIMIT
        yield b'"}'

    async with running(tmp_path, shipped=[], max_request_size=LIMIT) as client:
        resp = await client.post(
            "/api/v1/awel/trigger/echo",
            data=chunks(),
            headers={"Content-Type": "application/json"},
        )
        assert resp.status == 413
        body = await resp.json()
        assert body["success"] is False
        assert body["err_code"] == "413"
        assert str(LIMIT) in body["err_msg"]  # the message names the limit


async def test_an_openai_route_answers_413_in_the_openai_shape(tmp_path: Path) -> None:
    chat = tmp_path / "chat.py"
    chat.write_text(CHAT)
    async with running(tmp_path, shipped=[chat], max_request_size=LIMIT) as client:
        resp = await client.post("/v1/chat/completions", json={"pad": "x" * (2 * LIMIT)})
        assert resp.status == 413
        error = (await resp.json())["error"]
        assert f"the limit is {LIMIT} bytes" in error["message"]
        assert error["code"] == "request_too_large"
        ok = await client.post("/v1/chat/completions", json={"pad": "x"})
        assert await ok.json() == {"ok": True}
