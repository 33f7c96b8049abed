"""``/api/v1/app/list`` and ``/api/v1/dbgpts/list`` against the live server: the agents the
asking user installed and the chat flows, as DB-GPT's apps, in the app Result envelope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from operators.storage import current_store
from tests.server.conftest import running
from tests.userflows.kit import V1, Client, greeting

APPS = "/api/v1/app/list"


async def ok(resp: Any) -> Any:
    body = await resp.json()
    assert resp.status == 200 and body["success"] is True, body
    assert body["host_name"]
    return body["data"]


async def setup(client: Client) -> None:
    installs = current_store().agent_installs
    for user, name in (("default", "sql_helper"), ("ann", "translator")):
        await installs.put(
            user, name, label=name.title(), version="1.0", description=f"The {name}.",
            source="upload", file_name=f"{name}.zip",
        )  # fmt: skip
    for name, owner, category in (
        ("chatty", None, "chat_flow"),
        ("anns_chat", "ann", "chat_agent"),
        ("plain", None, "common"),
    ):
        text = greeting(name, endpoint=f"/t/{name}").replace(
            "description: Greets.", f"description: Greets.\ntags: {{flow_category: {category}}}"
        )
        headers = {"user-id": owner} if owner else {}
        resp = await client.post(f"{V1}/flows", json={"yaml": text}, headers=headers)
        assert (await resp.json())["success"], await resp.text()


async def test_apps_are_the_users_agents_and_the_chat_flows(tmp_path: Path) -> None:
    async with running(tmp_path) as client:
        await setup(client)
        everyone = await ok(await client.post(APPS, json={}))
        names = [a["app_name"] for a in everyone["app_list"]]
        # The default user's agent, then every chat flow (newest first); no common flow.
        assert names == ["Sql_Helper", "anns_chat", "chatty"]
        assert (everyone["total_count"], everyone["total_page"], everyone["current_page"]) == (
            3, 1, 1,
        )  # fmt: skip
        agent, flow = everyone["app_list"][0], everyone["app_list"][2]
        assert (agent["app_code"], agent["team_mode"]) == ("sql_helper", "native_app")
        assert agent["team_context"]["chat_scene"] == "chat_agent"
        assert agent["app_describe"] == "The sql_helper."
        assert (
            flow["team_mode"] == "awel_layout" and flow["team_context"]["chat_scene"] == "chat_flow"
        )
        assert flow["app_code"] == flow["team_context"]["uid"]
        for field in ("details", "param_need", "recommend_questions", "admins"):
            assert agent[field] == [] and flow[field] == []

        # ann sees her agent, her flow and nobody's, not the default user's agent.
        anns = await ok(await client.post(APPS, json={}, headers={"user-id": "ann"}))
        assert [a["app_name"] for a in anns["app_list"]] == ["Translator", "anns_chat", "chatty"]

        page = await ok(await client.post(f"{APPS}?page=2&page_size=2", json={}))
        assert [a["app_name"] for a in page["app_list"]] == ["chatty"]
        assert (page["total_count"], page["total_page"], page["current_page"]) == (3, 2, 2)
        beyond = await ok(await client.post(APPS, json={"page": 9, "page_size": 2}))
        assert beyond["app_list"] == [] and beyond["total_count"] == 3
        named = await ok(await client.post(APPS, json={"app_name": "CHAT"}))
        assert [a["app_name"] for a in named["app_list"]] == ["anns_chat", "chatty"]
        # DB-GPT's UI sends its whole app form; fields we do not read are ignored.
        form = {"is_collected": "false", "need_owner_info": "true", "app_codes": []}
        assert (await ok(await client.post(APPS, json=form)))["total_count"] == 3

        listed = await ok(await client.get("/api/v1/dbgpts/list"))
        assert [a["app_name"] for a in listed] == names


async def test_app_list_failures_name_the_field(tmp_path: Path) -> None:
    async with running(tmp_path) as client:
        assert (await ok(await client.post(APPS, json={}))) == {
            "total_count": 0, "total_page": 0, "current_page": 1, "page_size": 100, "app_list": [],
        }  # fmt: skip
        for body, field in (({"page": 0}, "page"), ({"page_size": 5000}, "page_size")):
            resp = await client.post(APPS, json=body)
            answer = await resp.json()
            assert resp.status == 400 and answer["success"] is False and answer["host_name"]
            assert field in answer["err_msg"] and answer["err_code"] == "E0001"
        refused = await client.post("/api/v1/dbgpts/list")
        assert refused.status == 405 and (await refused.json())["host_name"]


async def test_serve_apps_for_dbgpt_client(tmp_path: Path) -> None:
    # /api/v2/serve/apps: the same apps in the serve Result (no host_name), one by its code.
    async with running(tmp_path) as client:
        await setup(client)
        resp = await client.get("/api/v2/serve/apps")
        body = await resp.json()
        assert resp.status == 200 and body["success"] and "host_name" not in body, body
        apps = body["data"]["app_list"]
        assert [a["app_name"] for a in apps] == ["Sql_Helper", "anns_chat", "chatty"]
        for app in apps:
            one = await (await client.get(f"/api/v2/serve/apps/{app['app_code']}")).json()
            assert one["data"] == app, one
        # ann's agent is hers: the default user has no app of that name.
        missing = await client.get("/api/v2/serve/apps/translator")
        answer = await missing.json()
        assert missing.status == 404 and answer["success"] is False, answer
        assert "translator" in answer["err_msg"] and "host_name" not in answer
        anns = await client.get("/api/v2/serve/apps/translator", headers={"user-id": "ann"})
        assert (await anns.json())["data"]["app_code"] == "translator"
        plain = (await current_store().flows.find(name="plain"))[0]
        common = await client.get(f"/api/v2/serve/apps/{plain.uid}")
        assert common.status == 404
