"""chat_agent: the round runs the user's installed agent; another user's is not theirs."""

from __future__ import annotations

from pathlib import Path

from operators.agents.installs import current_agents
from operators.agents.package import read_package
from tests.agents.kit import agent_files, write_folder

from .conftest import ScriptedLLM, chat, events, plain_texts, serving


async def test_chat_agent_runs_the_users_agent(tmp_path: Path, llm: ScriptedLLM) -> None:
    folder = write_folder(tmp_path / "pkg", agent_files())
    async with serving(tmp_path) as client:
        await current_agents().install(read_package(folder), user="ann", source=str(folder))
        _, _, raw = await chat(
            client, conv_uid="a1", chat_mode="chat_agent", select_param="echo",
            user_input="hello", user_name="ann",
        )  # fmt: skip
        assert plain_texts(raw)[-1] == "HELLO!"
        _, _, raw = await chat(
            client, chat_mode="chat_agent", select_param="echo", user_input="x", user_name="bob"
        )
        assert "the agent 'echo' is not installed for user 'bob'" in events(raw)[-1]
        # Its trigger answers the same flow, to ann and not to bob.
        trigger = "/api/v1/awel/trigger/agents/echo/echo"
        resp = await client.post(trigger, headers={"user-id": "ann"}, json={"user_input": "yo"})
        assert "YO!" in await resp.text()
        resp = await client.post(trigger, headers={"user-id": "bob"}, json={"user_input": "yo"})
        assert resp.status == 404


async def test_chat_agent_offers_the_users_installed_agents(
    tmp_path: Path, llm: ScriptedLLM
) -> None:
    folder = write_folder(tmp_path / "pkg", agent_files())
    async with serving(tmp_path) as client:
        await current_agents().install(read_package(folder), user="ann", source=str(folder))
        url = "/api/v1/chat/mode/params/list"
        ann = await client.post(url, json={"chat_mode": "chat_agent"}, headers={"user-id": "ann"})
        assert [c["param"] for c in (await ann.json())["data"]] == ["echo"]
        bob = await client.post(url, json={"chat_mode": "chat_agent", "user_name": "bob"})
        assert (await bob.json())["data"] == []
