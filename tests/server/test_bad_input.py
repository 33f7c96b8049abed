"""Bad input gets a 4xx in the route's envelope, never a 500: every route of both apps
against broken bodies, path parameters of the wrong type, multipart parts missing or extra."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from operators.models import install_models
from server import app as server_app
from server.model_api import make_model_app
from server.settings import Settings

from . import flows_src
from .conftest import running
from .model_api_live import fake_models

Client = TestClient[web.Request, web.Application]

#: A body of each kind the parser must refuse, with the words its 400 must say.
BODIES: dict[str, tuple[bytes, str, str]] = {
    "random bytes": (os.urandom(256) + b"\xff", "application/json", "not valid UTF-8"),
    "invalid UTF-8": (b'{"user_input": "caf\xe9"}', "application/json", "not valid UTF-8"),
    "not JSON": (b"user_input=hello", "application/json", "not valid JSON"),
    "a JSON array": (b"[1, 2, 3]", "application/json", "got an array"),
    "a JSON string": (b'"hello"', "application/json", "got a string"),
    "a JSON number": (b"42", "application/json", "got a number"),
    "JSON nested too deeply": (b"[" * 100_000, "application/json", "nested too deeply"),
    "JSON with a lone surrogate": (
        b'{"conv_uid": "a\\udc4e", "user_input": "\\ud800", "db_name": "\\uDFFF"}',
        "application/json",
        "surrogate",
    ),
    "a form not in UTF-8": (b"a=\xff", "application/x-www-form-urlencoded", "not valid UTF-8"),
    "multipart without a boundary": (b"--x\r\n", "multipart/form-data", "boundary"),
    "multipart with a broken part header": (
        b'--abc\r\nContent-Disposition: form-data; name="\x07"\r\n\r\nx\r\n--abc--\r\n',
        "multipart/form-data; boundary=abc",
        "headers are not valid",
    ),
    "multipart with a wrong boundary": (
        os.urandom(64),
        "multipart/form-data; boundary=abc",
        "could not be read",
    ),
}


def _filled(path: str) -> str:
    # A path parameter of the right type: the body is what is wrong.
    return re.sub(r"\{\w+\}", "1", path)


def _message(style: str, body: Any) -> str:
    if style == "openai":
        error = body["error"]
        return str(error["message"])
    assert body["success"] is False
    assert body["data"] is None
    return str(body["err_msg"])


async def _refuses_every_body(client: Client) -> list[str]:
    """Send each bad body to every route that reads one; return what went wrong."""
    wrong: list[str] = []
    for route in client.app[server_app.ROUTES].table.routes:
        if route.trigger.request_body in (None, str):
            continue
        for method in sorted(route.methods - {"GET", "DELETE"}):
            for kind, (data, ctype, says) in BODIES.items():
                if route.trigger.request_body is list and kind == "a JSON array":
                    continue  # what the route takes (DB-GPT's sync_batch)
                where = f"{method} {route.path} with {kind}"
                resp = await client.request(
                    method, _filled(route.path), data=data, headers={"Content-Type": ctype}
                )
                text = await resp.text()
                if resp.status != 400 or resp.content_type != "application/json":
                    wrong.append(f"{where}: {resp.status} {text[:120]}")
                    continue
                message = _message(route.trigger.errors, await resp.json())
                if says not in message or "Traceback" in text:
                    wrong.append(f"{where}: {message[:120]}")
    return wrong


async def test_every_webserver_route_answers_a_broken_body_with_a_400(tmp_path: Path) -> None:
    async with running(tmp_path) as client:
        assert len(client.app[server_app.ROUTES].table.routes) > 40
        assert await _refuses_every_body(client) == []


@pytest.fixture
async def model_client(tmp_path: Path) -> AsyncIterator[Client]:
    previous = install_models(fake_models())
    try:
        app = make_model_app(Settings(data_dir=tmp_path / "data", reload=False))
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield client
    finally:
        install_models(previous)


async def test_every_model_api_route_answers_a_broken_body_with_an_openai_400(
    model_client: Client,
) -> None:
    assert await _refuses_every_body(model_client) == []
    resp = await model_client.post(
        "/api/v1/chat/completions", data=b"\xff\xfe", headers={"Content-Type": "application/json"}
    )
    error = (await resp.json())["error"]
    assert resp.status == 400
    assert error["code"] == "invalid_request"
    assert error["type"] == "invalid_request_error"


async def test_a_body_in_an_unknown_charset_is_a_400(tmp_path: Path) -> None:
    async with running(tmp_path) as client:
        resp = await client.post(
            "/api/v1/chat/db/add",
            data=b"db_name=x",
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=no-such"},
        )
        assert resp.status == 400
        assert "no-such" in (await resp.json())["err_msg"]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_a_path_parameter_of_the_wrong_type_is_a_400_naming_it(
    tmp_path: Path, method: str
) -> None:
    async with running(tmp_path) as client:
        resp = await client.request(method, "/api/v2/serve/datasources/abc")
        assert resp.status == 400
        body = await resp.json()
        assert body["err_code"] == "E0001"
        assert body["err_msg"].startswith("path.datasource_id:")


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_an_id_past_64_bits_is_a_400_naming_it(tmp_path: Path, method: str) -> None:
    # It used to reach SQLite, which cannot bind it: OverflowError, a 500.
    async with running(tmp_path) as client:
        for big in ("9223372036854775808", "99999999999999999999999"):
            resp = await client.request(method, f"/api/v2/serve/datasources/{big}")
            assert resp.status == 400, await resp.text()
            message = (await resp.json())["err_msg"]
            assert message.startswith("path.datasource_id:")
            assert "less than 9223372036854775808" in message
        # The largest id that fits is just not there.
        resp = await client.request(method, "/api/v2/serve/datasources/9223372036854775807")
        assert resp.status == 404


async def test_an_int_past_64_bits_in_a_query_or_body_is_a_400_naming_it(tmp_path: Path) -> None:
    async with running(tmp_path) as client:
        resp = await client.get("/api/v1/chat/dialogue/list", params={"page": "1" + "0" * 20})
        assert resp.status == 400
        assert (await resp.json())["err_msg"].startswith("query.page:")
        resp = await client.post("/api/v1/editor/sql/undo", json={"conv_uid": "c", "round": 10**30})
        assert resp.status == 400
        assert (await resp.json())["err_msg"].startswith("body.round:")


async def test_a_surrogate_pair_is_not_mistaken_for_a_lone_one(tmp_path: Path, dags: Path) -> None:
    (dags / "echo.py").write_text(flows_src.ECHO)
    async with running(tmp_path, shipped=[]) as client:
        resp = await client.post(
            "/api/v1/awel/trigger/echo",
            data=b'{"name": "\\ud83d\\ude00"}',
            headers={"Content-Type": "application/json"},
        )
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["data"]["name"] == "\U0001f600"


UPLOAD = "/api/v1/resource/file/upload"
QUERY = {"conv_uid": "c1", "chat_mode": "chat_excel"}


async def test_a_multipart_part_missing_is_a_400_naming_it(tmp_path: Path) -> None:
    async with running(tmp_path) as client:
        form = aiohttp.FormData()
        form.add_field("user_name", "ann")
        resp = await client.post(UPLOAD, params=QUERY, data=form)
        assert resp.status == 400
        assert "doc_files" in (await resp.json())["err_msg"]


async def test_a_multipart_part_the_route_does_not_take_is_a_400_naming_it(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as client:
        form = aiohttp.FormData()
        # A file under a name no field has would otherwise be dropped unread.
        form.add_field("doc_filez", b"a,b\n1,2\n", filename="t.csv")
        resp = await client.post(UPLOAD, params=QUERY, data=form)
        assert resp.status == 400
        body = await resp.json()
        assert "unknown multipart part 'doc_filez'" in body["err_msg"]
        assert "doc_files" in body["err_msg"]  # and which parts it does take


async def test_a_page_past_every_row_is_empty_not_an_overflow(tmp_path: Path) -> None:
    # Found by the fuzzer: (page - 1) * page_size beyond SQLite's 64-bit integers.
    async with running(tmp_path) as client:
        huge = str(2**60)
        resp = await client.get(
            "/api/v1/chat/dialogue/list", params={"page": huge, "page_size": "76"}
        )
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["data"] == []
