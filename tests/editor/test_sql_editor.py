"""The SQL editor through the live server, on SQLite and PostgreSQL: the edit cycle, the
schema tree, writes on a writable datasource, and every bad input with its error."""

from __future__ import annotations

import json
from pathlib import Path

from operators.storage import Datasource, current_store
from tests.editor.conftest import (
    NEW_SQL,
    OLD_SQL,
    QUESTION,
    failed,
    ok,
    save_sql_round,
    serving,
)


async def test_the_edit_cycle(shop: Datasource, tmp_path: Path) -> None:
    async with serving(tmp_path, shop) as client:
        store = current_store()
        await store.conversations.save_round(
            "c1", "hello", "Hi! Ask me about the shop.", view_message="Hi!"
        )
        assert await save_sql_round("c1", shop.db_name) == 2

        rounds = await ok(await client.get("/api/v1/editor/sql/rounds", params={"con_uid": "c1"}))
        assert rounds == [{"round": 2, "db_name": shop.db_name, "round_name": QUESTION}]
        stored = await ok(
            await client.get("/api/v1/editor/sql", params={"con_uid": "c1", "round": 2})
        )
        assert stored["sql"] == OLD_SQL and stored["display_type"] == "response_bar_chart"

        # Run the stored query, then a changed one.
        run = await ok(
            await client.post(
                "/api/v1/editor/sql/run", json={"db_name": shop.db_name, "sql": OLD_SQL}
            )
        )
        assert run["colunms"] == ["name", "spent"]
        assert [row[0] for row in run["values"]] == ["alice", "carol"]
        assert float(run["values"][0][1]) == 29.5
        changed = await ok(
            await client.post("/api/v1/editor/sql/run", json={"conv_uid": "c1", "sql": NEW_SQL})
        )
        assert changed["colunms"] == ["name"]
        assert changed["values"] == [["alice"], ["bob"], ["carol"]]
        assert "capped at 1000 rows" in changed["result_info"]
        assert changed["run_cost"] >= 0

        # Submit it: the round's answer and view are rewritten, the old version kept.
        submit = {
            "conv_uid": "c1",
            "db_name": shop.db_name,
            "conv_round": 2,
            "old_sql": OLD_SQL,
            "old_speak": "Sum each user's orders.",
            "gmt_create": 0,
            "new_sql": NEW_SQL,
            "new_speak": "Just the names.",
        }
        assert await ok(await client.post("/api/v1/sql/editor/submit", json=submit)) is None
        now = await ok(await client.get("/api/v1/editor/sql", params={"con_uid": "c1", "round": 2}))
        assert now == {
            "thoughts": "Just the names.",
            "sql": NEW_SQL,
            "display_type": "response_bar_chart",
            "direct_response": "",
        }
        messages = {m.role: m.content for m in await store.messages.list("c1", round_index=2)}
        assert messages["human"] == QUESTION
        assert messages["view"].startswith("Just the names.\n<chart-view content=")
        assert "&quot;carol&quot;" in messages["view"] and "spent" not in messages["view"]

        # The dialogue's message history shows the new SQL too.
        dialogue = await (
            await client.get("/api/v1/chat/dialogue/messages/history", params={"con_uid": "c1"})
        ).json()
        ai = [m for m in dialogue["data"] if m["role"] == "ai" and m["order"] == 2]
        assert json.loads(ai[0]["context"])["sql"] == NEW_SQL

        history = await ok(
            await client.get("/api/v1/editor/sql/history", params={"con_uid": "c1", "round": 2})
        )
        assert [(v["version"], v["current"], v["sql"]) for v in history] == [
            (1, False, OLD_SQL),
            (2, True, NEW_SQL),
        ]
        assert history[1]["note"] == "sql editor"

        # Undo: the old SQL and view are back, and there is nothing more to undo.
        undone = await ok(
            await client.post("/api/v1/editor/sql/undo", json={"conv_uid": "c1", "round": 2})
        )
        assert undone == {"round": 2, "version": 1}
        back = await ok(
            await client.get("/api/v1/editor/sql", params={"con_uid": "c1", "round": 2})
        )
        assert back["sql"] == OLD_SQL and back["thoughts"] == "Sum each user's orders."
        again = await client.post("/api/v1/editor/sql/undo", json={"con_uid": "c1", "round": 2})
        await failed(again, "no edit to undo", "(round)")


