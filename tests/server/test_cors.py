"""CORS through aiohttp-cors, flow routes included; no CORS headers at all when it is off."""

from __future__ import annotations

from pathlib import Path

from .conftest import FLOWS as SHIPPED_DIR
from .conftest import running

HELLO = [SHIPPED_DIR / "awel_examples" / "hello.py"]
HELLO_ROUTE = "/api/v1/awel/trigger/examples/hello"
UI = "https://ui.example"


def preflight(origin: str, method: str = "GET") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "Authorization, Content-Type",
    }


async def test_preflight_on_a_flow_route_allows_the_origin_method_and_headers(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, shipped=HELLO, cors_origins=[UI]) as client:
        resp = await client.options(HELLO_ROUTE, headers=preflight(UI))
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == UI
        assert resp.headers["Access-Control-Allow-Methods"] == "GET"
        allowed = resp.headers["Access-Control-Allow-Headers"].lower().replace(" ", "")
        assert set(allowed.split(",")) == {"authorization", "content-type"}
        assert "Access-Control-Allow-Credentials" not in resp.headers
        # Infrastructure routes are covered too.
        resp = await client.options("/health", headers=preflight(UI))
        assert resp.headers["Access-Control-Allow-Origin"] == UI


async def test_a_simple_request_with_an_origin_gets_the_allow_origin_header(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, shipped=HELLO, cors_origins=[UI]) as client:
        resp = await client.get(HELLO_ROUTE, params={"name": "x"}, headers={"Origin": UI})
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == UI
        assert await resp.json() == "Hello, x, your age is 18"
        # Errors from the dispatcher carry it too, so the browser shows them to the page.
        resp = await client.get("/api/v1/nothing", headers={"Origin": UI})
        assert resp.status == 404
        assert resp.headers["Access-Control-Allow-Origin"] == UI
        # The dispatcher still answers a method the flow does not declare, in JSON.
        resp = await client.post(HELLO_ROUTE, headers={"Origin": UI})
        assert resp.status == 405
        assert (await resp.json())["err_code"] == "405"


async def test_an_origin_not_listed_gets_no_cors_headers(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=HELLO, cors_origins=[UI]) as client:
        other = "https://elsewhere.example"
        resp = await client.options(HELLO_ROUTE, headers=preflight(other))
        assert resp.status == 403
        assert "Access-Control-Allow-Origin" not in resp.headers
        resp = await client.get(HELLO_ROUTE, params={"name": "x"}, headers={"Origin": other})
        assert resp.status == 200
        assert "Access-Control-Allow-Origin" not in resp.headers


async def test_star_allows_any_origin(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=HELLO, cors_origins=["*"]) as client:
        origin = "http://localhost:3000"
        resp = await client.options(HELLO_ROUTE, headers=preflight(origin))
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == origin
        resp = await client.get(HELLO_ROUTE, params={"name": "x"}, headers={"Origin": origin})
        assert resp.headers["Access-Control-Allow-Origin"] == origin


async def test_cors_off_by_default_adds_no_headers(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=HELLO) as client:
        resp = await client.get(HELLO_ROUTE, params={"name": "x"}, headers={"Origin": UI})
        assert resp.status == 200
        assert not [h for h in resp.headers if h.lower().startswith("access-control-")]
        # OPTIONS is just another method the flow does not declare.
        resp = await client.options(HELLO_ROUTE, headers=preflight(UI))
        assert resp.status == 405
        assert not [h for h in resp.headers if h.lower().startswith("access-control-")]
