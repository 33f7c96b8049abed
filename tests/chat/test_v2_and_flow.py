"""``/api/v2/chat/completions`` (whole messages list, max_tokens, OpenAI's shapes) and the
chat_flow scene running a user's flow."""

from __future__ import annotations

import json
from pathlib import Path

from operators.storage import Datasource
from tests.datasource.conftest import make_sqlite

from .conftest import ScriptedLLM, chat, events, history, plain_texts, serving, sql_answer

V2 = "/api/v2/chat/completions"


async def test_v2_uses_every_message_and_max_tokens(tmp_path: Path, llm: ScriptedLLM) -> None:
    async with serving(tmp_path) as client:
        body = {
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "Be terse."},
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "one"},
                {"role": "user", "content": [{"type": "text", "text": "second"}]},
            ],
            "max_tokens": 7,
            "conv_uid": "v2a",
        }
        resp = await client.post(V2, json=body)
        out = await resp.json()
        assert resp.status == 200, out
        assert out["id"] == "v2a" and out["object"] == "chat.completion"
        assert out["choices"][0]["message"]["content"] == "You said: second"
        assert out["model"] == "scripted"
        sent = llm.requests[-1]
        assert [(m.role, m.content) for m in sent.messages or []] == [
            ("system", "Be terse."), ("user", "first"), ("assistant", "one"), ("user", "second"),
        ]  # fmt: skip
        assert sent.params.max_new_tokens == 7
        assert [m["role"] for m in await history(client, "v2a")] == ["human", "ai", "view"]

        resp = await client.post(V2, json={**body, "stream": True})
        items = events(await resp.text())
        assert items[-1] == " [DONE]"
        chunks = [json.loads(e) for e in items[:-1]]
        assert all(c["object"] == "chat.completion.chunk" and c["created"] for c in chunks)
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        assert text == "You said: second"


async def test_v2_takes_dbgpts_message_forms(tmp_path: Path, llm: ScriptedLLM) -> None:
    # dbgpt-client sends the question as a string and chat_mode null; DB-GPT's route also
    # takes a list of strings (each a user message here: the last is the question).
    async with serving(tmp_path) as client:
        for messages, said, before in (
            ("Hello", "Hello", []),
            (["first", "second"], "second", [("user", "first")]),
        ):
            body = {"model": None, "messages": messages, "chat_mode": None, "conv_uid": said}
            resp = await client.post(V2, json=body)
            out = await resp.json()
            assert resp.status == 200, out
            assert out["choices"][0]["message"]["content"] == f"You said: {said}"
            sent = [m for m in llm.requests[-1].messages or [] if m.role != "system"]
            assert [(m.role, m.content) for m in sent] == [*before, ("user", said)]
        resp = await client.post(V2, json={"messages": "Hi", "chat_mode": ""})
        assert resp.status == 200, await resp.text()

        # incremental false: the whole text so far, as message and (for dbgpt-client) delta.
        whole = {"messages": "Hello", "stream": True, "incremental": False}
        resp = await client.post(V2, json=whole)
        chunks = [json.loads(e) for e in events(await resp.text())]
        texts = [c["choices"][0]["message"]["content"] for c in chunks]
        assert texts[-1] == "You said: Hello" and len(texts) > 1
        assert [c["choices"][0]["delta"]["content"] for c in chunks] == texts
        for bad in (42, [42], [{"content": "no role"}], []):
            resp = await client.post(V2, json={"messages": bad})
            err = (await resp.json())["error"]
            assert resp.status == 400 and err["param"].startswith("messages"), err


async def test_v2_scenes_and_errors(tmp_path: Path, llm: ScriptedLLM) -> None:
    llm.when("how many", sql_answer("SELECT count(*) AS n FROM users"))
    shop = Datasource(
        db_type="sqlite", db_name="shop", db_path=str(make_sqlite(tmp_path / "s.sqlite"))
    )
    async with serving(tmp_path, shop) as client:
        resp = await client.post(
            V2,
            json={"messages": [{"role": "user", "content": "how many users"}],
                  "chat_mode": "chat_data", "chat_param": "shop"},
        )  # fmt: skip
        out = await resp.json()
        assert "<chart-view" in out["choices"][0]["message"]["content"]

        cases = [
            ({"chat_mode": "chat_poetry"}, "invalid_chat_mode", "chat_mode"),
            ({"chat_mode": "chat_data"}, "invalid_chat_param", "chat_param"),
            ({"chat_mode": "chat_data", "chat_param": "nope"}, "invalid_chat_param", "chat_param"),
        ]
        for extra, code, param in cases:
            resp = await client.post(
                V2, json={"messages": [{"role": "user", "content": "q"}], **extra}
            )
            err = (await resp.json())["error"]
            assert resp.status == 400 and err["code"] == code and err["param"] == param, err
        resp = await client.post(V2, json={"messages": []})
        err = (await resp.json())["error"]
        assert resp.status == 400 and "messages" in err["message"]


