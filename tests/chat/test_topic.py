"""``POST /api/v1/chat/topic/terminate``: success for a known conversation, DB-GPT's HTTP 200
failure E0102 for an unknown one, a 400 naming a missing field."""

from __future__ import annotations

from pathlib import Path

from .conftest import ScriptedLLM, chat, serving

TERMINATE = "/api/v1/chat/topic/terminate"


async def test_terminate_a_topic(tmp_path: Path, llm: ScriptedLLM) -> None:
    async with serving(tmp_path) as client:
        status, _, _ = await chat(client, conv_uid="t1", user_input="hello")
        assert status == 200
        done = await client.post(TERMINATE, params={"conv_id": "t1", "round_index": "1"})
        body = await done.json()
        assert done.status == 200 and body["success"] is True and body["host_name"]
        # The same fields in a JSON body.
        sent = await client.post(TERMINATE, json={"conv_id": "t1", "round_index": 1})
        assert (await sent.json())["success"] is True

        unknown = await client.post(TERMINATE, params={"conv_id": "nope", "round_index": "1"})
        body = await unknown.json()
        assert unknown.status == 200 and body["success"] is False
        assert body["err_code"] == "E0102" and "nope" in body["err_msg"] and body["host_name"]

        missing = await client.post(TERMINATE, params={"conv_id": "t1"})
        body = await missing.json()
        assert missing.status == 400 and "round_index" in body["err_msg"] and body["host_name"]
        wrong = await client.post(TERMINATE, params={"conv_id": "t1", "round_index": "x"})
        assert wrong.status == 400
