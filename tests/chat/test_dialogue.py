"""The life of a conversation over HTTP: new, chat, history, list, query, export, clear,
delete; and the scene list."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import ScriptedLLM, chat, history, ok, plain_texts, serving

DIALOGUE = "/api/v1/chat/dialogue"


async def test_scenes_are_the_six_of_dbgpt_in_order(tmp_path: Path) -> None:
    async with serving(tmp_path) as client:
        resp = await client.post(f"{DIALOGUE}/scenes")
        body = await resp.json()
    # The app Result: DB-GPT serves scenes from its chat module, not the dialogue serve module.
    assert set(body) == {"success", "err_code", "err_msg", "data", "host_name"}
    scenes = body["data"]
    assert [s["chat_scene"] for s in scenes] == [
        "chat_with_db_execute",
        "chat_with_db_qa",
        "chat_excel",
        "chat_knowledge",
        "chat_dashboard",
        "chat_agent",
    ]
    assert scenes[0] == {
        "chat_scene": "chat_with_db_execute",
        "scene_name": "Chat Data",
        "scene_describe": scenes[0]["scene_describe"],
        "param_title": "DB Select",
        "show_disable": False,
    }
    assert all(s["scene_describe"] for s in scenes)


async def test_the_life_of_a_conversation(tmp_path: Path, llm: ScriptedLLM) -> None:
    llm.when("two lines", "first line\nsecond line")
    async with serving(tmp_path) as client:
        new = await ok(await client.post(f"{DIALOGUE}/new", params={"chat_mode": "chat_normal"}))
        assert new["user_input"] == "" and new["chat_mode"] == "chat_normal"
        uid = new["conv_uid"]
        # Nothing is stored before the first round.
        assert await ok(await client.get(f"{DIALOGUE}/list")) == []

        status, ctype, raw = await chat(
            client, conv_uid=uid, user_input="say two lines", chat_mode="chat_normal"
        )
        assert status == 200 and ctype.startswith("text/event-stream")
        # DB-GPT's plain form: cumulative, newlines as the two characters \n, no end marker.
        assert "\\n" in raw and "[DONE]" not in raw
        texts = plain_texts(raw)
        assert texts[-1] == "first line\nsecond line"
        assert all(texts[-1].startswith(t) for t in texts)
        assert len(texts) > 1

        msgs = await history(client, uid)
        assert [(m["role"], m["order"]) for m in msgs] == [("human", 1), ("ai", 1), ("view", 1)]
        assert msgs[0]["context"] == "say two lines"
        assert msgs[2]["context"] == "first line\nsecond line"
        assert set(msgs[0]) == {"role", "context", "order", "time_stamp", "model_name", "feedback"}
        assert msgs[0]["model_name"] == "scripted" and msgs[0]["feedback"] == {}
        # The brief's name of the route answers the same.
        same = await ok(await client.get(f"{DIALOGUE}/messages", params={"con_uid": uid}))
        assert same == msgs

        # The second round carries the first in its prompt (chat_normal is history-aware).
        await chat(client, conv_uid=uid, user_input="and again", chat_mode="chat_normal")
        sent = [(m.role, m.content) for m in llm.requests[-1].messages or []]
        assert ("user", "say two lines") in sent
        assert ("assistant", "first line\nsecond line") in sent
        assert sent[-1] == ("user", "and again")
        assert len(await history(client, uid)) == 6

        listed = await ok(await client.get(f"{DIALOGUE}/list"))
        assert [c["conv_uid"] for c in listed] == [uid]
        assert listed[0]["user_input"] == "say two lines"
        assert listed[0]["user_name"] == ""
        assert set(listed[0]) == {
            "conv_uid", "user_input", "chat_mode", "app_code", "select_param", "model_name",
            "user_name", "sys_code", "gmt_created", "gmt_modified",
        }  # fmt: skip

        found = await ok(await client.post(f"{DIALOGUE}/query", json={"conv_uid": uid}))
        assert found["conv_uid"] == uid
        assert await ok(await client.post(f"{DIALOGUE}/query", json={"conv_uid": "nope"})) is None
        page = await ok(
            await client.post(f"{DIALOGUE}/query_page", params={"page": 1, "page_size": 5}, json={})
        )
        assert page["total_count"] == 1 and page["total_pages"] == 1
        assert page["page"] == 1 and page["page_size"] == 5
        assert [c["conv_uid"] for c in page["items"]] == [uid]

        resp = await client.get(f"{DIALOGUE}/export_messages", params={"format": "json"})
        assert resp.status == 200
        # format=json answers the document itself, not a download.
        assert "Content-Disposition" not in resp.headers
        assert resp.headers["Content-Type"].startswith("application/json")
        exported = json.loads(await resp.read())
        assert exported["total_conversations"] == 1
        conv = exported["conversations"][0]
        assert conv["conv_uid"] == uid and conv["total_messages"] == 6
        resp = await client.get(f"{DIALOGUE}/export_messages")
        assert "attachment" in resp.headers["Content-Disposition"]

        assert await ok(await client.post(f"{DIALOGUE}/clear", params={"con_uid": uid})) is None
        assert await history(client, uid) == []
        assert len(await ok(await client.get(f"{DIALOGUE}/list"))) == 1
        # A JSON body works as well as the query string.
        assert await ok(await client.post(f"{DIALOGUE}/delete", json={"con_uid": uid})) is None
        assert await ok(await client.get(f"{DIALOGUE}/list")) == []


async def test_bad_dialogue_requests_name_the_field(tmp_path: Path) -> None:
    async with serving(tmp_path) as client:
        resp = await client.post(f"{DIALOGUE}/delete")
        body = await resp.json()
        assert resp.status == 400 and body["err_code"] == "E0001"
        assert "con_uid" in body["err_msg"]
        resp = await client.post(f"{DIALOGUE}/new", params={"chat_mode": "chat_nonsense"})
        body = await resp.json()
        assert resp.status == 400 and "chat_mode" in body["err_msg"]
        resp = await client.get(f"{DIALOGUE}/list", params={"page": "zero"})
        body = await resp.json()
        assert resp.status == 400 and "page" in body["err_msg"]
        resp = await client.get(f"{DIALOGUE}/messages/history")
        body = await resp.json()
        assert resp.status == 400 and "con_uid" in body["err_msg"]


async def test_an_empty_conversation_id_has_no_messages(tmp_path: Path) -> None:
    # DB-GPT's older web UI opens its chat page with `con_uid=` before any conversation.
    async with serving(tmp_path) as client:
        for path in ("messages", "messages/history"):
            resp = await client.get(f"{DIALOGUE}/{path}?con_uid=")
            assert resp.status == 200
            assert (await resp.json())["data"] == []


async def test_a_client_that_hangs_up_leaves_no_half_round(tmp_path: Path) -> None:
    import asyncio

    from operators.models import ModelSet, using_models
    from operators.storage import current_store

    slow = ScriptedLLM(piece=1, delay=0.05)
    async with using_models(ModelSet([slow])), serving(tmp_path) as client:
        resp = await client.post(
            "/api/v1/chat/completions",
            json={"conv_uid": "c-hangup", "user_input": "a long question to echo back"},
        )
        first = await resp.content.readuntil(b"\n\n")
        assert first.startswith(b"data:")
        resp.close()
        for _ in range(100):
            if slow.streams_closed:
                break
            await asyncio.sleep(0.02)
        assert slow.streams_closed == 1
        await asyncio.sleep(0.1)
        assert await current_store().messages.list("c-hangup") == []
        assert await current_store().conversations.get("c-hangup") is None


async def test_the_user_id_header_names_the_user_of_a_round(
    tmp_path: Path, llm: ScriptedLLM
) -> None:
    # DB-GPT's web client sends its user as `user-id`; the header wins over the body.
    llm.when("hello", "hi")
    async with serving(tmp_path) as client:
        resp = await client.post(
            "/api/v1/chat/completions",
            json={
                "conv_uid": "c-header",
                "user_input": "hello",
                "chat_mode": "chat_normal",
                "user_name": "from-body",
            },
            headers={"user-id": "alice"},
        )
        assert resp.status == 200
        await resp.text()
        mine = await ok(await client.get(f"{DIALOGUE}/list", params={"user_name": "alice"}))
        assert [c["conv_uid"] for c in mine] == ["c-header"]
        assert (
            await ok(await client.get(f"{DIALOGUE}/list", params={"user_name": "from-body"})) == []
        )