FLOW = """
from collections.abc import AsyncIterator
from typing import Any

from awel import DAG, StreamifyAbsOperator
from awel.trigger import HttpTrigger


class Echo(StreamifyAbsOperator[dict[str, Any], str]):
    async def streamify(self, body: dict[str, Any]) -> AsyncIterator[str]:
        for piece in ("flow ", "says: ", body["user_input"]):
            yield piece


with DAG("echo_flow") as dag:
    HttpTrigger("/echo", methods="POST", request_body=dict, streaming_response=True) >> Echo()
"""


async def test_chat_flow_runs_a_named_flow(tmp_path: Path, llm: ScriptedLLM) -> None:
    dags = tmp_path / "data" / "dags"
    dags.mkdir(parents=True)
    (dags / "echo.py").write_text(FLOW)
    async with serving(tmp_path) as client:
        _, _, raw = await chat(
            client, conv_uid="f1", chat_mode="chat_flow", select_param="echo_flow",
            user_input="hello",
        )  # fmt: skip
        assert plain_texts(raw)[-1] == "flow says: hello"
        assert (await history(client, "f1"))[2]["context"] == "flow says: hello"
        _, _, raw = await chat(client, chat_mode="chat_flow", select_param="nope", user_input="x")
        assert events(raw) == ["[ERROR]select_param: no flow named 'nope' is loaded"]


YAML_FLOW = """
name: yaml_echo
description: Answer from YAML.
trigger:
  http:
    endpoint: /yaml/echo
    methods: [POST]
    request:
      user_input: {type: str}
nodes:
  answer: {op: awel.format, params: {template: "yaml says: {{ user_input }}"}}
edges:
  - trigger >> answer
"""


async def test_chat_flow_runs_a_yaml_user_flow(tmp_path: Path, llm: ScriptedLLM) -> None:
    dags = tmp_path / "data" / "dags"
    dags.mkdir(parents=True)
    (dags / "echo.yaml").write_text(YAML_FLOW)
    async with serving(tmp_path) as client:
        _, _, raw = await chat(
            client, conv_uid="y1", chat_mode="chat_flow", select_param="yaml_echo",
            user_input="hi",
        )  # fmt: skip
        assert plain_texts(raw)[-1] == "yaml says: hi"
        assert (await history(client, "y1"))[2]["context"] == "yaml says: hi"


async def test_chat_flow_refuses_the_shipped_api_flows(tmp_path: Path, llm: ScriptedLLM) -> None:
    # chat_db_list is a flow of the product's API, not one to answer a chat with: refused
    # as if it did not exist, on both chat routes.
    async with serving(tmp_path) as client:
        _, _, raw = await chat(
            client, chat_mode="chat_flow", select_param="chat_db_list", user_input="x"
        )
        assert events(raw) == ["[ERROR]select_param: no flow named 'chat_db_list' is loaded"]
        resp = await client.post(
            V2,
            json={
                "chat_mode": "chat_flow",
                "chat_param": "chat_db_list",
                "messages": [{"role": "user", "content": "x"}],
            },
        )
        assert resp.status == 400
        error = (await resp.json())["error"]
        assert error["message"] == "chat_param: no flow named 'chat_db_list' is loaded"
        assert error["code"] == "invalid_chat_param"


async def test_chat_flow_finds_a_saved_flow_by_its_uid(tmp_path: Path, llm: ScriptedLLM) -> None:
    # DB-GPT's web UI sends the flow API's uid as select_param, not the flow's name.
    async with serving(tmp_path) as client:
        saved = await client.post(
            "/api/v1/serve/awel/flows", json={"yaml": YAML_FLOW, "state": "deployed"}
        )
        uid = (await saved.json())["data"]["uid"]
        _, _, raw = await chat(
            client, conv_uid="u1", chat_mode="chat_flow", select_param=uid, user_input="hey"
        )
        assert plain_texts(raw)[-1] == "yaml says: hey"
        # A draft is not served: the same answer as for a flow that does not exist.
        draft = await client.post(
            "/api/v1/serve/awel/flows",
            json={"yaml": YAML_FLOW.replace("yaml_echo", "draft_echo").replace("/yaml/", "/d/")},
        )
        draft_uid = (await draft.json())["data"]["uid"]
        _, _, raw = await chat(
            client, chat_mode="chat_flow", select_param=draft_uid, user_input="x"
        )
        assert events(raw) == [f"[ERROR]select_param: no flow named '{draft_uid}' is loaded"]
