"""Each scene over HTTP, against SQLite, DuckDB, PostgreSQL and MariaDB, with a scripted
model: what the stream shows, and what the round stores (the editor reads it)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from operators.storage import Datasource, current_store

from .conftest import ScriptedLLM, chat, events, history, ok, plain_texts, serving, sql_answer

CHART = re.compile(r'<chart-view content="([^"]*)" />')


def chart_of(view: str) -> dict[str, Any]:
    found = CHART.search(view)
    assert found, view
    content: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return content


async def test_chat_data_runs_the_models_sql(
    tmp_path: Path, llm: ScriptedLLM, shop: Datasource
) -> None:
    llm.when("Who", sql_answer("SELECT name FROM users ORDER BY id", "response_table"))
    per_user = "SELECT user_id, count(*) AS n FROM orders GROUP BY user_id ORDER BY user_id"
    llm.when("bar", sql_answer(per_user, "response_bar_chart", "Orders per user."))
    async with serving(tmp_path, shop) as client:
        status, _, raw = await chat(
            client,
            conv_uid="c1",
            chat_mode="chat_with_db_execute",
            select_param=shop.db_name,
            user_input="Who are the users?",
        )
        assert status == 200
        texts = plain_texts(raw)
        # The model's JSON streams as drafts, then the view replaces it.
        assert any('"sql"' in t for t in texts[:-1])
        view = texts[-1]
        assert view.startswith("I count.\n<chart-view content=")
        content = chart_of(view)
        assert content["type"] == "response_table"
        assert content["data"] == [{"name": "alice"}, {"name": "bob"}, {"name": "carol"}]
        # The gate added a LIMIT.
        assert "LIMIT" in content["sql"].upper()

        msgs = await history(client, "c1")
        assert [m["role"] for m in msgs] == ["human", "ai", "view"]
        ai = json.loads(msgs[1]["context"])
        assert set(ai) == {"thoughts", "sql", "display_type", "direct_response"}
        assert ai["sql"] == "SELECT name FROM users ORDER BY id"
        assert msgs[2]["context"] == view
        conv = await current_store().conversations.get("c1")
        assert conv is not None and conv.select_param == shop.db_name
        assert conv.chat_mode == "chat_with_db_execute"

        # The prompt held the schema (found by the summaries) and asked for JSON.
        system = (llm.requests[0].messages or [])[0].content
        assert "users" in system and '"display_type"' in system

        _, _, raw = await chat(
            client, conv_uid="c1", chat_mode="chat_with_db_execute",
            select_param=shop.db_name, user_input="a bar chart of orders",
        )  # fmt: skip
        content = chart_of(plain_texts(raw)[-1])
        assert content["type"] == "response_bar_chart"
        assert [(r["user_id"], r["n"]) for r in content["data"]] == [(1, 2), (3, 1)]


async def test_unusable_answers_are_told_and_stored(
    tmp_path: Path, llm: ScriptedLLM, shop: Datasource
) -> None:
    llm.when("drop", sql_answer("DELETE FROM users"))
    llm.when("babble", "I think you should look at the users table.")
    llm.when("typo", sql_answer("SELECT nme FROM userz"))
    llm.when("fenced", "Here:\n```sql\nSELECT count(*) AS n FROM users\n```")
    async with serving(tmp_path, shop) as client:
        expected = {
            "drop everything": "SQL rejected",
            "babble on": "did not answer with the JSON",
            "a typo": "the SQL did not run",
        }
        for question, message in expected.items():
            status, _, raw = await chat(
                client, conv_uid="c2", chat_mode="chat_with_db_execute",
                select_param=shop.db_name, user_input=question,
            )  # fmt: skip
            assert status == 200
            view = plain_texts(raw)[-1]
            assert "ERROR!" in view and message in view, view
        msgs = await history(client, "c2")
        assert len(msgs) == 9
        views = [m["context"] for m in msgs if m["role"] == "view"]
        assert all("ERROR!" in v for v in views)
        # The write never ran.
        _, _, raw = await chat(
            client, conv_uid="c2", chat_mode="chat_with_db_execute",
            select_param=shop.db_name, user_input="fenced count",
        )  # fmt: skip
        assert chart_of(plain_texts(raw)[-1])["data"] == [{"n": 3}]


async def test_chat_db_answers_from_the_schema(
    tmp_path: Path, llm: ScriptedLLM, shop: Datasource
) -> None:
    llm.when("tables", "There are two tables: users and orders.")
    async with serving(tmp_path, shop) as client:
        _, _, raw = await chat(
            client, conv_uid="c3", chat_mode="chat_with_db_qa",
            select_param=shop.db_name, user_input="Which tables are there?",
        )  # fmt: skip
        assert plain_texts(raw)[-1] == "There are two tables: users and orders."
        system = (llm.requests[0].messages or [])[0].content
        assert "table users" in system and "table orders" in system and "alice" in system
        msgs = await history(client, "c3")
        assert msgs[1]["context"] == msgs[2]["context"] == "There are two tables: users and orders."


async def test_dashboard_runs_each_chart(
    tmp_path: Path, llm: ScriptedLLM, shop: Datasource
) -> None:
    charts = [
        {"thoughts": "who", "showcase": "response_table", "sql": "SELECT name FROM users",
         "title": "Users"},
        {"thoughts": "sums", "showcase": "response_bar_chart", "title": "Spend",
         "sql": "SELECT user_id, sum(total) AS spent FROM orders GROUP BY user_id"},
        {"thoughts": "bad", "showcase": "response_table", "sql": "SELECT * FROM nowhere",
         "title": "Broken"},
    ]  # fmt: skip
    llm.when("report", json.dumps(charts))
    async with serving(tmp_path, shop) as client:
        _, _, raw = await chat(
            client, conv_uid="c4", chat_mode="chat_dashboard",
            select_param=shop.db_name, user_input="a sales report",
        )  # fmt: skip
        report = json.loads(plain_texts(raw)[-1])
        assert report["conv_uid"] == "c4"
        assert [c["chart_name"] for c in report["charts"]] == ["Users", "Spend", "Broken"]
        users, spend, broken = report["charts"]
        assert set(users) == {
            "chart_uid", "chart_name", "chart_type", "chart_desc", "chart_sql", "column_name",
            "values", "style",
        }  # fmt: skip
        assert users["column_name"] == ["name"] and len(users["values"]) == 3
        assert spend["chart_type"] == "response_bar_chart"
        assert {v["name"] for v in spend["values"]} == {"1", "3"}
        assert "ERROR!" in broken["chart_desc"] and broken["values"] == []
        msgs = await history(client, "c4")
        assert [c["title"] for c in json.loads(msgs[1]["context"])] == ["Users", "Spend", "Broken"]
        assert json.loads(msgs[2]["context"])["charts"][0]["chart_name"] == "Users"


async def test_bad_requests_name_the_field(
    tmp_path: Path, llm: ScriptedLLM, shop: Datasource
) -> None:
    async with serving(tmp_path, shop) as client:
        _, _, raw = await chat(
            client, chat_mode="chat_with_db_execute", select_param="no_such_db", user_input="x"
        )
        assert events(raw) == [
            "[ERROR]select_param: no datasource named 'no_such_db'; list them with"
            " GET /api/v1/chat/db/list"
        ]
        _, _, raw = await chat(client, chat_mode="chat_with_db_execute", user_input="x")
        assert events(raw)[0].startswith("[ERROR]select_param: chat_with_db_execute needs")
        _, _, raw = await chat(client, chat_mode="chat_magic", user_input="x")
        assert "[ERROR]chat_mode: 'chat_magic' is not a chat scene" in events(raw)[0]
        # Nothing was stored for requests that named nothing usable.
        assert await ok(await client.get("/api/v1/chat/dialogue/list")) == []

        resp = await client.post(
            "/api/v1/chat/completions", json={"user_input": "x", "temperature": "hot"}
        )
        body = await resp.json()
        assert resp.status == 400 and body["err_code"] == "E0001"
        assert "temperature" in body["err_msg"] and "host_name" in body
        resp = await client.post(
            "/api/v1/chat/completions",
            data="{not json",
            headers={"Content-Type": "application/json"},
        )
        assert resp.status == 400 and "not valid JSON" in (await resp.json())["err_msg"]


async def test_stream_forms(tmp_path: Path, llm: ScriptedLLM, shop: Datasource) -> None:
    llm.when("count", sql_answer("SELECT count(*) AS n FROM users"))
    async with serving(tmp_path, shop) as client:
        # incremental: OpenAI deltas, then [DONE].
        _, _, raw = await chat(client, user_input="hello\nthere", incremental=True)
        items = events(raw)
        assert items[-1] == " [DONE]"
        chunks = [json.loads(e) for e in items[:-1]]
        assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        assert text == "You said: hello\nthere"
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
        # A data scene sends only its view as deltas (the raw JSON is a draft).
        _, _, raw = await chat(
            client, chat_mode="chat_with_db_execute", select_param=shop.db_name,
            user_input="count them", incremental=True,
        )  # fmt: skip
        items = events(raw)
        assert items[-1] == " [DONE]"
        chunks = [json.loads(e) for e in items[:-1]]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        assert text.startswith("I count.\n<chart-view") and '"sql"' not in text.split("\n")[0]
        # Every chunk, the final view's included, is a chat.completion.chunk of one id.
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
        # A round whose SQL fails ends with its error view in the same chunks.
        llm.when("broken", sql_answer("SELECT nope FROM no_such_table"))
        _, _, raw = await chat(
            client, chat_mode="chat_with_db_execute", select_param=shop.db_name,
            user_input="broken query", incremental=True,
        )  # fmt: skip
        failed = [json.loads(e) for e in events(raw)[:-1]]
        assert failed and all(c["object"] == "chat.completion.chunk" for c in failed)
        assert len({c["id"] for c in failed}) == 1 and failed[0]["id"].startswith("chatcmpl-")
        assert "no_such_table" in "".join(
            c["choices"][0]["delta"].get("content", "") for c in failed
        )
        # The same on v2 (chat_data, incremental by default).
        resp = await client.post(
            "/api/v2/chat/completions",
            json={"chat_mode": "chat_data", "chat_param": shop.db_name, "stream": True,
                  "model": "scripted", "messages": [{"role": "user", "content": "count them"}]},
        )  # fmt: skip
        v2 = [json.loads(e) for e in events(await resp.text()) if e.strip() != "[DONE]"]
        assert v2 and all(c["object"] == "chat.completion.chunk" for c in v2)
        assert len({c["id"] for c in v2}) == 1 and v2[0]["id"].startswith("chatcmpl-")
        # DB-GPT 0.8.2's full-message JSON, behind the explicit option.
        _, _, raw = await chat(client, user_input="hi", stream_format="json")
        last = json.loads(events(raw)[-1])
        assert last["choices"][0]["message"]["content"] == "You said: hi"
        assert last["id"].startswith("chatcmpl-") and last["usage"] == {}


async def test_an_agent_not_installed_says_so(tmp_path: Path, llm: ScriptedLLM) -> None:
    # chat_agent was the last scene not served; it now runs installed agents (issue 19).
    async with serving(tmp_path) as client:
        status, _, raw = await chat(
            client, chat_mode="chat_agent", select_param="app", user_input="q"
        )
        assert status == 200
        assert "the agent 'app' is not installed for user" in plain_texts(raw)[-1]


async def test_mode_params_list(tmp_path: Path, shop: Datasource) -> None:
    async with serving(tmp_path, shop) as client:
        url = "/api/v1/chat/mode/params/list"
        data = await ok(await client.post(url, params={"chat_mode": "chat_with_db_execute"}))
        assert data == [{"param": shop.db_name, "type": shop.db_type}]
        assert await ok(await client.post(url, params={"chat_mode": "chat_normal"})) is None
