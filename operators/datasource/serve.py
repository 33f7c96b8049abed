"""DB-GPT's serve-module datasource API (``/api/v2/serve/datasources``): one async function
per route.

Bodies are ``{type, params, description}`` (the older flat ``db_type``/``db_name`` form is
taken too, :class:`~.requests.DatasourceRequest`); answers are ``{id, type, params,
description, ...}`` with the password masked, and beside them the flat fields (``db_type``,
``db_name``, ``db_path``, ``db_host``, ``db_port``, ``db_user``, ``db_pwd``, ``comment``)
that ``dbgpt-client``'s ``DatasourceModel`` requires and DB-GPT's web UI also reads. The
list is a plain list, as DB-GPT's server sends it and both of those callers read it. The
same rules as v1 hold for files and stored passwords (:mod:`.credentials`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from operators.storage import PASSWORD_MASK, Datasource, UnknownDatasourceId, current_store
from operators.storage.paging import page_limit, page_offset

from .connector import DB_TYPES, connector_for, forget
from .credentials import check_file, with_stored_password
from .requests import DatasourceId, DatasourceRequest, Page
from .summaries import current_summaries, summarise_now


def _v2(ds: Datasource) -> dict[str, Any]:
    params: dict[str, Any]
    if DB_TYPES.get(ds.db_type, False):
        params = {"path": ds.db_path}
    else:
        params = {
            "host": ds.db_host,
            "port": ds.db_port,
            "user": ds.db_user,
            "password": PASSWORD_MASK if ds.password else "",
            "database": ds.db_name,
        }
        if (ds.ext_config or {}).get("schema"):
            params["schema"] = (ds.ext_config or {})["schema"]
    public = ds.public()
    return {
        "id": ds.id,
        "type": ds.db_type,
        "params": params,
        "description": ds.comment,
        "db_type": ds.db_type,
        "db_name": ds.db_name,
        "db_path": ds.db_path,
        "db_host": ds.db_host,
        "db_port": ds.db_port,
        "db_user": ds.db_user,
        "db_pwd": PASSWORD_MASK if ds.password else "",
        "comment": ds.comment,
        "gmt_created": public["gmt_created"],
        "gmt_modified": public["gmt_modified"],
    }


async def _by_id(ds_id: int) -> Datasource:
    found = await current_store().datasources.get_by_id(ds_id)
    if found is None:
        raise UnknownDatasourceId(str(ds_id), field="datasource_id")
    return found


async def v2_create(body: DatasourceRequest) -> dict[str, Any]:
    ds = body.datasource()
    store = current_store()
    if await store.datasources.get(ds.db_name) is not None:
        await store.datasources.add(ds)  # raises DatasourceExists naming it
    await check_file(ds, body.fields)
    # The mask is no password of anybody's here: nothing is stored yet.
    await connector_for(replace(ds, db_pwd=ds.password)).test()
    added = await store.datasources.add(ds)
    current_summaries().build_later(store, added)
    return _v2(added)


async def v2_update(body: DatasourceRequest) -> dict[str, Any]:
    ds = body.datasource()
    store = current_store()
    current = await _by_id(body.id) if body.id is not None else None
    if current is None:
        current = await store.datasources.require(ds.db_name)
    await check_file(ds, body.fields)
    probe = ds if ds.db_pwd is not None else with_stored_password(current, ds, body.fields)
    await connector_for(probe).test()
    updated = await store.datasources.update(ds, by_id=current.id)
    await forget(current.db_name)
    return _v2(updated)


async def v2_get(query: DatasourceId) -> dict[str, Any]:
    return _v2(await _by_id(query.datasource_id))


async def v2_delete(query: DatasourceId) -> dict[str, Any]:
    ds = await _by_id(query.datasource_id)
    await current_store().datasources.delete(ds.db_name)
    await forget(ds.db_name)
    return _v2(ds)


async def v2_list(query: Page) -> list[dict[str, Any]]:
    """Every datasource, as a plain list (DB-GPT's server ignores its page parameters;
    ``page`` and ``page_size``, when given, cut the list to that page)."""
    everything = await current_store().datasources.list()
    if query.page is not None or query.page_size is not None:
        size = query.page_size or 20
        start = page_offset(query.page or 1, size)
        everything = everything[start : start + page_limit(size)]
    return [_v2(ds) for ds in everything]


async def v2_test_connection(body: DatasourceRequest) -> bool:
    ds = body.datasource()
    await check_file(ds, body.fields)
    if ds.db_pwd is None:
        # The mask names a stored datasource's password: by id when given, else by name.
        stored = await _by_id(body.id) if body.id is not None else None
        if stored is None:
            stored = await current_store().datasources.require(ds.db_name)
        ds = with_stored_password(stored, ds, body.fields)
    await connector_for(ds).test()
    return True


async def v2_refresh(query: DatasourceId) -> bool:
    await summarise_now(await _by_id(query.datasource_id))
    return True


_TYPE_PARAMS: dict[bool, list[tuple[str, str, bool, Any, str]]] = {
    False: [
        ("host", "str", True, None, "The database server's host."),
        ("port", "int", True, None, "The database server's port."),
        ("user", "str", True, None, "Who to log in as."),
        ("password", "str", False, "", "The password (stored encrypted)."),
        ("database", "str", True, None, "The database to use (the datasource's name)."),
    ],
    True: [("path", "str", True, None, "The database file.")],
}
_LABELS = {"mysql": "MySQL", "postgresql": "PostgreSQL", "duckdb": "DuckDB", "sqlite": "SQLite"}


async def v2_types(_: Any) -> dict[str, Any]:
    types = []
    for name, is_file in DB_TYPES.items():
        parameters = [
            {
                "param_name": p,
                "param_type": t,
                "required": req,
                "default_value": default,
                "description": desc,
            }
            for p, t, req, default, desc in _TYPE_PARAMS[is_file]
        ]
        if name == "postgresql":
            parameters.append(
                {
                    "param_name": "schema",
                    "param_type": "str",
                    "required": False,
                    "default_value": "public",
                    "description": "The schema whose tables are used.",
                }
            )
        types.append(
            {
                "name": name,
                "label": _LABELS[name],
                "description": f"{_LABELS[name]} datasource",
                "parameters": parameters,
            }
        )
    return {"types": types}
