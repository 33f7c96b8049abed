"""Request size limits: an oversized body gets a 413 in the route's JSON error style."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

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
    async with running(tmp_path, shipped=[], max_json_body=LIMIT) as client:
        url = "/api/v1/awel/trigger/echo"
        resp = await client.post(url, json={"name": "x" * (2 * LIMIT)})
        assert resp.status == 413
        assert resp.content_type == "application/json"
        body = await resp.json()
        assert body["success"] is False
        assert body["err_code"] == "413"
        assert body["data"] is None
        assert f"the limit is {LIMIT} bytes" in body["err_msg"]
        assert "max_json_body" in body["err_msg"]
        # Just under the limit still goes through.
        ok = await client.post(url, json={"name": "x" * (LIMIT - 100)})
        assert ok.status == 200


async def chunks() -> AsyncIterator[bytes]:
    """A JSON body four times the limit, sent chunked (no Content-Length)."""
    yield b'{"name": "'
    for _ in range(4):
        yield b"x" * LIMIT
    yield b'"}'


async def test_a_chunked_body_over_the_limit_is_a_json_413_too(tmp_path: Path, dags: Path) -> None:
    # No Content-Length to check up front: aiohttp refuses the body while it is read.
    (dags / "echo.py").write_text(flows_src.ECHO)

    async with running(tmp_path, shipped=[], max_json_body=LIMIT) as client:
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
    async with running(tmp_path, shipped=[chat], max_json_body=LIMIT) as client:
        resp = await client.post("/v1/chat/completions", json={"pad": "x" * (2 * LIMIT)})
        assert resp.status == 413
        error = (await resp.json())["error"]
        assert f"the limit is {LIMIT} bytes" in error["message"]
        assert error["code"] == "request_too_large"
        ok = await client.post("/v1/chat/completions", json={"pad": "x"})
        assert await ok.json() == {"ok": True}


async def test_json_routes_refuse_a_body_over_one_mebibyte_by_default(tmp_path: Path) -> None:
    # The limit used to be 64 MiB for every route: a 20 MB SQL statement was read whole.
    async with running(tmp_path) as client:
        sql = "SELECT 1 -- " + "x" * (1024 * 1024)
        body = json.dumps({"db_name": "x", "sql": sql}).encode()
        resp = await client.post(
            "/api/v1/editor/sql/run",
            # A file-like body: aiohttp's client warns about large bytes.
            data=io.BytesIO(body),
            headers={"Content-Type": "application/json", "Content-Length": str(len(body))},
        )
        assert resp.status == 413
        body = await resp.json()
        assert body["err_code"] == "413"
        assert f"the limit is {1024 * 1024} bytes (max_json_body)" in body["err_msg"]


async def test_an_upload_route_has_its_own_limit_and_names_it(tmp_path: Path) -> None:
    upload = "/api/v1/resource/file/upload"
    query = {"conv_uid": "c1", "chat_mode": "chat_excel"}
    async with running(tmp_path, max_json_body=LIMIT, max_upload_size=8 * LIMIT) as client:
        # Bigger than the JSON limit, within the upload one: read (and refused only for
        # what the file is, not for its size).
        form = aiohttp.FormData()
        form.add_field("doc_files", b"a,b\n" + b"1,2\n" * LIMIT, filename="t.txt")
        resp = await client.post(upload, params=query, data=form)
        assert resp.status == 400
        assert "413" not in (await resp.json())["err_code"]

        form = aiohttp.FormData()
        form.add_field("doc_files", b"x" * (9 * LIMIT), filename="t.csv")
        resp = await client.post(upload, params=query, data=form)
        assert resp.status == 413
        body = await resp.json()
        assert f"the limit is {8 * LIMIT} bytes (max_upload_size)" in body["err_msg"]


async def test_a_chunked_body_is_held_to_its_routes_limit_not_the_apps(
    tmp_path: Path, dags: Path
) -> None:
    # aiohttp's own cap is the largest limit (uploads'); a JSON route stops reading at its own.
    (dags / "echo.py").write_text(flows_src.ECHO)

    async with running(
        tmp_path, shipped=[], max_json_body=LIMIT, max_upload_size=64 * LIMIT
    ) as client:
        resp = await client.post(
            "/api/v1/awel/trigger/echo",
            data=chunks(),
            headers={"Content-Type": "application/json"},
        )
        assert resp.status == 413
        assert resp.content_type == "application/json"
        body = await resp.json()
        assert f"the limit is {LIMIT} bytes (max_json_body)" in body["err_msg"]


BIG = """
from awel import DAG, MapOperator
from awel.trigger import HttpTrigger


class Size(MapOperator[dict, int]):
    async def map(self, body: dict) -> int:
        return len(body["pad"])


with DAG("big") as dag:
    t = HttpTrigger("/big", methods="POST", request_body=dict, max_body_size=4 * 1024)
    t >> Size(task_name="size")
"""


async def test_a_trigger_may_set_its_own_limit(tmp_path: Path, dags: Path) -> None:
    (dags / "big.py").write_text(BIG)
    async with running(tmp_path, shipped=[], max_json_body=LIMIT) as client:
        url = "/api/v1/awel/trigger/big"
        ok = await client.post(url, json={"pad": "x" * (3 * LIMIT)})
        assert ok.status == 200
        assert await ok.json() == 3 * LIMIT
        resp = await client.post(url, json={"pad": "x" * (5 * LIMIT)})
        assert resp.status == 413
        message = (await resp.json())["err_msg"]
        assert f"the limit is {4 * LIMIT} bytes (max_body_size of the route's trigger)" in message
