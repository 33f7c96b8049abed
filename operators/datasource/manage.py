"""DB-GPT's datasource API (``/api/v1/chat/db/*``): one async function per route.

Bodies are DB-GPT's ``DBConfig``; answers its ``connect_config`` rows. Passwords are never
answered (``db_pwd`` comes back masked), and an edit that sends the mask keeps the stored
one, but only for the endpoint it was stored for (:mod:`.credentials`). ``db/add`` tests the
connection before storing and builds the schema summary in the background.
"""

from __future__ import annotations

from typing import Any

from operators.storage import UnknownDatasource, current_store

from .connector import DB_TYPES, connector_for, forget
from .credentials import check_file, with_stored_password
from .requests import V1_FIELDS, DBConfig, DBListQuery, DBName, DBSummaryQuery
from .summaries import current_summaries, summarise_now


async def db_list(query: DBListQuery) -> list[dict[str, Any]]:
    found = await current_store().datasources.list(user_id=query.user_id, db_name=query.db_name)
    return [ds.public() for ds in found]


async def db_add(body: DBConfig) -> bool:
    ds = body.datasource(keep_masked=False)
    store = current_store()
    if await store.datasources.get(ds.db_name) is not None:
        await store.datasources.add(ds)  # raises DatasourceExists naming it
    await check_file(ds, V1_FIELDS)
    # An unusable datasource is refused before it is stored, with the reason.
    await connector_for(ds).test()
    added = await store.datasources.add(ds)
    current_summaries().build_later(store, added)
    return True


async def db_edit(body: DBConfig) -> bool:
    store = current_store()
    current = await store.datasources.require(body.db_name)
    ds = body.datasource(keep_masked=True)
    await check_file(ds, V1_FIELDS)
    probe = ds if ds.db_pwd is not None else with_stored_password(current, ds, V1_FIELDS)
    await connector_for(probe).test()
    await store.datasources.update(ds)
    await forget(ds.db_name)
    return True


async def db_delete(body: DBName) -> bool:
    store = current_store()
    if not await store.datasources.delete(body.db_name):
        raise UnknownDatasource(body.db_name)
    await forget(body.db_name)
    return True


async def db_test_connect(body: DBConfig) -> bool:
    """True when the datasource answers. The route answers its ``datasource.`` failures
    with HTTP 200 (DB-GPT's E1001); a request the server refuses (a file it may not open,
    the stored password sent elsewhere) is a ``request.`` failure, a 400."""
    ds = body.datasource(keep_masked=True)
    stored = None
    if ds.db_pwd is None:
        stored = await current_store().datasources.require(ds.db_name)
    await check_file(ds, V1_FIELDS)
    if stored is not None:
        ds = with_stored_password(stored, ds, V1_FIELDS)
    await connector_for(ds).test()
    return True


async def db_summary(query: DBSummaryQuery) -> bool:
    ds = await current_store().datasources.require(query.db_name)
    await summarise_now(ds)
    return True


async def db_refresh(body: DBConfig) -> bool:
    ds = await current_store().datasources.require(body.db_name)
    await summarise_now(ds)
    return True


async def db_support_type(_: Any) -> list[dict[str, Any]]:
    return [{"db_type": name, "is_file_db": is_file} for name, is_file in DB_TYPES.items()]
