"""The first wall: each real database refuses files, other databases and privileged logins
by itself, with the SQL gate out of the way (``checked=True`` runs a statement as given).

A statement here "fails" when the database refuses it or, for MySQL's ``LOAD_FILE``, when
the file's content does not come back. Every test also checks that no file was written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from operators.datasource import (
    ConnectFailed,
    QueryFailed,
    SQLRejected,
    check_sql,
    close_connectors,
    connector_for,
)
from operators.datasource.sandbox import PrivilegedLogin, allow_privileged_logins
from operators.storage import Datasource
from tests.datasource.conftest import fill_server_db, make_duckdb, make_sqlite, server_datasource
from tests.storage.databases import scratch_database

SECRET = "the-server-secret-4217"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET + "\n")
    return path


async def refused_or_empty(ds: Datasource, sql: str, *, read_only: bool = True) -> str:
    """Run ``sql`` past the gate; the database's refusal, or '' if it answered without the
    secret. Fails the test if the secret comes back."""
    try:
        if read_only:
            result = await connector_for(ds).run_query(sql, checked=True)
            rows: Any = result.rows
        else:
            rows = await connector_for(ds, read_only=False).run_sync(
                lambda conn: _run_and_commit(conn, sql)
            )
    except (QueryFailed, ConnectFailed) as exc:
        return exc.message
    except Exception as exc:  # a driver error the writer's path does not translate
        return str(exc)
    assert SECRET not in repr(rows), f"{sql!r} read the secret: {rows!r}"
    return ""


def _run_and_commit(conn: Connection, sql: str) -> Any:
    result = conn.exec_driver_sql(sql)
    rows = [list(r) for r in result.fetchall()] if result.returns_rows else []
    conn.commit()
    return rows


# --- DuckDB ---------------------------------------------------------------------------


@pytest.fixture
async def duck(tmp_path: Path) -> AsyncIterator[Datasource]:
    path = make_duckdb(tmp_path / "shop.duckdb")
    yield Datasource(db_type="duckdb", db_name="duck", db_path=str(path), writable=True)
    await close_connectors()


def duckdb_attacks(secret: Path, out: Path) -> Iterator[str]:
    s = f"'{secret}'"
    yield f"SELECT * FROM read_text({s})"
    yield f'SELECT * FROM "read_text"({s})'
    yield f"SELECT * FROM system.main.read_text({s})"
    yield f"SELECT * FROM READ_CSV_AUTO({s})"
    yield f"SELECT * FROM {s}"
    yield f"SELECT * FROM query('SELECT * FROM read_text({s.replace(chr(39), chr(39) * 2)})')"
    yield f"SELECT * FROM glob('{secret.parent}/*')"
    yield f"ATTACH '{out}.db' AS other"
    yield f"COPY users TO '{out}'"
    yield "SET enable_external_access = true"
    yield "SET lock_configuration = false"
    yield "INSTALL httpfs"
    yield "LOAD httpfs"


async def test_duckdb_reaches_no_file(duck: Datasource, secret_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    for read_only in (True, False):
        for sql in duckdb_attacks(secret_file, out):
            reason = await refused_or_empty(duck, sql, read_only=read_only)
            assert reason, f"DuckDB ran {sql!r} (read_only={read_only})"
    attached = tmp_path / "out.csv.db"
    assert not out.exists() and not attached.exists()
    # The datasource itself still answers.
    result = await connector_for(duck).run_query("SELECT count(*) FROM users")
    assert result.rows == [[3]]


async def test_an_uploaded_file_is_queried_without_file_access(
    tmp_path: Path, secret_file: Path
) -> None:
    """chat_excel's table is loaded by our code; the model's SQL on it reaches no file."""
    from operators.chat.files import TABLE, _load

    source = tmp_path / "sales.csv"
    source.write_text("region,amount\nnorth,3\nsouth,4\n")
    database = tmp_path / "data.duckdb"
    loaded = _load(source, database)
    assert loaded["rows"] == 2
    ds = Datasource(db_type="duckdb", db_name="upload", db_path=str(database))
    try:
        assert (await connector_for(ds).run_query(f"SELECT sum(amount) FROM {TABLE}")).rows
        assert await refused_or_empty(ds, f"SELECT * FROM read_csv_auto('{secret_file}')")
        assert await refused_or_empty(ds, f"SELECT * FROM read_csv_auto('{source}')")
    finally:
        await close_connectors()


# --- SQLite ---------------------------------------------------------------------------


async def test_sqlite_attaches_nothing_and_loads_nothing(tmp_path: Path, secret_file: Path) -> None:
    path = make_sqlite(tmp_path / "shop.sqlite")
    ds = Datasource(db_type="sqlite", db_name="lite", db_path=str(path), writable=True)
    other = tmp_path / "other.sqlite"
    copy = tmp_path / "copy.sqlite"
    attacks = [
        f"ATTACH '{other}' AS o",
        f"ATTACH DATABASE '{other}' AS \"o\"",
        f"VACUUM INTO '{copy}'",
        "SELECT load_extension('/usr/lib/x86_64-linux-gnu/libsqlite3.so')",
        f"SELECT readfile('{secret_file}')",
        f"SELECT writefile('{copy}', 'x')",
        "PRAGMA writable_schema = ON",
        "PRAGMA query_only = OFF",
    ]
    try:
        for read_only in (True, False):
            for sql in attacks:
                assert await refused_or_empty(ds, sql, read_only=read_only), sql
        assert not other.exists() and not copy.exists()
        # mode=ro: the reading connection cannot write even a statement the gate would pass.
        assert await refused_or_empty(ds, "DELETE FROM users")
        # The schema readers SQLAlchemy uses still work.
        rows = (await connector_for(ds).run_query("PRAGMA table_info(users)", checked=True)).rows
        assert [r[1] for r in rows] == ["id", "name"]
    finally:
        await close_connectors()


# --- PostgreSQL -----------------------------------------------------------------------


def postgres_attacks(secret: Path) -> list[str]:
    return [
        f"SELECT pg_read_file('{secret}')",
        f"SELECT pg_catalog.pg_read_file('{secret}')",
        f"SELECT \"pg_read_file\"('{secret}')",
        f"SELECT pg_read_binary_file('{secret}')",
        "SELECT pg_ls_dir('.')",
        f"SELECT lo_import('{secret}')",
        "COPY (SELECT 1) TO PROGRAM 'true'",
        f"COPY (SELECT 1) TO '{secret}.out'",
        "SELECT * FROM dblink('dbname=postgres', 'SELECT 1') AS t(a int)",
        "SELECT dblink_connect('dbname=postgres')",
    ]


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A scratch database holding the shop (and dblink, so that its refusal is real); the
    URL of the superuser."""
    async with scratch_database("postgresql", privileged=True) as url:
        await fill_server_db(url, "postgresql")
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text("CREATE EXTENSION IF NOT EXISTS dblink"))
            await conn.execute(text("DROP ROLE IF EXISTS awel_sandbox_reader"))
            await conn.execute(text("CREATE ROLE awel_sandbox_reader NOLOGIN"))
            await conn.execute(text("GRANT pg_read_all_data TO awel_sandbox_reader"))
        try:
            yield url
        finally:
            await close_connectors()
            async with engine.connect() as conn:
                await conn.execute(text("DROP OWNED BY awel_sandbox_reader"))
                await conn.execute(text("DROP ROLE IF EXISTS awel_sandbox_reader"))
            await engine.dispose()


