"""The datasource's ``writable`` flag: stored, updated, and added to a version-1 database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from operators.storage import Datasource, MetadataStore, open_store
from operators.storage.tables import SCHEMA_VERSION
from tests.storage.databases import scratch_database

# The datasources table as schema version 1 made it (no `writable`).
_V1 = [
    "CREATE TABLE awel_schema (id INTEGER PRIMARY KEY, version INTEGER, gmt_modified TIMESTAMP)",
    "INSERT INTO awel_schema (id, version, gmt_modified) VALUES (1, 1, CURRENT_TIMESTAMP)",
    "CREATE TABLE datasources (id {serial} PRIMARY KEY, db_type VARCHAR(64), db_name"
    " VARCHAR(255) UNIQUE, db_path TEXT, db_host VARCHAR(255), db_port INTEGER, db_user"
    " VARCHAR(255), db_pwd TEXT, comment TEXT, sys_code VARCHAR(128), user_id VARCHAR(128),"
    " user_name VARCHAR(128), ext_config JSON, gmt_created TIMESTAMP, gmt_modified TIMESTAMP)",
    "INSERT INTO datasources (db_type, db_name, db_path, db_host, db_port, db_user, db_pwd,"
    " comment, gmt_created, gmt_modified) VALUES ('sqlite', 'old', '/tmp/old.db', '', 0,"
    " '', '', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
]


async def _check_flag(store: MetadataStore) -> None:
    added = await store.datasources.add(Datasource(db_type="sqlite", db_name="w", db_path="/x"))
    assert added.writable is False
    flipped = await store.datasources.update(
        Datasource(db_type="sqlite", db_name="w", db_path="/x", writable=True, db_pwd=None)
    )
    assert flipped.writable is True and flipped.allow_ddl is False
    assert (await store.datasources.require("w")).writable is True
    ddl = await store.datasources.update(
        Datasource(db_type="sqlite", db_name="w", db_path="/x", writable=True, allow_ddl=True)
    )
    assert ddl.allow_ddl is True and (await store.datasources.require("w")).allow_ddl is True


async def test_writable_is_stored_and_defaults_to_false(tmp_path: Path) -> None:
    async with open_store(None, data_dir=tmp_path) as store:
        await _check_flag(store)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_version_1_database_gains_the_column(kind: str, tmp_path: Path) -> None:
    async def migrate(url: str | None) -> None:
        engine = create_async_engine(
            url or f"sqlite+aiosqlite:///{tmp_path / 'awel.db'}", isolation_level="AUTOCOMMIT"
        )
        async with engine.connect() as conn:
            serial = "INTEGER" if url is None else "SERIAL"
            for sql in _V1:
                await conn.execute(text(sql.replace("{serial}", serial)))
        await engine.dispose()
        async with open_store(url, data_dir=tmp_path) as store:
            old = await store.datasources.require("old")
            assert old.writable is False
            await _check_flag(store)
            async with store.engine.connect() as conn:
                version = await conn.scalar(text("SELECT version FROM awel_schema"))
            assert version == SCHEMA_VERSION

    if kind == "sqlite":
        await migrate(None)
    else:
        async with scratch_database(kind) as url:
            await migrate(url)
