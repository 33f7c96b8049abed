"""The YAML flows of examples/ served by the live server with the real default model
(smollm2): the streaming chat endpoint read by the openai SDK, text-to-SQL on a SQLite
datasource, an HTTP API's answer summarised (the API is a stand-in on 127.0.0.1), and the
classifier that branches. A model this small answers poorly; shapes are checked, and the
guided answers (labels, SQL JSON) are held to their schema."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from openai import OpenAI

from operators.models import ModelSet, install_models
from operators.storage import Datasource, current_store
from server import app as server_app
from server.settings import Settings
from tests.datasource.conftest import make_sqlite
from tests.server.model_api_live import DATA_DIR, ROOT, LiveServer, require_built

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

EXAMPLES = ROOT / "examples"
TRIGGER = "/api/v1/awel/trigger"
T = TypeVar("T")

REPO = {
    "full_name": "eosphoros-ai/DB-GPT",
    "description": "AI Native Data App Development framework with AWEL and agents",
    "stargazers_count": 15000,
    "language": "Python",
}


def _on(live: LiveServer, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the server's event loop (where its store and model live)."""
    return asyncio.run_coroutine_threadsafe(coro, live._loop).result(60)


class StandIn:
    """GitHub's repository API, as far as the example reads it, on 127.0.0.1."""

    def __init__(self) -> None:
        app = web.Application()
        app.router.add_get("/repos/{owner}/{name}", self.repo)
        self.live = LiveServer(app)

    async def repo(self, request: web.Request) -> web.Response:
        wanted = f"{request.match_info['owner']}/{request.match_info['name']}"
        if wanted != REPO["full_name"]:
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response(REPO)


@pytest.fixture(scope="module")
def stand_in() -> Iterator[str]:
    api = StandIn()
    with api.live as live:
        yield live.url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, stand_in: str) -> Iterator[LiveServer]:
    require_built("smollm2")
    tmp = tmp_path_factory.mktemp("examples")
    # The HTTP example calls api.github.com; here it calls the stand-in instead.
    flows = tmp / "flows"
    flows.mkdir()
    for name in ("chat_stream", "text_to_sql", "http_summary", "classifier"):
        text = (EXAMPLES / f"{name}.yaml").read_text()
        (flows / f"{name}.yaml").write_text(text.replace("https://api.github.com", stand_in))
    shop = make_sqlite(tmp / "shop.sqlite")
    models = ModelSet.load(DATA_DIR, names=["smollm2"])
    previous = install_models(models)
    settings = Settings(data_dir=tmp / "data", reload=False)
    try:
        app = server_app.make_app(settings, shipped=sorted(flows.glob("*.yaml")))
        with LiveServer(app) as live:
            ds = Datasource(db_type="sqlite", db_name="shop", db_path=str(shop))
            _on(live, current_store().datasources.add(ds))
            yield live
            _on(live, models.aclose())
    finally:
        install_models(previous)


def _post(live: LiveServer, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    async def go() -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(live.url + TRIGGER + path, json=body) as r,
        ):
            return r.status, await r.json()

    return asyncio.run(go())


def test_streaming_chat_endpoint_with_the_openai_sdk(server: LiveServer) -> None:
    base = server.url + TRIGGER + "/examples/chat/v1"
    with OpenAI(base_url=base, api_key="none", max_retries=0) as client:
        stream = client.chat.completions.create(
            model="smollm2",
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            stream=True,
            max_tokens=24,
        )
        chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "Paris" in text, text
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_text_to_sql_endpoint(server: LiveServer) -> None:
    status, out = _post(server, "/examples/sql", {"question": "What are the names of the users?"})
    assert status == 200, out
    assert set(out) == {"question", "thoughts", "sql", "rows", "answer"}
    assert out["sql"].upper().startswith("SELECT") and "LIMIT" in out["sql"].upper(), out
    assert isinstance(out["rows"], list)


def test_http_api_summary(server: LiveServer) -> None:
    async def go() -> tuple[int, Any]:
        url = server.url + TRIGGER + "/examples/repo"
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, params={"repo": "eosphoros-ai/DB-GPT"}) as r,
        ):
            return r.status, await r.json()

    status, out = asyncio.run(go())
    assert status == 200, out
    assert isinstance(out, str) and out.strip(), out


def test_http_api_failure_names_the_node(server: LiveServer) -> None:
    async def go() -> tuple[int, Any]:
        url = server.url + TRIGGER + "/examples/repo"
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, params={"repo": "nobody/nothing"}) as r,
        ):
            return r.status, await r.json()

    status, out = asyncio.run(go())
    assert status == 502, out
    assert "404" in out["err_msg"], out


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("My order arrived broken and nobody answers my emails!", "complaint"),
        ("What are your opening hours on Sunday?", "question"),
    ],
)
def test_classifier_branches(server: LiveServer, text: str, label: str) -> None:
    status, out = _post(server, "/examples/triage", {"text": text})
    assert status == 200, out
    assert out.split(":")[0] in ("question", "complaint"), out
    # Only one branch ran: the reply is one of the two templates, whole.
    assert out in (
        "question: thanks for asking, our team will answer you shortly.",
        "complaint: we are sorry; a person will contact you today.",
    )