async def test_postgres_superuser_is_refused(pg_url: str) -> None:
    ds = server_datasource(pg_url, "postgresql")
    with pytest.raises(PrivilegedLogin) as caught:
        await connector_for(ds).test()
    message = caught.value.message
    assert "'postgres', a superuser" in message and "allow_privileged_datasources" in message
    assert caught.value.code == "datasource.privileged_login"
    assert caught.value.param == "db_user"
    with pytest.raises(PrivilegedLogin):
        await connector_for(ds).run_query("SELECT 1")
    with pytest.raises(PrivilegedLogin):
        await connector_for(ds, read_only=False).run_sync(lambda c: c.exec_driver_sql("SELECT 1"))


async def test_postgres_superuser_with_a_chat_role_reads_no_file(
    pg_url: str, secret_file: Path
) -> None:
    ds = server_datasource(pg_url, "postgresql")
    ds = Datasource(**{**_fields(ds), "ext_config": {"role": "awel_sandbox_reader"}})
    result = await connector_for(ds).run_query("SELECT current_user, count(*) FROM users")
    assert result.rows == [["awel_sandbox_reader", 3]]
    for sql in postgres_attacks(secret_file):
        assert await refused_or_empty(ds, sql), f"PostgreSQL ran {sql!r} as the chat role"
    written = secret_file.with_name("secret.txt.out")
    assert not written.exists()


async def test_postgres_plain_login_reads_no_file(secret_file: Path) -> None:
    async with scratch_database("postgresql") as url:
        await fill_server_db(url, "postgresql")
        ds = server_datasource(url, "postgresql", name=None)
        try:
            await connector_for(ds).test()
            for sql in postgres_attacks(secret_file):
                assert await refused_or_empty(ds, sql), f"PostgreSQL ran {sql!r}"
                assert await refused_or_empty(ds, sql, read_only=False), sql
        finally:
            await close_connectors()


async def test_privileged_logins_when_the_server_allows_them(pg_url: str) -> None:
    ds = server_datasource(pg_url, "postgresql")
    allow_privileged_logins(True)
    try:
        result = await connector_for(ds).run_query("SELECT current_user", checked=False)
        assert result.rows == [["postgres"]]
    finally:
        allow_privileged_logins(False)
        await close_connectors()


