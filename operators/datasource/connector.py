"""Connectors: one SQLAlchemy engine per datasource, reading only, with deadlines.

SQLite, PostgreSQL and MySQL/MariaDB run on async drivers (aiosqlite, asyncpg, aiomysql);
DuckDB's driver is synchronous, so its work runs in a worker thread. Every connection a
connector opens is read-only at the database, beneath the SQL gate
(:mod:`operators.datasource.gate`): SQLite files open with ``mode=ro``, DuckDB files with
``read_only``, PostgreSQL sessions with ``default_transaction_read_only``, MySQL sessions
with ``SET SESSION TRANSACTION READ ONLY``; and every connection, reading or writing, is
inside its database's sandbox (:mod:`operators.datasource.sandbox`: no files, no other
databases, no privileged logins). Each query has a statement timeout enforced by
the database itself (PostgreSQL ``statement_timeout``, MariaDB ``max_statement_time``,
MySQL ``max_execution_time``; SQLite through a progress handler, DuckDB by interrupting
the connection), and a last-resort deadline on our side.

    >>> connector = connector_for(datasource)  # doctest: +SKIP
    >>> result = await connector.run_query("SELECT name FROM users", max_rows=10)  # doctest: +SKIP
    >>> result.columns, result.rows  # doctest: +SKIP
    (['name'], [['alice'], ['bob']])
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from awel.errors import AwelError
from operators.storage import Datasource, installed_store

from .gate import DEFAULT_MAX_ROWS, check_sql
from .sandbox import (
    DUCKDB_CONFIG,
    PrivilegedLogin,
    guard_mysql,
    guard_postgres,
    sqlite_authorizer,
)

log = logging.getLogger("awel.datasource")

T = TypeVar("T")

#: The types this server connects to, in the order the type list shows them, and whether
#: each is a file (DB-GPT's ``is_file_db``).
DB_TYPES: dict[str, bool] = {"mysql": False, "postgresql": False, "duckdb": True, "sqlite": True}
_ALIASES = {"mariadb": "mysql", "postgres": "postgresql", "pg": "postgresql", "sqlite3": "sqlite"}

#: Seconds a statement may run unless told otherwise (DB-GPT's SQL editor allows 30).
DEFAULT_TIMEOUT = 30.0
#: Seconds to wait for a connection.
CONNECT_TIMEOUT = 10.0


class UnsupportedType(AwelError):
    code = "datasource.unsupported_type"

    def __init__(self, db_type: str) -> None:
        super().__init__(
            f"db_type '{db_type}' is not supported; use one of {', '.join(DB_TYPES)}",
            param="db_type",
        )


class BadDatasource(AwelError):
    """The settings cannot describe a connection (a file db without a path ...)."""

    code = "datasource.invalid"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message, param=field)


class ConnectFailed(AwelError):
    """The database could not be reached or refused the login (DB-GPT's ``E1001``)."""

    code = "datasource.connect_failed"

    def __init__(self, ds: Datasource, reason: str) -> None:
        where = ds.db_path if DB_TYPES.get(ds.db_type, False) else f"{ds.db_host}:{ds.db_port}"
        super().__init__(
            f"cannot connect to {ds.db_type} datasource '{ds.db_name}' at {where}: {reason}",
            param="db_name",
        )


class QueryFailed(AwelError):
    code = "sql.failed"

    def __init__(self, ds: Datasource, reason: str) -> None:
        super().__init__(f"the query failed on datasource '{ds.db_name}': {reason}", param="sql")


class QueryTimeout(AwelError):
    code = "sql.timeout"

    def __init__(self, ds: Datasource, seconds: float) -> None:
        super().__init__(
            f"the query on datasource '{ds.db_name}' ran past its statement timeout"
            f" ({seconds:g} s) and was stopped",
            param="sql",
        )


def normalise_type(db_type: str) -> str:
    """Our name for a datasource type, or :class:`UnsupportedType`."""
    name = (db_type or "").strip().lower()
    name = _ALIASES.get(name, name)
    if name not in DB_TYPES:
        raise UnsupportedType(db_type)
    return name


def is_file_db(db_type: str) -> bool:
    return DB_TYPES.get(normalise_type(db_type), False)


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Rows of a query. ``truncated``: more rows existed than the cap let through."""

    sql: str
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    elapsed: float


def connection_url(ds: Datasource) -> URL:
    """The SQLAlchemy URL of a datasource (read-only where the URL can say so)."""
    kind = normalise_type(ds.db_type)
    if kind in ("sqlite", "duckdb"):
        if not ds.db_path:
            raise BadDatasource(
                f"a {kind} datasource needs file_path (the database file)", "file_path"
            )
        path = Path(ds.db_path).expanduser()
        if not path.is_file():
            raise BadDatasource(f"file_path '{ds.db_path}' is not a file", "file_path")
        if kind == "sqlite":
            # A URI filename with mode=ro: SQLite itself refuses every write.
            return URL.create(
                "sqlite+aiosqlite",
                database=f"file:{path.resolve()}?mode=ro",
                query={"uri": "true"},
            )
        return URL.create("duckdb", database=str(path.resolve()))
    if not ds.db_host:
        raise BadDatasource(f"a {kind} datasource needs db_host", "db_host")
    driver = "postgresql+asyncpg" if kind == "postgresql" else "mysql+aiomysql"
    query = {"charset": "utf8mb4"} if kind == "mysql" else {}
    return URL.create(
        driver,
        username=ds.db_user or None,
        password=ds.password or None,
        host=ds.db_host,
        port=ds.db_port or None,
        database=ds.db_name if kind != "mysql" else _mysql_database(ds),
        query=query,
    )


def _mysql_database(ds: Datasource) -> str:
    ext = ds.ext_config or {}
    return str(ext.get("database") or ds.db_name)


def _writable_url(ds: Datasource) -> URL:
    url = connection_url(ds)  # checks the settings (a file db's path exists ...)
    if ds.db_type == "sqlite":
        # The read-only URL opens the file with mode=ro; this one may write.
        return URL.create("sqlite+aiosqlite", database=str(Path(ds.db_path).expanduser().resolve()))
    return url


class Connector:
    """A datasource's engine. Use :func:`connector_for` to share one per datasource."""

    def __init__(
        self, ds: Datasource, *, timeout: float = DEFAULT_TIMEOUT, read_only: bool = True
    ) -> None:
        """``read_only=False`` is for the editor on datasources marked writable: the same
        engine and statement timeouts, without the session's read-only settings."""
        self.ds = Datasource(**{**_fields(ds), "db_type": normalise_type(ds.db_type)})
        self.kind = self.ds.db_type
        self.timeout = timeout
        self.read_only = read_only
        self.url = connection_url(self.ds) if read_only else _writable_url(self.ds)
        self._async: AsyncEngine | None = None
        self._sync: Engine | None = None
        # Work in flight: closing waits for it, since a pool disposed under a checked-out
        # connection never closes that connection (the old pool is simply dropped).
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        if self.kind == "duckdb":
            # The database's own sandbox first: no file, URL or other database (sandbox.py).
            connect_args: dict[str, Any] = {"config": dict(DUCKDB_CONFIG)}
            if read_only:
                connect_args["read_only"] = True
            self._sync = create_engine(self.url, connect_args=connect_args, pool_pre_ping=False)
        elif self.kind == "postgresql":
            settings = {
                "statement_timeout": str(int(timeout * 1000)),
                "application_name": "awel" if read_only else "awel-editor",
            }
            if read_only:
                settings["default_transaction_read_only"] = "on"
            self._async = create_async_engine(
                self.url,
                pool_pre_ping=True,
                connect_args={"timeout": CONNECT_TIMEOUT, "server_settings": settings},
            )
            event.listen(self._async.sync_engine, "connect", self._postgres_session)
        elif self.kind == "mysql":
            self._async = create_async_engine(
                self.url,
                pool_pre_ping=True,
                # local_infile: the server may never ask this process for one of its files.
                connect_args={"connect_timeout": CONNECT_TIMEOUT, "local_infile": False},
            )
            event.listen(self._async.sync_engine, "connect", self._mysql_session)
        else:
            self._async = create_async_engine(self.url)
            event.listen(self._async.sync_engine, "connect", self._sqlite_session)

    @staticmethod
    def _mysql_timeout(conn: Any, seconds: float) -> str:
        if getattr(conn.dialect, "is_mariadb", False):
            return f"SET SESSION max_statement_time = {seconds:.3f}"
        return f"SET SESSION max_execution_time = {int(seconds * 1000)}"

    def _postgres_session(self, dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        try:
            role = (self.ds.ext_config or {}).get("role")
            guard_postgres(cursor, self.ds.db_name, self.ds.db_user, str(role) if role else None)
        finally:
            cursor.close()
        # The driver ran those in a transaction: committed, SET ROLE lasts the session (a
        # rollback would quietly put the login's own role back).
        dbapi_conn.commit()

    @staticmethod
    def _sqlite_session(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.run_async(lambda conn: conn.set_authorizer(sqlite_authorizer))

    def _mysql_session(self, dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        guard_mysql(cursor, self.ds.db_name)
        cursor.execute("SELECT VERSION()")
        version = str(cursor.fetchone()[0])
        if self.read_only:
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
        if "mariadb" in version.lower():
            cursor.execute(f"SET SESSION max_statement_time = {self.timeout:.3f}")
        else:
            cursor.execute(f"SET SESSION max_execution_time = {int(self.timeout * 1000)}")
        cursor.close()

    async def aclose(self) -> None:
        if self._active:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), self.timeout + 5)
        if self._async is not None:
            await self._async.dispose()
        if self._sync is not None:
            engine = self._sync
            await anyio.to_thread.run_sync(engine.dispose)

    # --- running work on a connection ---------------------------------------------------

    async def run_sync(self, fn: Callable[[Connection], T], *, timeout: float | None = None) -> T:
        """Call ``fn`` with a synchronous connection (in a worker thread for DuckDB, in the
        async engine's greenlet bridge otherwise), under the statement timeout."""
        seconds = timeout or self.timeout
        self._active += 1
        self._idle.clear()
        try:
            async with asyncio.timeout(seconds + 5):
                if self._sync is not None:
                    return await anyio.to_thread.run_sync(
                        self._duckdb_call, self._sync, fn, seconds, abandon_on_cancel=True
                    )
                assert self._async is not None
                async with self._async.connect() as conn:
                    if self.kind == "sqlite":
                        await self._sqlite_deadline(conn, seconds)
                    elif self.kind == "postgresql" and seconds != self.timeout:
                        await conn.execute(
                            text(f"SET LOCAL statement_timeout = {int(seconds * 1000)}")
                        )
                    elif self.kind == "mysql" and seconds != self.timeout:
                        await conn.execute(text(self._mysql_timeout(conn, seconds)))
                    try:
                        return await conn.run_sync(fn)
                    finally:
                        await conn.rollback()
                        if self.kind == "mysql" and seconds != self.timeout:
                            await conn.execute(text(self._mysql_timeout(conn, self.timeout)))
        except TimeoutError:
            raise QueryTimeout(self.ds, seconds) from None
        except DBAPIError as exc:
            if _is_timeout(exc):
                raise QueryTimeout(self.ds, seconds) from None
            raise
        finally:
            self._active -= 1
            if not self._active:
                self._idle.set()

    @staticmethod
    def _duckdb_call(engine: Engine, fn: Callable[[Connection], T], seconds: float) -> T:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            timer = threading.Timer(seconds, lambda: raw.interrupt() if raw is not None else None)
            timer.start()
            try:
                return fn(conn)
            finally:
                timer.cancel()
                conn.rollback()

    async def _sqlite_deadline(self, conn: Any, seconds: float) -> None:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        deadline = time.monotonic() + seconds

        def past_deadline() -> int:
            # A non-zero answer makes SQLite abandon the statement ("interrupted").
            return 1 if time.monotonic() > deadline else 0

        await driver.set_progress_handler(past_deadline, 10_000)

    # --- what flows call ----------------------------------------------------------------

    async def test(self) -> None:
        """Connect and run a trivial query, or raise :class:`ConnectFailed` saying why."""
        try:
            await self.run_sync(
                lambda c: c.execute(text("SELECT 1")).scalar(), timeout=CONNECT_TIMEOUT
            )
        except PrivilegedLogin:
            raise
        except Exception as exc:
            # Whatever the driver raises (refused, unknown host, bad login, no such database).
            raise ConnectFailed(self.ds, _reason(exc)) from None

    async def run_query(
        self,
        sql: str,
        *,
        max_rows: int = DEFAULT_MAX_ROWS,
        timeout: float | None = None,
        checked: bool = False,
    ) -> QueryResult:
        """Run one reading statement through the SQL gate (unless ``checked`` says it has
        been) and return at most ``max_rows`` rows."""
        statement = sql if checked else check_sql(sql, self.kind, max_rows=max_rows).sql
        started = time.perf_counter()

        def fetch(conn: Connection) -> tuple[list[str], list[list[Any]], bool]:
            result = conn.exec_driver_sql(statement)
            if not result.returns_rows:
                return [], [], False
            columns = list(result.keys())
            rows = [list(r) for r in result.fetchmany(max_rows + 1)]
            result.close()
            return columns, rows[:max_rows], len(rows) > max_rows

        try:
            columns, rows, truncated = await self.run_sync(fetch, timeout=timeout)
        except AwelError:
            raise
        except (SQLAlchemyError, OSError) as exc:
            if _is_connect_error(exc):
                raise ConnectFailed(self.ds, _reason(exc)) from None
            raise QueryFailed(self.ds, _reason(exc)) from None
        return QueryResult(statement, columns, rows, truncated, time.perf_counter() - started)


def _fields(ds: Datasource) -> dict[str, Any]:
    return {name: getattr(ds, name) for name in ds.__dataclass_fields__}


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text_ = str(orig).strip().splitlines()
    message = text_[0] if text_ else type(orig).__name__
    return message[:500]


def _is_timeout(exc: DBAPIError) -> bool:
    message = str(exc.orig).lower()
    return any(
        marker in message
        for marker in (
            "statement timeout",
            "canceling statement due to statement timeout",
            "max_statement_time",
            "maximum statement execution time exceeded",
            "query execution was interrupted",
            "interrupted",
        )
    )


def _is_connect_error(exc: BaseException) -> bool:
    message = str(getattr(exc, "orig", exc)).lower()
    if "does not exist" in message:
        # PostgreSQL: a missing database or role is a login failure; a missing column is not.
        return 'database "' in message or 'role "' in message
    return any(
        marker in message
        for marker in (
            "can't connect",
            "connection refused",
            "access denied",
            "unknown database",
            "password authentication failed",
            "unable to open database",
            "could not connect",
        )
    )


# --- one connector per datasource ------------------------------------------------------

#: (db_name, read_only) -> (fingerprint of the settings, its connector).
_connectors: dict[tuple[str, bool], tuple[str, Connector]] = {}


def _fingerprint(ds: Datasource) -> str:
    parts = [
        ds.db_type,
        ds.db_name,
        ds.db_path,
        ds.db_host,
        str(ds.db_port),
        ds.db_user,
        ds.password,
        repr(sorted((ds.ext_config or {}).items())),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def connector_for(ds: Datasource, *, read_only: bool = True) -> Connector:
    """The shared connector of ``ds``; a changed datasource gets a new one (the old one is
    closed in the background). ``read_only=False``: the editor's writing one, for
    datasources marked writable."""
    key = _fingerprint(ds)
    slot = (ds.db_name, read_only)
    found = _connectors.get(slot)
    if found is not None and found[0] == key:
        return found[1]
    connector = Connector(ds, read_only=read_only)
    _connectors[slot] = (key, connector)
    store = installed_store()
    if store is not None:
        # The pools live as long as the store: the server closes both at shutdown.
        store.on_close(close_connectors)
    if found is not None:
        _close_later(found[1])
    return connector


_closing: set[asyncio.Task[None]] = set()


def _close_later(connector: Connector) -> None:
    try:
        task = asyncio.get_running_loop().create_task(connector.aclose())
    except RuntimeError:
        return
    _closing.add(task)
    task.add_done_callback(_closing.discard)


async def forget(db_name: str) -> None:
    """Close and drop the connectors of ``db_name`` (after an edit or a delete)."""
    for read_only in (True, False):
        found = _connectors.pop((db_name, read_only), None)
        if found is not None:
            await found[1].aclose()


async def close_connectors() -> None:
    """Close every shared connector (at shutdown)."""
    found = list(_connectors.values())
    _connectors.clear()
    for _, connector in found:
        try:
            await connector.aclose()
        except Exception:
            log.exception("closing the connector of '%s' failed", connector.ds.db_name)
    if _closing:
        await asyncio.gather(*_closing, return_exceptions=True)
