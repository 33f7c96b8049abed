"""DB-GPT's feedback routes (``/api/v1/feedback/*``) against the live server: ratings stored
with a conversation's round, in the app Result envelope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import Client, ScriptedLLM, chat, ok, serving

FEEDBACK = "/api/v1/feedback"


async def failed(resp: Any, status: int = 400) -> dict[str, Any]:
    body: dict[str, Any] = await resp.json()
    assert resp.status == status and body["success"] is False, body
    assert body["host_name"] and body["data"] is None
    return body


async def two_rounds(client: Client) -> None:
    for question in ("first", "second"):
        status, _, _ = await chat(client, conv_uid="f1", user_input=question)
        assert status == 200


async def test_select_commit_find(tmp_path: Path, llm: ScriptedLLM) -> None:
    async with serving(tmp_path) as client:
        resp = await client.get(f"{FEEDBACK}/select")
        assert (await resp.json())["host_name"]
        kinds = await ok(resp)
        assert set(kinds) == {"information", "work_study", "just_fun", "others"}
        await two_rounds(client)
        rating = {
            "conv_uid": "f1",
            "conv_index": 2,
            "question": "second",
            "knowledge_space": None,
            "score": 4,
            "ques_type": "work_study",
            "messages": "good enough",
        }
        assert await ok(await client.post(f"{FEEDBACK}/commit", json=rating)) is True
        query: dict[str, str | int] = {"conv_uid": "f1", "conv_index": 2}
        found = await ok(await client.get(f"{FEEDBACK}/find", params=query))
        assert {k: found[k] for k in rating} == rating and found["user_name"] is None
        # A second rating of the round replaces the first; the user-id header names its user.
        again = {**rating, "score": 1, "messages": "wrong after all"}
        headers = {"user-id": "ann"}
        assert await ok(await client.post(f"{FEEDBACK}/commit", json=again, headers=headers))
        found = await ok(await client.get(f"{FEEDBACK}/find", params=query))
        assert (found["score"], found["messages"], found["user_name"]) == (
            1,
            "wrong after all",
            "ann",
        )
        # A round without a rating finds none.
        first: dict[str, str | int] = {"conv_uid": "f1", "conv_index": 1}
        assert await ok(await client.get(f"{FEEDBACK}/find", params=first)) is None
        # The rating goes with its conversation.
        await client.post("/api/v1/chat/dialogue/delete", params={"con_uid": "f1"})
        assert await ok(await client.get(f"{FEEDBACK}/find", params=query)) is None


async def test_every_feedback_failure_names_its_field(tmp_path: Path, llm: ScriptedLLM) -> None:
    async with serving(tmp_path) as client:
        await two_rounds(client)
        good = {
            "conv_uid": "f1",
            "conv_index": 1,
            "score": 3,
            "question": "q",
            "ques_type": "others",
        }
        for change, field in (
            ({"conv_uid": "nope"}, "conv_uid"),
            ({"conv_index": 9}, "conv_index"),
            ({"conv_index": 0}, "body.conv_index"),
            ({"score": 6}, "body.score"),
            ({"score": "great"}, "body.score"),
            ({"messages": "x" * 10_001}, "body.messages"),
            ({"ques_type": "x" * 65}, "body.ques_type"),
        ):
            body = await failed(await client.post(f"{FEEDBACK}/commit", json=good | change))
            assert field in body["err_msg"], (change, body)
        missing = await failed(await client.post(f"{FEEDBACK}/commit", json={"conv_uid": "f1"}))
        assert "body.conv_index" in missing["err_msg"] and "body.score" in missing["err_msg"]
        assert missing["err_code"] == "E0001"
        no_index = await failed(await client.get(f"{FEEDBACK}/find", params={"conv_uid": "f1"}))
        assert "conv_index" in no_index["err_msg"]
        not_int = {"conv_uid": "f1", "conv_index": "one"}
        assert (
            "conv_index"
            in (await failed(await client.get(f"{FEEDBACK}/find", params=not_int)))["err_msg"]
        )