# --- MySQL / MariaDB ------------------------------------------------------------------


async def test_mysql_root_is_refused() -> None:
    async with scratch_database("mysql", privileged=True) as url:
        ds = server_datasource(url, "mysql")
        try:
            with pytest.raises(PrivilegedLogin) as caught:
                await connector_for(ds).test()
            assert "FILE privilege" in caught.value.message
        finally:
            await close_connectors()


async def test_mysql_plain_login_reads_and_writes_no_file(secret_file: Path) -> None:
    out = secret_file.parent / "dump.txt"
    attacks = [
        f"SELECT LOAD_FILE('{secret_file}')",
        f"SELECT load_file('{secret_file}')",
        f"SELECT /*!50000 LOAD_FILE('{secret_file}') */",
        f"SELECT name FROM users INTO OUTFILE '{out}'",
        f"SELECT name FROM users INTO DUMPFILE '{out}'",
        f"LOAD DATA INFILE '{secret_file}' INTO TABLE users",
        f"LOAD DATA LOCAL INFILE '{secret_file}' INTO TABLE users",
    ]
    async with scratch_database("mysql") as url:
        await fill_server_db(url, "mysql")
        ds = server_datasource(url, "mysql")
        try:
            await connector_for(ds).test()
            for read_only in (True, False):
                for sql in attacks:
                    # LOAD_FILE without FILE answers NULL: empty, and no secret, is a pass.
                    reason = await refused_or_empty(ds, sql, read_only=read_only)
                    assert reason or "LOAD_FILE" in sql.upper(), sql
            assert not out.exists()
            count = await connector_for(ds).run_query("SELECT count(*) FROM users")
            assert count.rows == [[3]]
        finally:
            await close_connectors()


# --- the gate: every spelling of a refused function ------------------------------------


@pytest.mark.parametrize(
    ("sql", "db_type"),
    [
        ("SELECT * FROM \"read_text\"('/etc/passwd')", "duckdb"),
        ("SELECT * FROM system.main.read_text('/etc/passwd')", "duckdb"),
        ("SELECT * FROM Read_Csv_Auto('/etc/passwd')", "duckdb"),
        ("SELECT * FROM query('SELECT 1')", "duckdb"),
        ("SELECT pg_catalog.pg_read_file('/etc/passwd')", "postgresql"),
        ("SELECT \"pg_read_file\"('/etc/passwd')", "postgresql"),
        (
            "SELECT query_to_xml('SELECT pg_read_file(''/etc/passwd'')', true, true, '')",
            "postgresql",
        ),
        ("SELECT * FROM dblink('dbname=x', 'SELECT 1') AS t(a int)", "postgresql"),
        ("SELECT `load_file`('/etc/passwd')", "mysql"),
        ("SELECT \"readfile\"('/etc/passwd')", "sqlite"),
    ],
)
def test_the_gate_normalises_function_names(sql: str, db_type: str) -> None:
    with pytest.raises(SQLRejected, match=r"the function \w+\(\)"):
        check_sql(sql, db_type)


@pytest.mark.parametrize(
    ("sql", "db_type"),
    [
        # Any role may run these; the gate is the wall for them (sandbox.py says so).
        ("RESET ROLE", "postgresql"),
        ("SET ROLE postgres", "postgresql"),
        ("SET default_transaction_read_only = off", "postgresql"),
        ("VACUUM INTO '/tmp/x.db'", "sqlite"),
        ("COPY (SELECT 1) TO PROGRAM 'id'", "postgresql"),
        ("SELECT 1 INTO OUTFILE '/tmp/x'", "mysql"),
    ],
)
def test_the_gate_refuses_session_and_file_statements(sql: str, db_type: str) -> None:
    with pytest.raises(SQLRejected):
        check_sql(sql, db_type)


def test_mysql_executable_comments_never_reach_the_database() -> None:
    checked = check_sql("SELECT 1 /*!50000 , LOAD_FILE('/etc/passwd') */", "mysql")
    assert "LOAD_FILE" not in checked.sql.upper() and "/*" not in checked.sql


def _fields(ds: Datasource) -> dict[str, Any]:
    return {name: getattr(ds, name) for name in ds.__dataclass_fields__}


def test_sqlite_authorizer_and_duckdb_settings_are_the_database_s() -> None:
    """Guard against a refactor that keeps the names but drops the settings."""
    from operators.datasource.sandbox import DUCKDB_CONFIG, sqlite_authorizer

    conn = duckdb.connect(":memory:", config=dict(DUCKDB_CONFIG))
    try:
        assert conn.execute("SELECT current_setting('enable_external_access')").fetchone() == (
            False,
        )
    finally:
        conn.close()
    lite = sqlite3.connect(":memory:")
    lite.set_authorizer(sqlite_authorizer)
    with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
        lite.execute("ATTACH ':memory:' AS x")
    lite.close()
