"""http.request against a local aiohttp server the test starts, and file.read inside the
data directory only."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import ValidationError

from awel import NodeError, registry
from operators.storage import open_store

from .conftest import run_one


class Api:
    """A small API: echoes, fails on demand, redirects, and answers too much."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.other_url = ""

    def count(self, name: str) -> int:
        self.calls[name] = self.calls.get(name, 0) + 1
        return self.calls[name]

    async def echo(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        return web.json_response(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "token": request.headers.get("X-Token"),
                "body": body,
            }
        )

    async def text(self, request: web.Request) -> web.Response:
        return web.Response(text="plain words")

    async def flaky(self, request: web.Request) -> web.Response:
        if self.count("flaky") < 3:
            return web.Response(status=503, text="busy")
        return web.json_response({"ok": True})

    async def missing(self, request: web.Request) -> web.Response:
        self.count("missing")
        return web.Response(status=404, text="no such thing")

    async def hop(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/echo?hopped=1")

    async def away(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(self.other_url + "/echo")

    async def big(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for _ in range(64):
            await resp.write(b"x" * 1024)
        await resp.write_eof()
        return resp

    async def bad_json(self, request: web.Request) -> web.Response:
        return web.Response(text="{not json", content_type="application/json")


@pytest.fixture
async def api() -> AsyncIterator[tuple[str, Api]]:
    state = Api()
    app = web.Application()
    for path, handler in [
        ("/echo", state.echo),
        ("/text", state.text),
        ("/flaky", state.flaky),
        ("/missing", state.missing),
        ("/hop", state.hop),
        ("/away", state.away),
        ("/big", state.big),
        ("/bad_json", state.bad_json),
    ]:
        app.router.add_route("*", path, handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), state
    finally:
        await server.close()


async def test_get_with_templates_answers_json(api: tuple[str, Api]) -> None:
    base, _ = api
    params = {
        "url": base + "/echo",
        "query": {"city": "{{ city }}"},
        "headers": {"X-Token": "t-{{ user }}"},
    }
    out = await run_one("http.request", params, {"city": "Paris & Lyon", "user": "ann"})
    assert out["query"] == {"city": "Paris & Lyon"}
    assert out["token"] == "t-ann" and out["method"] == "GET"


async def test_post_sends_a_json_body_and_text_comes_back_as_text(api: tuple[str, Api]) -> None:
    base, _ = api
    params = {"url": base + "/echo", "method": "POST", "json_body": "{'q': question}"}
    out = await run_one("http.request", params, {"question": "why?"})
    assert out["body"] == {"q": "why?"} and out["method"] == "POST"
    whole = await run_one("http.request", {**params, "json_body": "input"}, [1, 2])
    assert whole["body"] == [1, 2]
    assert await run_one("http.request", {"url": base + "/text"}, None) == "plain words"


async def test_retries_with_backoff_then_succeeds(api: tuple[str, Api]) -> None:
    base, state = api
    params = {"url": base + "/flaky", "max_retries": 3, "backoff": 0.01}
    assert await run_one("http.request", params, None) == {"ok": True}
    assert state.calls["flaky"] == 3


async def test_a_client_error_is_not_retried(api: tuple[str, Api]) -> None:
    base, state = api
    params = {"url": base + "/missing", "max_retries": 3, "backoff": 0.01}
    with pytest.raises(NodeError) as caught:
        await run_one("http.request", params, None)
    assert caught.value.node == "node"
    cause = caught.value.__cause__
    assert getattr(cause, "code", None) == "http.status" and "404" in str(cause)
    assert state.calls["missing"] == 1


async def test_retries_run_out(api: tuple[str, Api]) -> None:
    base, state = api
    params = {"url": base + "/flaky", "max_retries": 1, "backoff": 0.01}
    with pytest.raises(NodeError) as caught:
        await run_one("http.request", params, None)
    assert getattr(caught.value.__cause__, "code", None) == "http.status"
    assert state.calls["flaky"] == 2


async def test_redirects_stay_on_the_host(api: tuple[str, Api]) -> None:
    base, state = api
    assert (await run_one("http.request", {"url": base + "/hop"}, None))["query"] == {"hopped": "1"}
    # "localhost" and "127.0.0.1" are different hosts to the check.
    state.other_url = base.replace("127.0.0.1", "localhost")
    with pytest.raises(NodeError) as caught:
        await run_one("http.request", {"url": base + "/away"}, None)
    assert getattr(caught.value.__cause__, "code", None) == "http.refused"
    port = base.rsplit(":", 1)[1]
    allowed = {"url": base + "/away", "allowed_hosts": [f"127.0.0.1:{port}", "localhost"]}
    assert (await run_one("http.request", allowed, None))["path"] == "/echo"
    with pytest.raises(NodeError) as caught:
        await run_one("http.request", {"url": base + "/hop", "max_redirects": 0}, None)
    assert getattr(caught.value.__cause__, "code", None) == "http.failed"


async def test_the_input_cannot_move_a_written_out_host(api: tuple[str, Api]) -> None:
    base, _ = api
    # The host is written out: the input only fills the path.
    params = {"url": base + "/{{ path }}"}
    assert (await run_one("http.request", params, {"path": "echo"}))["path"] == "/echo"
    # A template that builds the whole URL goes anywhere unless allowed_hosts pins it.
    free = {"url": "{{ url }}", "allowed_hosts": ["example.invalid"]}
    with pytest.raises(NodeError) as caught:
        await run_one("http.request", free, {"url": base + "/echo"})
    assert getattr(caught.value.__cause__, "code", None) == "http.refused"
    for bad in ("file:///etc/passwd", "ftp://127.0.0.1/x"):
        with pytest.raises(NodeError) as caught:
            await run_one("http.request", {"url": "{{ url }}"}, {"url": bad})
        assert getattr(caught.value.__cause__, "code", None) == "http.refused"


async def test_size_cap_and_bad_json(api: tuple[str, Api]) -> None:
    base, _ = api
    with pytest.raises(NodeError) as caught:
        await run_one("http.request", {"url": base + "/big", "max_bytes": 10_000}, None)
    assert getattr(caught.value.__cause__, "code", None) == "http.bad_answer"
    assert len(await run_one("http.request", {"url": base + "/big"}, None)) == 65536
    with pytest.raises(NodeError) as caught:
        await run_one("http.request", {"url": base + "/bad_json"}, None)
    assert getattr(caught.value.__cause__, "code", None) == "http.bad_answer"


async def test_unreachable_and_timeouts_fail(api: tuple[str, Api]) -> None:
    with pytest.raises(NodeError) as caught:
        await run_one("http.request", {"url": "http://127.0.0.1:9/x", "timeout": 2}, None)
    assert getattr(caught.value.__cause__, "code", None) == "http.failed"
    with pytest.raises(NodeError) as caught:
        await run_one("http.request", {"url": "{{ missing }}"}, {})
    assert getattr(caught.value.__cause__, "code", None) == "http.bad_input"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"url": "ftp://example.com/file"},
        {"url": "http://x/{{ open"},
        {"url": "http://x", "method": "TRACE"},
        {"url": "http://x", "json_body": "a +"},
        {"url": "http://x", "max_retries": 99},
        {"url": "http://x", "retry": 1},
    ],
)
def test_bad_http_params(params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        registry.build("http.request", params)


# --- file.read -------------------------------------------------------------------------------


@pytest.fixture
async def data_dir(tmp_path: Path) -> AsyncIterator[Path]:
    async with open_store(None, data_dir=tmp_path / "data") as store:
        root = store.data_dir
        (root / "notes").mkdir()
        (root / "notes" / "faq.md").write_text("Q: why?\nA: because.\n")
        (root / "notes" / "conf.json").write_text(json.dumps({"a": 1}))
        (tmp_path / "outside.txt").write_text("secret")
        os.symlink(tmp_path / "outside.txt", root / "notes" / "link.txt")
        yield root


async def test_file_read_text_json_bytes(data_dir: Path) -> None:
    assert await run_one("file.read", {"path": "notes/faq.md"}, None) == "Q: why?\nA: because.\n"
    assert await run_one("file.read", {"format": "json"}, "notes/conf.json") == {"a": 1}
    raw = await run_one("file.read", {"format": "bytes"}, {"path": "notes/faq.md"})
    assert raw.startswith(b"Q: why?")


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("../outside.txt", "file.refused"),
        ("notes/link.txt", "file.refused"),
        ("/etc/hostname", "file.refused"),
        ("secret.key", "file.refused"),
        ("awel.db", "file.refused"),
        ("notes", "file.refused"),
        ("notes/nothing.md", "file.not_found"),
    ],
)
async def test_file_read_stays_inside(data_dir: Path, given: str, code: str) -> None:
    (data_dir / "secret.key").write_text("k")
    with pytest.raises(NodeError) as caught:
        await run_one("file.read", {}, given)
    assert caught.value.node == "node"
    assert getattr(caught.value.__cause__, "code", None) == code, given


async def test_file_read_limits(data_dir: Path) -> None:
    with pytest.raises(NodeError) as caught:
        await run_one("file.read", {"max_bytes": 5}, "notes/faq.md")
    assert getattr(caught.value.__cause__, "code", None) == "file.too_large"
    with pytest.raises(NodeError) as caught:
        await run_one("file.read", {"format": "json"}, "notes/faq.md")
    assert getattr(caught.value.__cause__, "code", None) == "file.unreadable"
    with pytest.raises(ValidationError):
        registry.build("file.read", {"format": "yaml"})


async def test_file_read_needs_the_store() -> None:
    with pytest.raises(NodeError) as caught:
        await run_one("file.read", {}, "x")
    assert getattr(caught.value.__cause__, "code", None) == "store.not_open"
