"""Destructive statements in the SQL editor: refused on a writable datasource unless it
also allows DDL; reaching files is refused either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from operators.editor.sql import OperationNotAllowed, check_editor_sql
from operators.storage import Datasource
from tests.datasource.conftest import db_config, make_sqlite
from tests.editor.conftest import failed, ok
from tests.server.conftest import running

WRITABLE = Datasource(db_type="duckdb", db_name="w", db_path="/x", writable=True)
DDL = Datasource(db_type="duckdb", db_name="w", db_path="/x", writable=True, allow_ddl=True)

DESTRUCTIVE = [
    ("CREATE OR REPLACE TABLE users AS SELECT 1 AS id", "CREATE OR REPLACE"),
    ("ALTER TABLE users DROP COLUMN name", "ALTER TABLE ... DROP"),
    ("ALTER TABLE users ALTER COLUMN name TYPE INTEGER", "ALTER TABLE ... ALTER COLUMN"),
    ("DROP TABLE users", "DROP is not a statement the editor runs"),
    ("TRUNCATE users", "TRUNCATE is not a statement the editor runs"),
    ("CREATE VIEW v AS SELECT 1", "CREATE is not a statement the editor runs"),
]


@pytest.mark.parametrize(("sql", "words"), DESTRUCTIVE)
def test_destructive_statements_need_allow_ddl(sql: str, words: str) -> None:
    with pytest.raises(OperationNotAllowed) as caught:
        check_editor_sql(sql, WRITABLE)
    assert words in caught.value.message and "allow" in caught.value.message.lower()
    assert check_editor_sql(sql, DDL).statement != "SELECT"


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE notes (id INTEGER)",
        "CREATE TABLE top AS SELECT * FROM users",
        "ALTER TABLE users ADD COLUMN age INTEGER",
        "INSERT INTO users VALUES (4, 'dan')",
    ],
)
def test_plain_writes_need_no_ddl(sql: str) -> None:
    assert check_editor_sql(sql, WRITABLE).statement != "SELECT"


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE stolen AS SELECT * FROM read_csv('/etc/passwd')",
        "CREATE OR REPLACE TABLE stolen AS SELECT * FROM \"read_text\"('/etc/passwd')",
        "INSERT INTO users SELECT 1, content FROM system.main.read_text('/etc/passwd')",
        "CREATE TABLE t AS SELECT * FROM '/etc/passwd'",
        "COPY users TO '/tmp/out.csv'",
        "DROP TABLE users; DROP TABLE orders",
    ],
)
def test_files_stay_out_of_reach_even_with_ddl(sql: str) -> None:
    with pytest.raises(OperationNotAllowed):
        check_editor_sql(sql, DDL)


async def test_allow_ddl_through_the_routes(tmp_path: Path) -> None:
    path = make_sqlite(tmp_path / "shop.sqlite")
    ds = Datasource(db_type="sqlite", db_name="shop", db_path=str(path))
    run = "/api/v1/editor/sql/run"
    async with running(tmp_path) as client:
        added = await client.post("/api/v1/chat/db/add", json=db_config(ds, writable=True))
        assert (await added.json())["success"]
        await failed(
            await client.post(run, json={"db_name": "shop", "sql": "DROP TABLE orders"}),
            "Operation not allowed:",
            "DROP",
        )
        edited = await client.post(
            "/api/v1/chat/db/edit", json=db_config(ds, writable=True, allow_ddl=True)
        )
        assert (await edited.json())["success"]
        data = await ok(
            await client.post(run, json={"db_name": "shop", "sql": "DROP TABLE orders"})
        )
        assert "DROP TABLE done" in data["result_info"]
        tables = await ok(
            await client.post(
                run, json={"db_name": "shop", "sql": "SELECT name FROM sqlite_master"}
            )
        )
        assert ["orders"] not in tables["values"] and ["users"] in tables["values"]
