"""The ``/variables`` routes through the running server (v1 and v2), every error they
answer, secrets masked in every answer, and a user flow using variables through its
trigger: a change seen by the next call, an unknown one named, a secret kept from an
echoing node but sent where it belongs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from operators.storage import current_store
from tests.server.conftest import running

FLOWS = Path(__file__).resolve().parents[2] / "flows" / "awel_flows"
SHIPPED = [FLOWS / "variables.py"]
V1 = "/api/v1/serve/awel"
V2 = "/api/v2/serve/awel"
SECRET = "sk-do-not-leak-4242"

Client = TestClient[web.Request, web.Application]


def body(key: str = "greeting", name: str = "text", **fields: Any) -> dict[str, Any]:
    return {"key": key, "name": name, "label": "Greeting", "value": "Bonjour", **fields}


async def ok(resp: Any, status: int = 200) -> Any:
    answer = await resp.json()
    assert resp.status == status and answer["success"] is True, answer
    return answer["data"]


async def failed(resp: Any, status: int) -> dict[str, Any]:
    answer: dict[str, Any] = await resp.json()
    assert resp.status == status and answer["success"] is False, (resp.status, answer)
    return answer


@pytest.mark.parametrize("base", [V1, V2])
async def test_create_get_list_keys_update_delete(tmp_path: Path, base: str) -> None:
    async with running(tmp_path, shipped=SHIPPED) as client:
        made = await ok(await client.post(f"{base}/variables", json=body()))
        assert made["id"] > 0 and made["value"] == "Bonjour"
        assert (made["key"], made["name"], made["scope"], made["category"]) == (
            "greeting",
            "text",
            "global",
            "common",
        )
        assert made["scope_key"] is None and made["user_name"] is None
        got = await ok(await client.get(f"{base}/variables/{made['id']}"))
        assert got == made
        for i in range(3):
            await ok(
                await client.post(
                    f"{base}/variables",
                    json=body(name=f"n{i}", value=str(i), value_type="int", scope="flow"),
                )
            )
        page = await ok(await client.get(f"{base}/variables?key=greeting&page=2&page_size=2"))
        assert (page["total_count"], page["total_pages"], page["page"], page["page_size"]) == (
            4,
            2,
            2,
            2,
        )
        assert [v["name"] for v in page["items"]] == ["n1", "n2"]
        assert [v["value"] for v in page["items"]] == [1, 2]
        flow_scope = await ok(await client.get(f"{base}/variables?key=greeting&scope=flow"))
        assert flow_scope["total_count"] == 3
        keys = await ok(await client.get(f"{base}/variables/keys"))
        assert [k["key"] for k in keys] == ["greeting"]
        assert keys[0]["label"] == "Greeting"
        changed = await ok(
            await client.put(
                f"{base}/variables/{made['id']}", json=body(value="Hola", description="hi")
            )
        )
        assert (changed["value"], changed["description"]) == ("Hola", "hi")
        kept = await ok(
            await client.put(f"{base}/variables/{made['id']}", json=body(value=None, label="G"))
        )
        assert (kept["value"], kept["label"]) == ("Hola", "G")
        gone = await ok(await client.delete(f"{base}/variables/{made['id']}"))
        assert gone["id"] == made["id"]
        await failed(await client.get(f"{base}/variables/{made['id']}"), 404)


async def test_errors_name_the_field(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=SHIPPED) as client:
        url = f"{V2}/variables"
        for sent, field in [
            (body(value_type="date"), "value_type"),
            (body(category="hidden"), "category"),
            (body(scope="planet"), "scope"),
            (body(value="x", value_type="int"), "value"),
            (body(value="1.5", value_type="int"), "value"),
            (body(value=1.5, value_type="int"), "value"),
            (body(value="maybe", value_type="bool"), "value"),
            (body(value="nan", value_type="float"), "value"),
            (body(value=10**400, value_type="float"), "value"),
            (body(value=3), "value"),
            (body(value="x" * 8193), "value"),
            (body(value="a\x00b"), "value"),
            (body(key="a\x00b"), "key"),
            ({"name": "n", "value": "v"}, "key"),
            ({"key": "k", "value": "v"}, "name"),
            (body(key=""), "key"),
            (body(value=None), "value"),
        ]:
            answer = await failed(await client.post(url, json=sent), 400)
            assert field in answer["err_msg"], (sent, answer)
        made = await ok(await client.post(url, json=body()))
        taken = await failed(await client.post(url, json=body()), 400)
        assert "already exists" in taken["err_msg"]
        for method in ("PUT", "DELETE", "GET"):
            sent = {"json": body()} if method == "PUT" else {}
            await failed(await client.request(method, f"{url}/999999", **sent), 404)
        await failed(await client.get(f"{url}/not-a-number"), 400)
        bad_type = await failed(
            await client.put(f"{url}/{made['id']}", json=body(value=None, value_type="int")), 400
        )
        assert "value" in bad_type["err_msg"]
        # Accepted forms: numbers as text, bools as text.
        for value, kind, shown in [("7", "int", 7), ("2.5", "float", 2.5), ("TRUE", "bool", True)]:
            done = await ok(
                await client.post(url, json=body(name=f"as_{kind}", value=value, value_type=kind))
            )
            assert done["value"] == shown


async def test_a_secret_is_masked_in_every_answer(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=SHIPPED) as client:
        url = f"{V1}/variables"
        texts: list[str] = []

        async def call(method: str, path: str, **kwargs: Any) -> Any:
            resp = await client.request(method, path, **kwargs)
            texts.append(await resp.text())
            return await resp.json()

        made = (
            await call("POST", url, json=body("api", "token", value=SECRET, category="secret"))
        )["data"]
        assert made["value"] == "******"
        vid = made["id"]
        assert (await call("GET", f"{url}/{vid}"))["data"]["value"] == "******"
        assert (await call("GET", f"{url}?key=api"))["data"]["items"][0]["value"] == "******"
        # Sending the mask back keeps the secret; the answer is masked too.
        kept = await call(
            "PUT", f"{url}/{vid}", json=body("api", "token", value="******", category="secret")
        )
        assert kept["data"]["value"] == "******"
        # A secret turned common with the mask would be shown next time: refused.
        refused = await call(
            "PUT", f"{url}/{vid}", json=body("api", "token", value="******", category="common")
        )
        assert refused["success"] is False and "value" in refused["err_msg"]
        # A value that does not fit is refused without being repeated.
        await call(
            "PUT",
            f"{url}/{vid}",
            json=body("api", "token", value=SECRET, category="secret", value_type="int"),
        )
        await call("GET", f"{url}/keys")
        stored = await current_store().variables.find("api", "token")
        assert stored is not None and stored.value == SECRET
        deleted = await call("DELETE", f"{url}/{vid}")
        assert deleted["data"]["value"] == "******"
        assert all(SECRET not in t for t in texts), [t for t in texts if SECRET in t]


USER_FLOW = """\
name: vars_greet
trigger:
  http: {endpoint: /vars/greet, methods: POST, request_body: dict}
