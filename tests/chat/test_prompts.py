"""DB-GPT's prompt routes (``/prompt/*``) against the live server, and a stored prompt used
as a chat round's template (``prompt_code``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import Client, ScriptedLLM, chat, events, serving

PROMPT = "/prompt"


async def served(client: Client, path: str, body: dict[str, Any]) -> Any:
    resp = await client.post(f"{PROMPT}/{path}", json=body)
    answer = await resp.json()
    assert resp.status == 200 and answer["success"] is True, answer
    assert "host_name" not in answer  # DB-GPT's prompt serve module: the serve Result
    return answer["data"]


async def refused(client: Client, path: str, body: Any, status: int = 400) -> dict[str, Any]:
    resp = await client.post(f"{PROMPT}/{path}", json=body)
    answer: dict[str, Any] = await resp.json()
    assert resp.status == status and answer["success"] is False, answer
    assert answer["err_code"] in ("E0001", "E0003") and answer["data"] is None
    return answer


async def test_prompts_are_added_listed_updated_and_deleted(tmp_path: Path) -> None:
    async with serving(tmp_path) as client:
        assert await served(client, "list", {}) == []
        added = await served(
            client,
            "add",
            {
                "prompt_name": "pirate",
                "content": 'Answer {question} like a pirate; reply as {"say": ...}.',
                "prompt_type": "common",
                "chat_scene": "chat_normal",
                "prompt_language": "en",
            },
        )
        code = added["prompt_code"]
        assert len(code) == 32 and added["id"] >= 1
        # DB-GPT's defaults, and the variables read from the template (JSON braces are not).
        assert (added["user_name"], added["sys_code"]) == ("dbgpt", "dbgpt")
        assert added["input_variables"] == "question"
        assert set(added) >= {
            "prompt_name", "content", "prompt_type", "chat_scene", "sub_chat_scene",
            "user_name", "sys_code", "prompt_language", "model", "input_variables",
            "response_schema", "prompt_desc", "prompt_code", "gmt_created", "gmt_modified",
        }  # fmt: skip
        await served(
            client, "add", {"prompt_name": "mine", "content": "x", "prompt_type": "private"}
        )

        listed = await served(client, "list", {"prompt_type": "common"})
        assert [p["prompt_name"] for p in listed] == ["pirate"]
        assert len(await served(client, "list", {})) == 2
        page = await served(client, "query_page?page=2&page_size=1", {})
        assert (page["total_count"], page["total_pages"], page["page"]) == (2, 2, 2)
        assert [p["prompt_name"] for p in page["items"]] == ["mine"]

        changed = await served(
            client, "update", {"prompt_code": code, "content": "Be {mood} about {question}."}
        )
        assert changed["content"] == "Be {mood} about {question}."
        assert changed["input_variables"] == "mood,question"
        assert changed["prompt_name"] == "pirate"  # what the body leaves out is kept

        assert await served(client, "delete", {"prompt_name": "pirate"}) is None
        assert [p["prompt_name"] for p in await served(client, "list", {})] == ["mine"]


async def test_every_prompt_failure_names_its_field(tmp_path: Path) -> None:
    async with serving(tmp_path) as client:
        assert "prompt_name" in (await refused(client, "add", {"content": "x"}))["err_msg"]
        assert "content" in (await refused(client, "add", {"prompt_name": "a"}))["err_msg"]
        assert (
            "content"
            in (await refused(client, "add", {"prompt_name": "a", "content": "  "}))["err_msg"]
        )
        too_long = {"prompt_name": "a", "content": "x" * 70_000}
        assert "body.content" in (await refused(client, "add", too_long))["err_msg"]
        assert (await refused(client, "add", [1]))["err_code"] == "E0001"
        await served(client, "add", {"prompt_name": "a", "content": "x", "prompt_code": "c1"})
        taken = await refused(client, "add", {"prompt_name": "a", "content": "y"})
        assert "already exists" in taken["err_msg"] and "prompt_name" in taken["err_msg"]
        same_code = {"prompt_name": "b", "content": "y", "prompt_code": "c1"}
        assert "prompt_code 'c1'" in (await refused(client, "add", same_code))["err_msg"]
        assert "prompt_code" in (await refused(client, "update", {"content": "y"}))["err_msg"]
        unknown = await refused(client, "update", {"prompt_code": "nope", "content": "y"})
        assert "no stored prompt with prompt_code 'nope'" in unknown["err_msg"]
        blank = {"prompt_code": "c1", "content": ""}
        assert "content" in (await refused(client, "update", blank))["err_msg"]
        assert "prompt_name" in (await refused(client, "delete", {}))["err_msg"]
        gone = await refused(client, "delete", {"prompt_name": "nope"})
        assert "prompt_name 'nope'" in gone["err_msg"]
        bad_page = await client.post(f"{PROMPT}/query_page?page=0", json={})
        assert bad_page.status == 400


async def test_a_round_naming_a_stored_prompt_is_answered_with_it_as_the_system_prompt(
    tmp_path: Path, llm: ScriptedLLM
) -> None:
    async with serving(tmp_path) as client:
        stored = await served(
            client,
            "add",
            {"prompt_name": "terse", "content": 'Answer {input} in one word. Keep {"x": 1}.'},
        )
        status, _, raw = await chat(
            client, conv_uid="p1", user_input="why?", prompt_code=stored["prompt_code"]
        )
        assert status == 200 and events(raw)
        asked = llm.requests[-1].messages
        assert asked is not None
        system = asked[0]
        assert (system.role, system.content) == (
            "system",
            'Answer why? in one word. Keep {"x": 1}.',
        )
        # Without prompt_code the scene's own template is the system prompt.
        await chat(client, conv_uid="p2", user_input="why?")
        assert "one word" not in (llm.requests[-1].messages or [])[0].content

        status, _, raw = await chat(client, conv_uid="p3", user_input="hi", prompt_code="nope")
        assert "prompt_code" in raw and "no stored prompt 'nope'" in raw
        assert len(llm.requests) == 2  # refused before the model was asked
