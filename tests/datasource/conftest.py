"""Real databases with the same small shop schema: SQLite and DuckDB files, and scratch
databases on the local PostgreSQL and MariaDB services."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from operators.datasource import close_connectors
from operators.storage import Datasource
from tests.storage.databases import scratch_database

USERS = [(1, "alice"), (2, "bob"), (3, "carol")]
ORDERS = [(10, 1, 9.5), (11, 1, 20.0), (12, 3, 7.25)]


def _portable_ddl(users_comment: str, orders_comment: str, kind: str) -> list[str]:
    if kind == "mysql":
        return [
            "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL"
            f" COMMENT 'login name') COMMENT='{users_comment}'",
            "CREATE TABLE orders (id INT PRIMARY KEY, user_id INT, total DECIMAL(10,2),"
            f" FOREIGN KEY (user_id) REFERENCES users(id)) COMMENT='{orders_comment}'",
        ]
    ddl = [
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL)",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id),"
        " total DECIMAL(10,2))",
    ]
    if kind in ("postgresql", "duckdb"):
        ddl += [
            f"COMMENT ON TABLE users IS '{users_comment}'",
            f"COMMENT ON TABLE orders IS '{orders_comment}'",
            "COMMENT ON COLUMN users.name IS 'login name'",
        ]
    return ddl


def _rows() -> list[str]:
    return [
        "INSERT INTO users VALUES " + ", ".join(f"({i}, '{n}')" for i, n in USERS),
        "INSERT INTO orders VALUES " + ", ".join(f"({i}, {u}, {t})" for i, u, t in ORDERS),
    ]


def make_sqlite(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        for sql in _portable_ddl("", "", "sqlite") + _rows():
            conn.execute(sql)
    conn.close()
    return path


def make_duckdb(path: Path) -> Path:
    conn = duckdb.connect(str(path))
    for sql in _portable_ddl("people who buy", "what they bought", "duckdb") + _rows():
        conn.execute(sql)
    conn.close()
    return path


async def fill_server_db(url: str, kind: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        for sql in _portable_ddl("people who buy", "what they bought", kind) + _rows():
            await conn.execute(text(sql))
    await engine.dispose()


def server_datasource(url: str, kind: str, *, name: str | None = None) -> Datasource:
    parsed = make_url(url)
    return Datasource(
        db_type=kind,
        db_name=name or str(parsed.database),
        db_host=parsed.host or "127.0.0.1",
        db_port=parsed.port or (5432 if kind == "postgresql" else 3306),
        db_user=parsed.username or "",
        db_pwd=parsed.password or "",
        comment=f"the shop on {kind}",
    )


@pytest.fixture(params=["sqlite", "duckdb", "postgresql", "mysql"])
async def shop(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Datasource]:
    """The shop schema on each kind of database, as a datasource (not stored)."""
    kind: str = request.param
    try:
        if kind == "sqlite":
            path = make_sqlite(tmp_path / "shop.sqlite")
            yield Datasource(db_type="sqlite", db_name="shop_sqlite", db_path=str(path))
        elif kind == "duckdb":
            path = make_duckdb(tmp_path / "shop.duckdb")
            yield Datasource(db_type="duckdb", db_name="shop_duckdb", db_path=str(path))
        else:
            async with scratch_database(kind) as url:
                await fill_server_db(url, kind)
                yield server_datasource(url, kind)
                # Connections to the scratch database go before it is dropped.
                await close_connectors()
    finally:
        await close_connectors()


def db_config(ds: Datasource, **changes: Any) -> dict[str, Any]:
    """The body of ``db/add`` (and ``test/connect``, ``edit``) for ``ds``, with ``changes``."""
    body = {
        "db_type": ds.db_type,
        "db_name": ds.db_name,
        "file_path": ds.db_path,
        "db_host": ds.db_host,
        "db_port": ds.db_port,
        "db_user": ds.db_user,
        "db_pwd": ds.password,
        "comment": ds.comment,
    }
    body.update(changes)
    return body