async def test_bad_inputs_get_their_errors(shop: Datasource, tmp_path: Path) -> None:
    async with serving(tmp_path, shop) as client:
        await save_sql_round("c2", shop.db_name)
        run = "/api/v1/editor/sql/run"
        db = shop.db_name

        # Unknown rounds and conversations.
        await failed(
            await client.get("/api/v1/editor/sql", params={"con_uid": "c2", "round": 7}),
            "has no round 7",
            "(round)",
        )
        body = {"conv_uid": "c2", "conv_round": 7, "new_sql": NEW_SQL}
        await failed(
            await client.post("/api/v1/sql/editor/submit", json=body),
            "has no round 7",
            "conv_round",
        )
        await failed(
            await client.post("/api/v1/editor/sql/undo", json={"conv_uid": "zz", "round": 1}),
            "'zz' has no round 1",
        )
        assert (
            await ok(await client.get("/api/v1/editor/sql/rounds", params={"con_uid": "zz"})) == []
        )

        # What the gate refuses: failure envelopes, "Operation not allowed: ...".
        await failed(
            await client.post(run, json={"db_name": db, "sql": "DELETE FROM orders"}),
            "Operation not allowed:",
            "DELETE",
            f"'{db}' is read-only",
        )
        await failed(
            await client.post(run, json={"db_name": db, "sql": "SELECT 1; SELECT 2"}),
            "Operation not allowed:",
            "2 statements",
        )
        await failed(
            await client.post(run, json={"db_name": db, "sql": "SELEC name FRM users"}),
            "Operation not allowed:",
            "does not parse",
        )
        # Submitting refused SQL leaves the round as it was.
        body = {"conv_uid": "c2", "conv_round": 1, "new_sql": "DROP TABLE users"}
        await failed(
            await client.post("/api/v1/sql/editor/submit", json=body), "Operation not allowed:"
        )
        stored = await ok(
            await client.get("/api/v1/editor/sql", params={"con_uid": "c2", "round": 1})
        )
        assert stored["sql"] == OLD_SQL

        # A statement that fails on the database is a success carrying the error (DB-GPT).
        broken = await ok(
            await client.post(run, json={"db_name": db, "sql": "SELECT nope FROM users"})
        )
        assert broken["colunms"] == [] and broken["values"] == []
        assert "nope" in broken["result_info"]

        # Missing or unknown fields are named.
        await failed(await client.post(run, json={"db_name": db}), "sql is required")
        await failed(await client.post(run, json={"sql": "SELECT 1"}), "db_name is required")
        await failed(
            await client.post(run, json={"db_name": "ghost", "sql": "SELECT 1"}),
            "no datasource named 'ghost'",
            "(db_name)",
        )
        bad_type = await client.get("/api/v1/editor/sql", params={"con_uid": "c2", "round": "x"})
        assert bad_type.status == 400
        assert "round" in (await bad_type.json())["err_msg"]


async def test_writes_only_on_a_writable_datasource(shop: Datasource, tmp_path: Path) -> None:
    async with serving(tmp_path, shop, writable=True) as client:
        run = "/api/v1/editor/sql/run"
        db = shop.db_name

        async def info(sql: str) -> str:
            data = await ok(await client.post(run, json={"db_name": db, "sql": sql}))
            assert not data["colunms"], data
            return str(data["result_info"])

        assert "CREATE TABLE done" in await info(
            "CREATE TABLE notes (id INTEGER, body VARCHAR(20))"
        )
        assert "2 rows affected" in await info("INSERT INTO notes VALUES (1, 'a'), (2, 'b')")
        assert "1 row affected" in await info("UPDATE notes SET body = 'c' WHERE id = 2")
        assert "ALTER TABLE done" in await info("ALTER TABLE notes ADD COLUMN extra INTEGER")
        assert "1 row affected" in await info("DELETE FROM notes WHERE id = 1")
        rows = await ok(await client.post(run, json={"db_name": db, "sql": "SELECT * FROM notes"}))
        assert rows["colunms"] == ["id", "body", "extra"]
        assert rows["values"] == [["2", "c", None]]

        for sql, words in (
            ("DROP TABLE notes", ("DROP",)),
            ("CREATE VIEW v AS SELECT 1", ("CREATE is not a statement the editor runs",)),
            ("TRUNCATE TABLE notes", ("TRUNCATE",)),
            ("INSERT INTO notes VALUES (3, 'x', 1); DELETE FROM notes", ("2 statements",)),
        ):
            await failed(
                await client.post(run, json={"db_name": db, "sql": sql}),
                "Operation not allowed:",
                *words,
            )
        # A failed write is reported, and changed nothing.
        dup = await ok(
            await client.post(run, json={"db_name": db, "sql": "INSERT INTO nowhere VALUES (1)"})
        )
        assert "nowhere" in dup["result_info"] and dup["values"] == []


async def test_the_schema_tree_pages_and_searches(shop: Datasource, tmp_path: Path) -> None:
    async with serving(tmp_path, shop) as client:
        url = "/api/v1/editor/db/tables"
        whole = await ok(
            await client.get(
                url, params={"db_name": shop.db_name, "page_index": 1, "page_size": 10}
            )
        )
        assert whole["title"] == whole["key"] == shop.db_name and whole["type"] == "db"
        assert whole["total"] == 2
        assert [t["title"] for t in whole["children"]] == ["orders", "users"]
        users = whole["children"][1]
        assert users["type"] == "table"
        name = next(c for c in users["children"] if c["title"] == "name")
        assert name["key"] == "name" and name["can_null"] == "NO"
        assert name["type"].upper().startswith("VARCHAR")

        second = await ok(
            await client.get(url, params={"db_name": shop.db_name, "page_index": 2, "page_size": 1})
        )
        assert [t["title"] for t in second["children"]] == ["users"] and second["total"] == 2
        past = await ok(
            await client.get(url, params={"db_name": shop.db_name, "page_index": 3, "page_size": 1})
        )
        assert past["children"] == [] and past["total"] == 2

        by_name = await ok(
            await client.get(
                url,
                params={
                    "db_name": shop.db_name,
                    "page_index": 1,
                    "page_size": 10,
                    "search_str": "ORD",
                },
            )
        )
        assert [t["title"] for t in by_name["children"]] == ["orders"] and by_name["total"] == 1
        by_column = await ok(
            await client.get(
                url,
                params={
                    "db_name": shop.db_name,
                    "page_index": 1,
                    "page_size": 10,
                    "search_str": "nam",
                },
            )
        )
        assert [t["title"] for t in by_column["children"]] == ["users"]

        bad = await client.get(url, params={"db_name": shop.db_name, "page_index": 0})
        assert bad.status == 400 and "page_index" in (await bad.json())["err_msg"]
        await failed(
            await client.get(url, params={"db_name": "ghost", "page_index": 1, "page_size": 5}),
            "no datasource named 'ghost'",
        )
