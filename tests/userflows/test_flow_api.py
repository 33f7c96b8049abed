"""The flow API through the running server: saving, deploying, versions, errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.server.conftest import running

from . import slow
from .kit import BROKEN, CRUD, SLOW, V1, V2, failed, greeting, ok, say


async def test_save_a_draft_then_deploy_and_undeploy(tmp_path: Path) -> None:
    dags = tmp_path / "data" / "dags"
    async with running(tmp_path, shipped=CRUD) as client:
        draft = await ok(await client.post(f"{V1}/flows", json={"yaml": greeting()}))
        uid = draft["uid"]
        assert draft["name"] == draft["label"] == draft["dag_id"] == "greet"
        assert draft["state"] == "initializing" and draft["revision"] == 1
        assert draft["description"] == "Greets."
        # A draft lives in the store only: not in the folder, not served.
        assert not (dags / "greet.yaml").exists()
        assert (await say(client))[0] == 404
        live = await ok(await client.put(f"{V1}/flows/{uid}", json={"state": "deployed"}))
        assert live["state"] == "running" and live["revision"] == 2
        assert (await say(client)) == (200, '"Hello, ann"')
        assert (dags / "greet.yaml").read_text() == greeting()
        assert live["metadata"]["triggers"] == [
            {
                "trigger_type": "http",
                "path": "/api/v1/awel/trigger/t/greet",
                "methods": ["POST"],
                "trigger_mode": "command",
            }
        ]
        got = await ok(await client.get(f"{V1}/flows/{uid}"))
        assert got["yaml"] == greeting() and got["state"] == "running"
        off = await ok(await client.put(f"{V1}/flows/{uid}", json={"state": "developing"}))
        assert off["state"] == "developing"
        assert (await say(client))[0] == 404 and not (dags / "greet.yaml").exists()
        gone = await ok(await client.delete(f"{V1}/flows/{uid}"))
        assert gone["uid"] == uid
        assert "no flow" in await failed(await client.get(f"{V1}/flows/{uid}"), 404)


async def test_flow_data_is_drawn_in_dbgpt_shapes(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=CRUD) as client:
        flow = await ok(await client.post(f"{V1}/flows", json={"yaml": greeting()}))
        data = flow["flow_data"]
        trigger_id = "operator_trigger.http___$$___trigger___$$___v1_0"
        say_id = "operator_awel.format___$$___common___$$___v1_0"
        assert [n["id"] for n in data["nodes"]] == [trigger_id, say_id]
        node = data["nodes"][1]
        assert node["type"] == "customNode" and node["data"]["name"] == "awel.format"
        assert node["data"]["custom_label"] == "say"
        assert node["data"]["flow_type"] == "operator"
        template = next(p for p in node["data"]["parameters"] if p["name"] == "template")
        assert template["value"] == "Hello, {{ who }}"
        assert data["edges"] == [
            {
                "id": f"{trigger_id}|{say_id}",
                "source": trigger_id,
                "target": say_id,
                "source_order": 0,
                "target_order": 0,
                "source_handle": f"{trigger_id}|outputs|0",
                "target_handle": f"{say_id}|inputs|0",
                "type": "buttonedge",
            }
        ]
        assert data["viewport"] == {"x": 0, "y": 0, "zoom": 1}


async def test_flow_data_alone_is_mapped_and_named_as_dbgpt_names(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=CRUD) as client:
        drawn = (await ok(await client.post(f"{V1}/flows", json={"yaml": greeting()})))["flow_data"]
        # DB-GPT's web UI sends a drawing, a name and no label.
        sent = {"name": "my flow", "flow_category": "common", "flow_data": drawn}
        made = await ok(await client.post(f"{V1}/flows", json=sent))
        assert made["label"] == "my flow" and made["name"] == "common_my_flow"
        assert "op: awel.format" in made["yaml"] and "trigger >> say" in made["yaml"]
        assert made["flow_data"]["edges"][0]["source"] == drawn["edges"][0]["source"]
        # A node DB-GPT has and we do not is refused by name.
        foreign = {
            "id": "x_0",
            "data": {"name": "llm_operator", "type_cls": "dbgpt.core.LLMOperator"},
        }
        bad = {"name": "other", "label": "Other", "flow_data": {"nodes": [foreign], "edges": []}}
        message = await failed(await client.post(f"{V1}/flows", json=bad), 400)
        assert "dbgpt.core.LLMOperator" in message and "nodes[0]" in message
        resource = {"id": "r_0", "data": {"flow_type": "resource", "type_cls": "dbgpt.X"}}
        bad["flow_data"] = {"nodes": [resource], "edges": []}
        assert "resource 'dbgpt.X'" in await failed(await client.post(f"{V1}/flows", json=bad), 400)


async def test_an_invalid_flow_is_refused_with_every_problem_and_the_deployed_one_serves(
    tmp_path: Path,
) -> None:
    dags = tmp_path / "data" / "dags"
    async with running(tmp_path, shipped=CRUD) as client:
        live = await ok(
            await client.post(f"{V1}/flows", json={"yaml": greeting(), "state": "deployed"})
        )
        message = await failed(
            await client.put(f"{V1}/flows/{live['uid']}", json={"yaml": BROKEN}), 400
        )
        assert "4 problem(s)" in message  # b also lacks its template
        assert "greet.yaml:5:" in message and "awel.formatt" in message
        assert "greet.yaml:6:" in message and "templat" in message
        assert "greet.yaml:8:" in message and "unknown node 'c'" in message
        assert (await say(client)) == (200, '"Hello, ann"')
        assert (dags / "greet.yaml").read_text() == greeting()
        same = await ok(await client.get(f"{V1}/flows/{live['uid']}"))
        assert same["revision"] == live["revision"] and same["yaml"] == greeting()
        # A new flow that does not load is not saved at all.
        await failed(
            await client.post(f"{V1}/flows", json={"yaml": BROKEN.replace("greet", "x")}), 400
        )
        assert (await ok(await client.get(f"{V1}/flows")))["total_count"] == 1


async def test_a_route_taken_is_refused_without_changing_what_is_served(tmp_path: Path) -> None:
    dags = tmp_path / "data" / "dags"
    async with running(tmp_path, shipped=CRUD) as client:
        await ok(await client.post(f"{V1}/flows", json={"yaml": greeting(), "state": "deployed"}))
        # Another flow, at the same route, sorting first in the folder.
        rival = greeting("a_rival", word="Bye")
        body = {"yaml": rival, "state": "deployed"}
        message = await failed(await client.post(f"{V1}/flows", json=body), 409)
        assert "/t/greet" in message
        assert (await say(client)) == (200, '"Hello, ann"')
        assert sorted(p.name for p in dags.iterdir()) == ["greet.yaml"]
        assert (await ok(await client.get(f"{V1}/flows")))["total_count"] == 1
        # A trigger outside the trigger prefix is refused too.
        outside = greeting("outside").replace("endpoint: /t/greet", "path: /api/v1/chat/x")
        await failed(
            await client.post(f"{V1}/flows", json={"yaml": outside, "state": "deployed"}), 409
        )


async def test_update_serves_the_new_version_and_a_request_in_flight_finishes(
    tmp_path: Path,
) -> None:
    slow.reset()
    async with running(tmp_path, shipped=CRUD, flow_api_code=True) as client:
        live = await ok(await client.post(f"{V1}/flows", json={"yaml": SLOW, "state": "deployed"}))
        held = asyncio.create_task(
            client.post("/api/v1/awel/trigger/t/greet", json={"user_input": "me"})
        )
        await asyncio.wait_for(slow.started.wait(), 10)
        new = await ok(await client.put(f"{V1}/flows/{live['uid']}", json={"yaml": greeting()}))
        assert new["state"] == "running" and new["revision"] == live["revision"] + 1
        assert (await say(client)) == (200, '"Hello, ann"')
        slow.release.set()
        resp = await asyncio.wait_for(held, 10)
        assert resp.status == 200 and "held me" in await resp.text()


async def test_versions_and_rollback(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=CRUD) as client:
        live = await ok(
            await client.post(f"{V1}/flows", json={"yaml": greeting(), "state": "deployed"})
        )
        uid = live["uid"]
        await ok(await client.put(f"{V1}/flows/{uid}", json={"yaml": greeting(word="Hi")}))
        assert (await say(client))[1] == '"Hi, ann"'
        page = await ok(await client.get(f"{V1}/flows/{uid}/versions"))
        assert page["total_count"] == 2
        assert [(v["version"], v["current"]) for v in page["items"]] == [(2, True), (1, False)]
        assert page["items"][1]["yaml"] == greeting()
        back = await ok(await client.post(f"{V1}/flows/{uid}/rollback", json={"version": 1}))
        assert back["revision"] == 3 and back["yaml"] == greeting() and back["state"] == "running"
        assert (await say(client))[1] == '"Hello, ann"'
        notes = [
            v["note"] for v in (await ok(await client.get(f"{V1}/flows/{uid}/versions")))["items"]
        ]
        assert notes[0] == "rollback:1"
        message = await failed(
            await client.post(f"{V1}/flows/{uid}/rollback", json={"version": 9}), 404
        )
        assert "no version 9" in message
        await failed(await client.post(f"{V1}/flows/{uid}/rollback", json={}), 400)


async def test_listing_paging_chat_flows_and_user_scope(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=CRUD) as client:
        for i in range(3):
            text = greeting(f"f{i}", endpoint=f"/t/{i}")
            await ok(
                await client.post(f"{V1}/flows", json={"yaml": text}, headers={"user-id": "ann"})
            )
        chat = greeting("chatty", endpoint="/t/chat").replace(
            "description: Greets.", "description: Greets.\ntags: {flow_category: chat_flow}"
        )
        await ok(await client.post(f"{V1}/flows?user_name=bob", json={"yaml": chat}))
        page = await ok(await client.get(f"{V1}/flows?page=1&page_size=2"))
        assert page["total_count"] == 4 and page["total_pages"] == 2 and len(page["items"]) == 2
        assert (await ok(await client.get(f"{V1}/flows?user_name=ann")))["total_count"] == 3
        named = await ok(await client.get(f"{V1}/flows?name=f1"))
        assert [f["name"] for f in named["items"]] == ["f1"]
        chats = await ok(await client.get(f"{V1}/chat/flows"))
        assert [f["name"] for f in chats["items"]] == ["chatty"]
        assert chats["items"][0]["flow_category"] == "chat_flow"
        # bob's flow is invisible, and unchangeable, to ann.
        uid = chats["items"][0]["uid"]
        await failed(await client.get(f"{V1}/flows/{uid}", headers={"user-id": "ann"}), 404)
        await failed(await client.delete(f"{V1}/flows/{uid}?user_name=ann"), 404)
        await failed(await client.get(f"{V1}/flows?page=0"), 400)


async def test_bad_input_names_the_field(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=CRUD) as client:
        assert "yaml" in await failed(await client.post(f"{V1}/flows", json={}), 400)
        # Without a definition a flow is a draft (dbgpt-client's create_flow sends none),
        # which cannot be deployed until it has one.
        draft = {"name": "x", "label": "X", "state": "deployed"}
        assert "draft" in await failed(await client.post(f"{V1}/flows", json=draft), 400)
        message = await failed(
            await client.post(f"{V1}/flows", json={"yaml": greeting(), "state": "nope"}), 400
        )
        assert "state" in message
        for bad in ("../evil", ".hidden", "a/b", "x" * 200):
            text = greeting().replace("name: greet", f"name: '{bad}'")
            await failed(await client.post(f"{V1}/flows", json={"yaml": text}), 400)
        mismatch = {"yaml": greeting(), "name": "other"}
        assert "differs" in await failed(await client.post(f"{V1}/flows", json=mismatch), 400)
        made = await ok(await client.post(f"{V1}/flows", json={"yaml": greeting()}))
        taken = greeting().replace("/t/greet", "/t/other")
        assert "greet" in await failed(await client.post(f"{V1}/flows", json={"yaml": taken}), 409)
        uid = made["uid"]
        # A state the flow cannot move to, and one only the server sets.
        await ok(await client.put(f"{V1}/flows/{uid}", json={"state": "disabled"}))
        message = await failed(
            await client.put(f"{V1}/flows/{uid}", json={"state": "testing"}), 400
        )
        assert "disabled flow cannot become testing" in message
        await failed(await client.put(f"{V1}/flows/{uid}", json={"state": "load_failed"}), 400)
        await ok(await client.put(f"{V1}/flows/{uid}", json={"editable": False}))
        assert "not editable" in await failed(
            await client.put(f"{V1}/flows/{uid}", json={"description": "x"}), 403
        )
        await failed(await client.put(f"{V1}/flows/nope", json={"yaml": greeting()}), 404)
        await failed(await client.get(f"{V1}/flows/nope/versions"), 404)
        huge = {"yaml": "#" * (300 * 1024)}
        await failed(await client.post(f"{V1}/flows", json=huge), 400)


async def test_flows_from_the_api_may_not_import_python(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=CRUD) as client:
        evil = SLOW.replace("tests.userflows.slow:hold", "os:system")
        message = await failed(await client.post(f"{V1}/flows", json={"yaml": evil}), 403)
        assert "os:system" in message and "flow_api_code" in message
        op_path = greeting().replace("op: awel.format", "op: 'awel.builtin:FormatOperator'")
        await failed(await client.post(f"{V1}/flows", json={"yaml": op_path}), 403)


async def test_v2_needs_the_api_key_when_keys_are_set(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=CRUD, api_keys=["k1"]) as client:
        assert (await client.get(f"{V2}/flows")).status == 401
        auth = {"Authorization": "Bearer k1"}
        made = await ok(await client.post(f"{V2}/flows", json={"yaml": greeting()}, headers=auth))
        got = await ok(await client.get(f"{V2}/flows/{made['uid']}", headers=auth))
        assert got["uid"] == made["uid"]


async def test_a_flow_sent_without_a_definition_is_a_draft(tmp_path: Path) -> None:
    # What dbgpt-client's create_flow sends: DB-GPT's FlowPanel.to_dict leaves flow_data out.
    panel = {"name": "draft", "label": "Draft", "description": "later", "state": "initializing"}
    async with running(tmp_path, shipped=CRUD) as client:
        made = await ok(await client.post(f"{V2}/flows", json=panel))
        assert (made["name"], made["label"], made["state"]) == ("draft", "Draft", "initializing")
        assert "name: draft" in made["yaml"] and "description: later" in made["yaml"]
        assert made["metadata"]["triggers"] == []
        # DB-GPT's rule: a name alone is the label, and the name is made from it.
        alone = await ok(await client.post(f"{V2}/flows", json={"name": "my flow"}))
        assert (alone["name"], alone["label"]) == ("common_my_flow", "my flow")
        # The client's update_flow sends the panel back without a definition: kept.
        sent = {k: v for k, v in made.items() if k not in ("flow_data", "yaml")}
        sent["label"] = "Renamed"
        changed = await ok(await client.put(f"{V2}/flows/{made['uid']}", json=sent))
        assert changed["yaml"] == made["yaml"] and changed["label"] == "Renamed"
        text = greeting().replace("name: greet", "name: draft")
        given = await ok(
            await client.put(f"{V2}/flows/{made['uid']}", json={"yaml": text, "state": "deployed"})
        )
        assert given["state"] == "running"
