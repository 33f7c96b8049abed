"""The local database services the storage and datasource tests use for real.

PostgreSQL and MariaDB are reached at the URLs below (override with ``AWEL_TEST_PG_URL`` and
``AWEL_TEST_MYSQL_URL``). Each test gets a database of its own, created and dropped around
it, so tests never see each other's tables. A service that cannot be reached skips its
tests with a message saying which URL was tried.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

PG_URL = os.environ.get("AWEL_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("AWEL_TEST_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/test")

_SERVER_URLS = {"postgresql": PG_URL, "mysql": MYSQL_URL}
_unreachable: dict[str, str] = {}


@asynccontextmanager
async def scratch_database(kind: str, *, privileged: bool = False) -> AsyncIterator[str]:
    """A fresh, empty database on the ``kind`` service ('postgresql' or 'mysql'); its URL.

    The URL logs in as a login of its own that owns the database and nothing else, as the
    docs tell an admin to set up a datasource: chat and the editor refuse logins that can
    reach the server's files (operators/datasource/sandbox.py). ``privileged``: log in as
    the service's admin (the superuser, root) instead. Skips the test when the service is
    not reachable.
    """
    base = make_url(_SERVER_URLS[kind])
    if kind in _unreachable:
        pytest.skip(_unreachable[kind])
    name = f"awel_t_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            for sql in _create(kind, name):
                await conn.execute(text(sql))
    except Exception as exc:  # any failure to reach or create it: not the code under test
        await admin.dispose()
        why = (
            f"{kind} is not reachable at {base.render_as_string(hide_password=True)}"
            f" ({type(exc).__name__}: {exc}); start it or set"
            f" AWEL_TEST_{'PG' if kind == 'postgresql' else 'MYSQL'}_URL"
        )
        _unreachable[kind] = why
        pytest.skip(why)
    try:
        url = base.set(database=name)
        if not privileged:
            url = url.set(username=name, password=None)
        yield url.render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            for sql in _drop(kind, name):
                await conn.execute(text(sql))
        await admin.dispose()


def _create(kind: str, name: str) -> list[str]:
    if kind == "postgresql":
        # The owner may create tables in the database's public schema (PostgreSQL 15+).
        return [f"CREATE ROLE {name} LOGIN", f"CREATE DATABASE {name} OWNER {name}"]
    # MariaDB matches a login by host; one for each way a loopback client arrives.
    return [
        f"CREATE DATABASE {name}",
        *(f"CREATE USER '{name}'@'{host}'" for host in _MYSQL_HOSTS),
        *(f"GRANT ALL PRIVILEGES ON {name}.* TO '{name}'@'{host}'" for host in _MYSQL_HOSTS),
    ]


def _drop(kind: str, name: str) -> list[str]:
    if kind == "postgresql":
        return [f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"DROP ROLE IF EXISTS {name}"]
    return [
        f"DROP DATABASE IF EXISTS {name}",
        *(f"DROP USER IF EXISTS '{name}'@'{host}'" for host in _MYSQL_HOSTS),
    ]


_MYSQL_HOSTS = ("%", "localhost", "127.0.0.1")
