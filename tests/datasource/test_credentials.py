"""A stored password is only sent to the endpoint it was stored for: the mask with another
host, port, user or database is refused, on the real PostgreSQL and MariaDB."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from operators.datasource import close_connectors
from operators.storage import PASSWORD_MASK, Datasource, current_store
from tests.datasource.conftest import db_config, fill_server_db, server_datasource
from tests.datasource.test_routes import failed, ok
from tests.server.conftest import running
from tests.storage.databases import MYSQL_URL, scratch_database

PASSWORD = "Str0ng-pw-of-the-owner"


@asynccontextmanager
async def with_password(kind: str) -> AsyncIterator[Datasource]:
    """The shop on ``kind``, reached with a password: MariaDB through a user of its own
    (so a wrong password fails), PostgreSQL with one stored (its trust auth ignores it)."""
    async with scratch_database(kind) as url:
        await fill_server_db(url, kind)
        ds = server_datasource(url, kind)
        if kind == "postgresql":
            yield replace(ds, db_pwd=PASSWORD)
        else:
            user = f"awel_u_{uuid.uuid4().hex[:8]}"
            # Users are made by the service's admin (the scratch login owns one database).
            admin = create_async_engine(MYSQL_URL, isolation_level="AUTOCOMMIT")
            async with admin.connect() as conn:
                await conn.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{PASSWORD}'"))
                await conn.execute(text(f"GRANT ALL ON {make_url(url).database}.* TO '{user}'@'%'"))
            try:
                yield replace(ds, db_user=user, db_pwd=PASSWORD)
            finally:
                await close_connectors()
                async with admin.connect() as conn:
                    await conn.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
                await admin.dispose()
        await close_connectors()


@asynccontextmanager
async def listener(host: str = "127.0.0.2") -> AsyncIterator[tuple[int, list[str]]]:
    """A port someone else listens on; the list records every connection it gets."""
    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append("connected")
        writer.close()

    server = await asyncio.start_server(handle, host, 0)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()
        await server.wait_closed()


def refused_for(body: dict[str, Any], *fields: str, password_field: str) -> None:
    message = body["err_msg"]
    assert "stored password" in message and password_field in message, message
    for name in fields:
        assert name in message, (name, message)


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
async def test_v1_the_mask_only_works_for_the_stored_endpoint(kind: str, tmp_path: Path) -> None:
    async with with_password(kind) as ds, running(tmp_path) as client, listener() as (port, seen):
        assert await ok(await client.post("/api/v1/chat/db/add", json=db_config(ds))) is True
        masked = db_config(ds, db_pwd=PASSWORD_MASK)

        # Another host and port: refused before anything connects there.
        elsewhere = {**masked, "db_host": "127.0.0.2", "db_port": port}
        for path in ("/api/v1/chat/db/edit", "/api/v1/chat/db/test/connect"):
            refused = await failed(await client.post(path, json=elsewhere))
            refused_for(refused, "db_host", "db_port", password_field="db_pwd")
            assert refused["err_code"] == "E0001"
        for change in ({"db_port": port}, {"db_user": "someone_else"}):
            refused = await failed(await client.post("/api/v1/chat/db/edit", json=masked | change))
            refused_for(refused, *change, password_field="db_pwd")
        if kind == "mysql":
            # The database the connector uses may come from ext_config.
            other_db = masked | {"ext_config": {"database": "mysql"}}
            refused = await failed(await client.post("/api/v1/chat/db/edit", json=other_db))
            refused_for(refused, "db_name", password_field="db_pwd")
        assert seen == []
        stored = await current_store().datasources.require(ds.db_name)
        assert (stored.db_host, stored.db_port, stored.db_user, stored.password) == (
            ds.db_host, ds.db_port, ds.db_user, PASSWORD,
        )  # fmt: skip

        # The same endpoint, however written (host case, the default port as 0), keeps
        # using the stored password, which really logs in.
        same = masked | {"db_host": ds.db_host.upper(), "db_port": 0, "comment": "edited"}
        tested = await (await client.post("/api/v1/chat/db/test/connect", json=same)).json()
        assert tested["success"] is True, tested
        assert await ok(await client.post("/api/v1/chat/db/edit", json=same)) is True
        stored = await current_store().datasources.require(ds.db_name)
        assert stored.comment == "edited" and stored.password == PASSWORD
        # A new password with a new endpoint is the caller's own: it is tried there.
        own = {**elsewhere, "db_pwd": "their own"}
        tried = await (await client.post("/api/v1/chat/db/test/connect", json=own)).json()
        assert tried["success"] is False and tried["err_code"] == "E1001"
        assert seen == ["connected"]
        if kind == "mysql":
            wrong = db_config(ds, db_pwd="not it")
            answer = await (await client.post("/api/v1/chat/db/test/connect", json=wrong)).json()
            assert answer["success"] is False  # so the mask above did send the stored one


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
async def test_v2_the_mask_only_works_for_the_stored_endpoint(kind: str, tmp_path: Path) -> None:
    async with with_password(kind) as ds, running(tmp_path) as client, listener() as (port, seen):
        params = {
            "host": ds.db_host,
            "port": ds.db_port,
            "user": ds.db_user,
            "password": ds.password,
            "database": ds.db_name,
        }
        body = {"type": kind, "params": params, "description": "the shop"}
        created = await ok(await client.post("/api/v2/serve/datasources", json=body))
        masked = {**body, "id": created["id"], "params": params | {"password": PASSWORD_MASK}}

        moved = masked | {"params": masked["params"] | {"host": "127.0.0.2", "port": port}}
        update = await failed(await client.put("/api/v2/serve/datasources", json=moved))
        refused_for(update, "params.host", "params.port", password_field="params.password")
        test = await failed(
            await client.post("/api/v2/serve/datasources/test-connection", json=moved)
        )
        refused_for(test, "params.host", "params.port", password_field="params.password")
        renamed = masked | {"params": masked["params"] | {"database": "postgres"}}
        refused = await failed(await client.put("/api/v2/serve/datasources", json=renamed))
        refused_for(refused, "params.database", password_field="params.password")
        # The older flat form names its own fields.
        flat = {
            "db_type": kind,
            "db_name": ds.db_name,
            "db_host": "127.0.0.2",
            "db_port": port,
            "db_user": ds.db_user,
            "db_pwd": PASSWORD_MASK,
        }
        refused = await failed(
            await client.post("/api/v2/serve/datasources/test-connection", json=flat)
        )
        refused_for(refused, "db_host", "db_port", password_field="db_pwd")
        assert seen == []

        same = masked | {"description": "still the shop"}
        tested = await client.post("/api/v2/serve/datasources/test-connection", json=same)
        assert await ok(tested) is True
        updated = await ok(await client.put("/api/v2/serve/datasources", json=same))
        assert updated["description"] == "still the shop"
        stored = await current_store().datasources.require(ds.db_name)
        assert stored.password == PASSWORD and stored.db_host == ds.db_host
