"""API keys on every route of every app, and other origins' state-changing requests refused.

The walks go over each app's whole route table (shipped flows, user flows, the app's own
routes), so a route added later is covered without anyone remembering to list it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate

from operators.models import install_models
from server.app import ROUTES
from server.auth import OPEN_PATHS
from server.errors import ErrorStyle
from server.flows import FLOW_ERRORS_PATH
from server.model_api import make_model_app
from server.settings import Settings

from .conftest import running
from .model_api_live import fake_models

Client = TestClient[web.Request, web.Application]

KEY = "k-secret"
CLUSTER_KEY = "c-secret"
UI = "https://ui.example"
EVIL = "https://evil.example"
HELLO = "/api/v1/awel/trigger/examples/hello"
ECHO = "/api/v1/awel/trigger/echo"

#: A user flow that changes state: it counts the calls that reached it.
ECHO_FLOW = """
from awel import DAG, MapOperator
from awel.trigger import HttpTrigger

CALLS = []


class Echo(MapOperator[dict, dict]):
    async def map(self, body: dict) -> dict:
        CALLS.append(body)
        return body


with DAG("echo") as dag:
    HttpTrigger("/echo", methods=["POST", "DELETE"], request_body=dict) >> Echo(task_name="echo")
"""


def _with_echo(tmp_path: Path) -> None:
    dags = tmp_path / "data" / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    (dags / "echo.py").write_text(ECHO_FLOW)


def echo_calls(client: Client) -> list[Any]:
    route, _ = client.app[ROUTES].table.match(ECHO)
    assert route is not None
    node = route["POST"].node
    calls: list[Any] = type(node).map.__globals__["CALLS"]  # type: ignore[attr-defined]
    return calls


@pytest.fixture(autouse=True)
def models() -> Iterator[None]:
    # The model API's flows find the fake models; nothing is loaded from disk.
    previous = install_models(fake_models())
    yield
    install_models(previous)


@asynccontextmanager
async def webserver(tmp_path: Path, **settings: Any) -> AsyncIterator[Client]:
    """Every webserver flow (shipped and the echo user flow)."""
    _with_echo(tmp_path)
    async with running(tmp_path, **settings) as client:
        yield client


@asynccontextmanager
async def model_api(tmp_path: Path, **settings: Any) -> AsyncIterator[Client]:
    app = make_model_app(Settings(data_dir=tmp_path / "data", reload=False, **settings))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


_PARAM = re.compile(r"\{\w+\}")


def flow_requests(client: Client) -> list[tuple[str, str, ErrorStyle]]:
    """(method, path, error style) of every method of every flow route of the app (but the
    open probes: the controller's, the flow serve module's)."""
    out: list[tuple[str, str, ErrorStyle]] = []
    for route in client.app[ROUTES].table.routes:
        path = _PARAM.sub("x", route.path)
        if route.path in OPEN_PATHS:
            continue
        out.extend((method, path, route.style) for method in sorted(route.methods))
    return out


def assert_refusal(body: Any, style: ErrorStyle, status: int, code: str, where: str) -> None:
    if style is ErrorStyle.OPENAI:
        assert body["error"]["code"] == code, where
        assert body["error"]["message"], where
    else:
        assert body["success"] is False and body["err_code"] == str(status), where
        assert body["err_msg"], where
        assert ("host_name" in body) == (style is ErrorStyle.RESULT), where


async def walk_without_key(client: Client, extra: list[tuple[str, str, ErrorStyle]]) -> int:
    """Every route refuses a request without a key (and one with a wrong key) with a 401 in
    its own error style; the number of requests checked."""
    requests = flow_requests(client) + extra
    wrong: list[str] = []
    for method, path, style in requests:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"X-Api-Key": "nope"}):
            resp = await client.request(method, path, json={}, headers=headers)
            where = f"{method} {path} {headers}"
            if resp.status != 401:
                wrong.append(f"{where}: {resp.status}")
                continue
            assert resp.headers["WWW-Authenticate"] == "Bearer", where
            assert_refusal(await resp.json(), style, 401, "invalid_api_key", where)
    assert not wrong, "routes open without a key:\n" + "\n".join(wrong)
    return len(requests)


# --- keys ----------------------------------------------------------------------------------


async def test_every_webserver_route_needs_a_key(tmp_path: Path) -> None:
    async with webserver(tmp_path, api_keys=[KEY]) as client:
        infra = [
            ("GET", "/metrics", ErrorStyle.SERVE_RESULT),
            ("GET", FLOW_ERRORS_PATH, ErrorStyle.SERVE_RESULT),
            ("GET", "/api/v1/no/such/route", ErrorStyle.SERVE_RESULT),
            ("POST", "/v1/no/such/route", ErrorStyle.OPENAI),
        ]
        checked = await walk_without_key(client, infra)
        # The walk saw the whole table: chat, datasources, editor, cluster, user flows...
        assert checked > 60
        styles = {style for _, _, style in flow_requests(client)}
        assert styles == set(ErrorStyle)
        # And with the key every route lets the request through to the flow.
        key = {"Authorization": f"Bearer {KEY}"}
        for method, path, _ in flow_requests(client):
            if "start" in path or "stop" in path:
                continue  # would load or unload the real models
            resp = await client.request(method, path, json={}, headers=key)
            assert resp.status != 401, f"{method} {path}"


async def test_every_model_api_route_needs_a_key(tmp_path: Path) -> None:
    async with model_api(tmp_path, api_keys=[KEY]) as client:
        extra = [("GET", "/metrics", ErrorStyle.OPENAI), ("GET", "/nothing", ErrorStyle.OPENAI)]
        assert await walk_without_key(client, extra) >= 6


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {KEY}"},
        {"Authorization": f"bearer  {KEY} "},
        {"X-Api-Key": KEY},
        # The cluster key is one more key.
        {"Authorization": f"Bearer {CLUSTER_KEY}"},
    ],
)
async def test_each_key_form_is_accepted(tmp_path: Path, headers: dict[str, str]) -> None:
    async with webserver(tmp_path, api_keys=["other", KEY], cluster_key=CLUSTER_KEY) as client:
        resp = await client.get(HELLO, params={"name": "Al"}, headers=headers)
        assert (resp.status, await resp.json()) == (200, "Hello, Al, your age is 18")
        resp = await client.post(ECHO, json={"a": 1}, headers=headers)
        assert resp.status == 200 and echo_calls(client) == [{"a": 1}]
        resp = await client.get("/metrics", headers=headers)
        assert resp.status == 200
    async with model_api(tmp_path, api_keys=[KEY], cluster_key=CLUSTER_KEY) as client:
        resp = await client.get("/api/v1/models", headers=headers)
        assert resp.status == 200


async def test_other_forms_are_not_keys(tmp_path: Path) -> None:
    async with webserver(tmp_path, api_keys=[KEY]) as client:
        for headers in (
            {"Authorization": KEY},
            {"Authorization": f"Basic {KEY}"},
            {"Authorization": "Bearer"},
            {"Authorization": f"Bearer {KEY}x"},
            {"Authorization": f"Bearer {KEY[:-1]}"},
            {"Cookie": f"api_key={KEY}"},
        ):
            resp = await client.get(HELLO, params={"name": "Al"}, headers=headers)
            assert resp.status == 401, headers
        # Never from the query string (it lands in access logs).
        resp = await client.get(HELLO, params={"name": "Al", "api_key": KEY})
        assert resp.status == 401


async def test_probes_and_docs_stay_open(tmp_path: Path) -> None:
    async with webserver(tmp_path, api_keys=[KEY]) as client:
        assert (await client.get("/metrics")).status == 401
        for path in ("/health", "/api/health", "/docs", "/openapi.json"):
            resp = await client.get(path)
            assert resp.status == 200, path
        for path in ("/api/v1/serve/awel/health", "/api/v2/serve/awel/health"):
            resp = await client.get(path)
            assert resp.status == 200 and await resp.json() == {"status": "ok"}, path
            assert (await client.get(path.replace("health", "test_auth"))).status == 401
        resp = await client.get("/docs/static/swagger-ui.css")
        assert resp.status == 200
        # Preflights carry no credentials (aiohttp-cors is off: the dispatcher's 405).
        resp = await client.options(ECHO)
        assert resp.status == 405
    async with model_api(tmp_path, api_keys=[KEY]) as client:
        for path in ("/health", "/docs", "/openapi.json"):
            resp = await client.get(path)
            assert resp.status == 200, path


#: Spellings of closed routes that start like, or walk back from, an open one.
SPELLINGS = [
    "/health/",
    "/api/health/",
    "/docs/",
    "/docsx",
    "/health/../metrics",
    "/docs/static/../../metrics",
    "/docs/static/..%2F..%2Fmetrics",
    "/docs%2F..%2Fmetrics",
    "/openapi.json/../api/v1/awel/trigger/echo",
]


async def test_no_spelling_of_a_path_opens_a_closed_route(tmp_path: Path) -> None:
    async with webserver(tmp_path, api_keys=[KEY]) as client:
        for path in SPELLINGS:
            resp = await client.get(path)
            assert resp.status in (401, 403, 404), path
            assert b"awel_http_requests_total" not in await resp.read()
            resp = await client.post(path, json={})
            assert resp.status in (401, 403, 404, 405), path
        assert echo_calls(client) == []


def test_blank_keys_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="blank"):
        Settings(api_keys=["a", " "])
    with pytest.raises(ValueError, match="blank"):
        Settings(cluster_key="  ")
    assert Settings(api_keys=[" a "]).api_keys == ["a"]
    monkeypatch.setenv("AWEL_CLUSTER_KEY", "ck")
    assert Settings.load(None).cluster_key == "ck"


# --- origins -------------------------------------------------------------------------------


async def test_every_state_changing_route_refuses_a_foreign_origin(tmp_path: Path) -> None:
    async with webserver(tmp_path) as client:
        changing = [r for r in flow_requests(client) if r[0] != "GET"]
        assert len(changing) > 30
        for method, path, style in changing:
            resp = await client.request(method, path, json={}, headers={"Origin": EVIL})
            where = f"{method} {path}"
            assert resp.status == 403, where
            body = await resp.json()
            assert_refusal(body, style, 403, "origin_not_allowed", where)
        assert echo_calls(client) == []
    async with model_api(tmp_path) as client:
        changing = [r for r in flow_requests(client) if r[0] != "GET"]
        assert len(changing) >= 3
        for method, path, _ in changing:
            resp = await client.request(method, path, json={}, headers={"Origin": EVIL})
            assert resp.status == 403, f"{method} {path}"
            error = (await resp.json())["error"]
            assert error["code"] == "origin_not_allowed"
            assert error["type"] == "permission_error"
            assert EVIL in error["message"] and "cors_origins" in error["message"]


async def test_a_form_posted_from_another_site_does_not_run(tmp_path: Path) -> None:
    async with webserver(tmp_path) as client:
        for headers in (
            {"Origin": EVIL},
            {"Origin": "null"},  # sandboxed frames, file:// pages
            {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},
            # Another port of the same host is another origin.
            {"Origin": f"http://127.0.0.1:{(client.port or 0) + 1}"},
        ):
            resp = await client.post(ECHO, data={"a": "1"}, headers=headers)
            assert resp.status == 403, headers
            body = await resp.json()
            assert "cors_origins" in body["err_msg"], headers
            resp = await client.delete(ECHO, headers=headers)
            assert resp.status == 403, headers
        assert echo_calls(client) == []


async def test_requests_without_an_origin_and_from_the_own_origin_run(tmp_path: Path) -> None:
    async with webserver(tmp_path) as client:
        own = f"http://127.0.0.1:{client.port}"
        for headers in (
            {},  # curl, SDKs, DB-GPT's Python client
            {"Sec-Fetch-Site": "same-origin"},
            {"Sec-Fetch-Site": "none"},
            {"Origin": own, "Sec-Fetch-Site": "same-origin"},
            {"Origin": own.upper()},
            # Behind a TLS proxy that keeps the Host header.
            {"Origin": f"https://127.0.0.1:{client.port}", "X-Forwarded-Proto": "https"},
        ):
            resp = await client.post(ECHO, json={"h": len(headers)}, headers=headers)
            assert resp.status == 200, headers
        assert len(echo_calls(client)) == 6
        # A page elsewhere is still refused.
        resp = await client.post(ECHO, json={}, headers={"Origin": EVIL})
        assert resp.status == 403
        # Reading is unaffected by any origin.
        resp = await client.get(HELLO, params={"name": "Al"}, headers={"Origin": EVIL})
        assert resp.status == 200
        resp = await client.head(HELLO, params={"name": "Al"}, headers={"Origin": EVIL})
        assert resp.status == 200


async def test_listed_origins_may_post(tmp_path: Path) -> None:
    async with webserver(tmp_path, cors_origins=[UI + "/"]) as client:
        resp = await client.post(ECHO, json={}, headers={"Origin": UI})
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == UI
        resp = await client.post(
            ECHO, json={}, headers={"Origin": UI, "Sec-Fetch-Site": "cross-site"}
        )
        assert resp.status == 200
        resp = await client.post(ECHO, json={}, headers={"Origin": EVIL})
        assert resp.status == 403
    async with webserver(tmp_path, cors_origins=["*"]) as client:
        for headers in ({"Origin": EVIL}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
            resp = await client.post(ECHO, json={}, headers=headers)
            assert resp.status == 200, headers
    async with model_api(tmp_path, cors_origins=[UI]) as client:
        chat = {"model": "fake-llm", "messages": [{"role": "user", "content": "hi"}]}
        resp = await client.post("/api/v1/chat/completions", json=chat, headers={"Origin": UI})
        assert resp.status == 200
        resp = await client.post("/api/v1/chat/completions", json=chat, headers={"Origin": EVIL})
        assert resp.status == 403


async def test_a_key_does_not_lift_the_origin_check(tmp_path: Path) -> None:
    async with webserver(tmp_path, api_keys=[KEY]) as client:
        headers = {"Authorization": f"Bearer {KEY}", "Origin": EVIL}
        resp = await client.post(ECHO, json={}, headers=headers)
        assert resp.status == 403
        assert echo_calls(client) == []


async def test_preflights_pass_and_a_401_reaches_the_listed_page(tmp_path: Path) -> None:
    async with webserver(tmp_path, api_keys=[KEY], cors_origins=[UI]) as client:
        preflight = {
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        }
        resp = await client.options(ECHO, headers=preflight)
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == UI
        # The page can read why it was refused.
        resp = await client.post(ECHO, json={}, headers={"Origin": UI})
        assert resp.status == 401
        assert resp.headers["Access-Control-Allow-Origin"] == UI
        resp = await client.post(
            ECHO, json={"ok": 1}, headers={"Origin": UI, "Authorization": f"Bearer {KEY}"}
        )
        assert resp.status == 200 and echo_calls(client) == [{"ok": 1}]


async def test_the_document_says_which_routes_need_a_key(tmp_path: Path) -> None:
    async with webserver(tmp_path, api_keys=[KEY]) as client:
        doc = await (await client.get("/openapi.json")).json()
        validate(doc)
        schemes = doc["components"]["securitySchemes"]
        assert schemes["bearer"] == {"type": "http", "scheme": "bearer"}
        assert schemes["apiKey"]["name"] == "X-Api-Key"
        assert doc["security"] == [{"bearer": []}, {"apiKey": []}]
        assert doc["paths"]["/health"]["get"]["security"] == []
        assert doc["paths"]["/api/health"]["get"]["security"] == []
        assert doc["paths"]["/api/v2/serve/awel/health"]["get"]["security"] == []
        assert "security" not in doc["paths"]["/api/v2/serve/awel/test_auth"]["get"]
        assert "security" not in doc["paths"]["/metrics"]["get"]
    async with webserver(tmp_path) as client:
        doc = await (await client.get("/openapi.json")).json()
        assert "security" not in doc and "securitySchemes" not in doc["components"]
