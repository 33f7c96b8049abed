"""What file a user may register as a SQLite or DuckDB datasource, through the real routes:
a database of the declared type (by its header), never the server's own files, and under
``datasource_roots`` when they are set."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from operators.storage import Datasource, current_store
from server.settings import Settings
from tests.datasource.conftest import db_config, make_duckdb, make_sqlite
from tests.datasource.test_routes import failed, ok
from tests.server.conftest import running

Client = TestClient[web.Request, web.Application]
ADD = "/api/v1/chat/db/add"


def sqlite_source(path: Path, name: str = "files") -> dict[str, Any]:
    return db_config(Datasource(db_type="sqlite", db_name=name, db_path=str(path)))


async def refused(client: Client, body: dict[str, Any], *words: str, path: str = ADD) -> None:
    answer = await failed(await client.post(path, json=body))
    for word in words:
        assert word in answer["err_msg"], (word, answer)
    assert await ok(await client.get("/api/v1/chat/db/list")) == []


async def test_the_file_must_be_a_database_of_the_declared_type(tmp_path: Path) -> None:
    text_file = tmp_path / "notes.db"
    text_file.write_text("just some notes\n" * 20)
    duck = make_duckdb(tmp_path / "shop.duckdb")
    lite = make_sqlite(tmp_path / "shop.sqlite")
    async with running(tmp_path) as client:
        await refused(client, sqlite_source(text_file), "file_path", "not a sqlite database")
        # The name says nothing: a DuckDB file called .sqlite is no SQLite database.
        renamed = tmp_path / "duck.sqlite"
        renamed.write_bytes(duck.read_bytes())
        await refused(client, sqlite_source(renamed), "not a sqlite database")
        as_duck = db_config(Datasource(db_type="duckdb", db_name="d", db_path=str(lite)))
        await refused(client, as_duck, "not a duckdb database")
        await refused(client, sqlite_source(tmp_path), "is not a file")

        # The real ones are taken; an empty file is an empty SQLite database (SQLite's rule).
        assert await ok(await client.post(ADD, json=sqlite_source(lite, "lite"))) is True
        duck_body = db_config(Datasource(db_type="duckdb", db_name="duck", db_path=str(duck)))
        assert await ok(await client.post(ADD, json=duck_body)) is True
        empty = tmp_path / "empty.db"
        sqlite3.connect(empty).close()
        assert empty.stat().st_size == 0
        assert await ok(await client.post(ADD, json=sqlite_source(empty, "empty"))) is True


def test_duckdb_files_carry_the_magic_the_check_reads(tmp_path: Path) -> None:
    from operators.datasource.files import DUCKDB_MAGIC, DUCKDB_MAGIC_AT, SQLITE_HEADER

    head = make_duckdb(tmp_path / "x.duckdb").read_bytes()[:16]
    assert head[DUCKDB_MAGIC_AT : DUCKDB_MAGIC_AT + 4] == DUCKDB_MAGIC
    assert make_sqlite(tmp_path / "x.sqlite").read_bytes()[:16] == SQLITE_HEADER


async def test_the_servers_own_files_are_never_a_datasource(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running(tmp_path) as client:
        own = [data / "awel.db", data / "secret.key"]
        assert all(p.is_file() for p in own)
        (data / "files" / "someone").mkdir(parents=True)
        upload = make_sqlite(data / "files" / "someone" / "theirs.sqlite")
        link = tmp_path / "innocent.db"
        link.symlink_to(data / "awel.db")
        hard = tmp_path / "hard.db"
        os.link(data / "awel.db", hard)
        sneaky = tmp_path / "sub" / ".." / "data" / "awel.db"
        for path in [*own, upload, link, hard, sneaky, data]:
            await refused(client, sqlite_source(path), "file_path", "data folder")
        # The other routes that take a path hold to the same rule.
        await refused(
            client, sqlite_source(link), "data folder", path="/api/v1/chat/db/test/connect"
        )
        v2 = {"type": "sqlite", "params": {"path": str(link)}}
        await refused(client, v2, "params.path", "data folder", path="/api/v2/serve/datasources")
        await refused(client, v2, "params.path", path="/api/v2/serve/datasources/test-connection")
        # An edit cannot move a datasource there either.
        mine = make_sqlite(tmp_path / "mine.sqlite")
        assert await ok(await client.post(ADD, json=sqlite_source(mine, "mine"))) is True
        moved = sqlite_source(link, "mine")
        answer = await failed(await client.post("/api/v1/chat/db/edit", json=moved))
        assert "data folder" in answer["err_msg"]
        added = await ok(await client.get("/api/v2/serve/datasources"))
        put = {"id": added[0]["id"], "type": "sqlite", "params": {"path": str(hard)}}
        answer = await failed(await client.put("/api/v2/serve/datasources", json=put))
        assert "params.path" in answer["err_msg"] and "data folder" in answer["err_msg"]
        assert (await current_store().datasources.require("mine")).db_path == str(mine)


async def test_datasource_roots_bound_where_files_may_be(tmp_path: Path) -> None:
    inside = tmp_path / "allowed"
    inside.mkdir()
    good = make_sqlite(inside / "shop.sqlite")
    outside = make_sqlite(tmp_path / "elsewhere.sqlite")
    escape = inside / "escape.sqlite"
    escape.symlink_to(outside)
    async with running(tmp_path, datasource_roots=[inside]) as client:
        for path in (outside, escape, inside / ".." / "elsewhere.sqlite"):
            await refused(client, sqlite_source(path), "file_path", "datasource_roots")
        assert await ok(await client.post(ADD, json=sqlite_source(good))) is True


def test_datasource_roots_come_from_the_environment_as_a_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWEL_DATASOURCE_ROOTS", "/srv/dbs, /home/shared/dbs")
    assert Settings().datasource_roots == [Path("/srv/dbs"), Path("/home/shared/dbs")]
    monkeypatch.delenv("AWEL_DATASOURCE_ROOTS")
    assert Settings().datasource_roots == []