nodes:
  greet: {op: awel.format, params: {template: "${greeting:text}, {{ name }}"}}
edges:
  - trigger >> greet
"""

ECHO_SECRET = """\
name: vars_echo
trigger:
  http: {endpoint: /vars/echo, methods: POST, request_body: dict}
nodes:
  echo: {op: awel.format, params: {template: "token: ${api:token}"}}
edges:
  - trigger >> echo
"""

CALL_API = """\
name: vars_call
trigger:
  http: {endpoint: /vars/call, methods: POST, request_body: dict}
nodes:
  call:
    op: http.request
    params:
      url: "URL/check"
      headers: {Authorization: "Bearer ${api:token}"}
      allowed_hosts: [127.0.0.1]
edges:
  - trigger >> call
"""


async def test_a_flow_resolves_its_variables_at_each_call(tmp_path: Path) -> None:
    seen: list[str] = []

    async def check(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.json_response(
            {"authorized": request.headers.get("Authorization") == "Bearer " + SECRET}
        )

    api = web.Application()
    api.router.add_get("/check", check)
    async with TestServer(api, host="127.0.0.1") as upstream:
        dags = tmp_path / "data" / "dags"
        dags.mkdir(parents=True)
        (dags / "greet.yaml").write_text(USER_FLOW)
        (dags / "echo.yaml").write_text(ECHO_SECRET)
        (dags / "call.yaml").write_text(
            CALL_API.replace("URL", str(upstream.make_url("")).rstrip("/"))
        )
        async with running(tmp_path, shipped=SHIPPED) as client:
            greet = "/api/v1/awel/trigger/vars/greet"
            unknown = await client.post(greet, json={"name": "Ann"})
            said = await unknown.text()
            assert unknown.status == 422 and "${greeting:text}" in said and "'greet'" in said
            made = await ok(await client.post(f"{V1}/variables", json=body()))
            resp = await client.post(greet, json={"name": "Ann"})
            assert resp.status == 200 and "Bonjour, Ann" in await resp.text()
            # Changed: the next call sees it, with no reload.
            await ok(await client.put(f"{V1}/variables/{made['id']}", json=body(value="Hola")))
            resp = await client.post(greet, json={"name": "Ann"})
            assert "Hola, Ann" in await resp.text()

            await ok(
                await client.post(
                    f"{V1}/variables",
                    json=body("api", "token", value=SECRET, category="secret"),
                )
            )
            echoed = await client.post("/api/v1/awel/trigger/vars/echo", json={})
            text = await echoed.text()
            assert echoed.status == 422 and SECRET not in text
            assert "${api:token} is a secret" in text
            called = await client.post("/api/v1/awel/trigger/vars/call", json={})
            answer = await called.text()
            assert called.status == 200 and '"authorized": true' in answer.replace(
                '"authorized":true', '"authorized": true'
            ), answer
            assert seen == ["Bearer " + SECRET] and SECRET not in answer
