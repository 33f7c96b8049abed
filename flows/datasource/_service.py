"""What the datasource flows do: request bodies and one async function per route.

The flows in this folder are a trigger and one of these functions. v1 routes speak
DB-GPT's ``DBConfig`` and ``connect_config`` rows; v2 routes speak its serve module's
``{type, params, description}``. Passwords are never answered: ``db_pwd`` (and v2's
``params.password``) come back masked, and an edit that sends the mask keeps the stored one,
but only for the endpoint it was stored for (:mod:`operators.datasource.endpoint`); and a
file a user registers must pass :mod:`operators.datasource.files`.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator

from awel.errors import BadRequest
from operators.datasource import (
    DB_TYPES,
    connector_for,
    forget,
    normalise_type,
    rebuild_summaries,
)
from operators.datasource.endpoint import changed_endpoint
from operators.datasource.files import FilePolicy, check_database_file
from operators.storage import (
    PASSWORD_MASK,
    Datasource,
    UnknownDatasource,
    UnknownDatasourceId,
    current_store,
)

log = logging.getLogger("awel.datasource")


class DBConfig(BaseModel):
    """DB-GPT's body of ``db/add``, ``db/edit``, ``db/test/connect``, ``db/refresh``."""

    db_type: str = Field(description="mysql, postgresql, duckdb or sqlite.")
    db_name: str = Field(description="The datasource's name (the database, for servers).")
    file_path: str = Field("", description="The database file (sqlite, duckdb).")
    db_host: str = ""
    db_port: int = 0
    db_user: str = ""
    db_pwd: str = Field("", description="Sent back masked ('******') to keep the stored one.")
    comment: str = ""
    ext_config: dict[str, Any] | None = Field(None, description="e.g. {'schema': 'sales'}.")
    writable: bool = Field(
        False,
        description="Let the SQL editor write (CREATE TABLE, INSERT, UPDATE, DELETE, ALTER"
        " TABLE); read-only when false.",
    )
    allow_ddl: bool = Field(
        False,
        description="With writable, also let the SQL editor drop or replace objects (DROP,"
        " TRUNCATE, CREATE OR REPLACE, ALTER TABLE ... DROP); refused when false.",
    )

    @field_validator("db_name")
    @classmethod
    def _named(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("db_name must not be empty")
        return value


class DBName(BaseModel):
    db_name: str = Field(description="The datasource's name.")


class DBListQuery(BaseModel):
    db_name: str | None = Field(None, description="Only this datasource.")
    user_id: str | None = Field(None, description="Only what this user may see.")


class DBSummaryQuery(BaseModel):
    db_name: str = Field(description="The datasource's name.")
    db_type: str = Field(description="Its type.")


def _to_datasource(body: DBConfig, *, keep_masked: bool) -> Datasource:
    kind = normalise_type(body.db_type)
    pwd: str | None = body.db_pwd
    if keep_masked and pwd == PASSWORD_MASK:
        pwd = None
    return Datasource(
        db_type=kind,
        db_name=body.db_name,
        db_path=body.file_path if DB_TYPES[kind] else "",
        db_host=body.db_host,
        db_port=body.db_port,
        db_user=body.db_user,
        db_pwd=pwd,
        comment=body.comment,
        ext_config=body.ext_config,
        writable=body.writable,
        allow_ddl=body.allow_ddl,
    )


# --- what a request may ask of the server's files and stored passwords ------------------

#: The request's name of each endpoint field, per body form.
_V1_FIELDS = {
    "type": "db_type",
    "host": "db_host",
    "port": "db_port",
    "user": "db_user",
    "database": "db_name",
    "path": "file_path",
    "password": "db_pwd",
}
_V2_FLAT_FIELDS = {**_V1_FIELDS, "path": "db_path"}
_V2_PARAMS_FIELDS = {
    "type": "type",
    **{key: f"params.{key}" for key in ("host", "port", "user", "database", "path", "password")},
}


def _file_policy() -> FilePolicy:
    store = current_store()
    url = store.engine.url
    own = [Path(url.database)] if url.get_backend_name() == "sqlite" and url.database else []
    return FilePolicy(store.data_dir, store.datasource_roots, own)


async def _check_file(ds: Datasource, fields: dict[str, str]) -> None:
    """Refuse a file datasource whose file a user may not register (the rule named)."""
    if DB_TYPES.get(ds.db_type, False):
        # Off the event loop: resolving the path and reading the header touch the disk.
        policy = _file_policy()
        await asyncio.to_thread(check_database_file, ds.db_type, ds.db_path, policy, fields["path"])


def _with_stored_password(stored: Datasource, ds: Datasource, fields: dict[str, str]) -> Datasource:
    """``ds`` with ``stored``'s password, which is only sent where it was stored for: a
    request that changes the endpoint must send the password again."""
    if ds.ext_config is None:  # no ext_config in a request keeps the stored one
        ds = replace(ds, ext_config=stored.ext_config)
    changed = changed_endpoint(stored, ds)
    if changed:
        names = ", ".join(fields[name] for name in changed)
        raise BadRequest(
            f"the stored password of '{stored.db_name}' is only used to connect where it was"
            f" stored for, and this request changes {names}: send the password"
            f" ({fields['password']}) again",
            param=fields["password"],
        )
    return replace(ds, db_pwd=stored.password)


# --- the schema summary, built after an add in the background ---------------------------

_building: set[asyncio.Task[None]] = set()


async def _cancel_building() -> None:
    for task in list(_building):
        task.cancel()
    if _building:
        await asyncio.gather(*_building, return_exceptions=True)


def _summarise_later(ds: Datasource) -> None:
    store = current_store()

    async def build() -> None:
        try:
            await rebuild_summaries(store, ds)
        except Exception as exc:
            log.warning("the schema summary of '%s' was not built: %s", ds.db_name, exc)

    task = asyncio.get_running_loop().create_task(build())
    _building.add(task)
    task.add_done_callback(_building.discard)
    store.on_close(_cancel_building)


async def _summarise_now(ds: Datasource) -> None:
    await rebuild_summaries(current_store(), ds)


# --- v1: /api/v1/chat/db/* -------------------------------------------------------------


async def db_list(query: DBListQuery) -> list[dict[str, Any]]:
    found = await current_store().datasources.list(user_id=query.user_id, db_name=query.db_name)
    return [ds.public() for ds in found]


async def db_add(body: DBConfig) -> bool:
    ds = _to_datasource(body, keep_masked=False)
    store = current_store()
    if await store.datasources.get(ds.db_name) is not None:
        await store.datasources.add(ds)  # raises DatasourceExists naming it
    await _check_file(ds, _V1_FIELDS)
    # An unusable datasource is refused before it is stored, with the reason.
    await connector_for(ds).test()
    added = await store.datasources.add(ds)
    _summarise_later(added)
    return True


async def db_edit(body: DBConfig) -> bool:
    store = current_store()
    current = await store.datasources.require(body.db_name)
    ds = _to_datasource(body, keep_masked=True)
    await _check_file(ds, _V1_FIELDS)
    probe = ds if ds.db_pwd is not None else _with_stored_password(current, ds, _V1_FIELDS)
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
    """True when the datasource answers. Its failures are answered with HTTP 200 (see the
    flow); a request the server refuses (a file it may not open, the stored password sent
    elsewhere) is a ``request.`` failure, a 400."""
    ds = _to_datasource(body, keep_masked=True)
    stored = None
    if ds.db_pwd is None:
        stored = await current_store().datasources.require(ds.db_name)
    await _check_file(ds, _V1_FIELDS)
    if stored is not None:
        ds = _with_stored_password(stored, ds, _V1_FIELDS)
    await connector_for(ds).test()
    return True


async def db_summary(query: DBSummaryQuery) -> bool:
    ds = await current_store().datasources.require(query.db_name)
    await _summarise_now(ds)
    return True


async def db_refresh(body: DBConfig) -> bool:
    ds = await current_store().datasources.require(body.db_name)
    await _summarise_now(ds)
    return True


async def db_support_type(_: Any) -> list[dict[str, Any]]:
    return [{"db_type": name, "is_file_db": is_file} for name, is_file in DB_TYPES.items()]


# --- v2: /api/v2/serve/datasources -----------------------------------------------------

#: v2's ``params`` keys per field of a datasource.
_PARAMS = {
    "host": "db_host",
    "port": "db_port",
    "user": "db_user",
    "password": "db_pwd",
    "database": "db_name",
    "path": "db_path",
}


class DatasourceRequest(BaseModel):
    """v2's create/update body: ``{type, params, description}``, or the older flat form
    (``db_type``, ``db_name``, ``db_path`` ...). ``id`` picks the datasource to update."""

    id: int | None = None
    type: str | None = Field(None, description="mysql, postgresql, duckdb or sqlite.")
    params: dict[str, Any] | None = Field(
        None, description="host, port, user, password, database, path, schema."
    )
    description: str | None = None
    db_type: str | None = None
    db_name: str | None = None
    db_path: str = ""
    db_host: str = ""
    db_port: int = 0
    db_user: str = ""
    db_pwd: str = ""
    comment: str = ""

    @property
    def fields(self) -> dict[str, str]:
        """The body's name of each endpoint field, for messages."""
        return _V2_PARAMS_FIELDS if self._has_params else _V2_FLAT_FIELDS

    @property
    def _has_params(self) -> bool:
        return self.type is not None or self.params is not None

    def datasource(self) -> Datasource:
        if self._has_params:
            return self._from_params()
        if not self.db_type:
            raise _bad("give type and params (or db_type and db_name)", "type")
        if not self.db_name:
            raise _bad("db_name is required", "db_name")
        kind = normalise_type(self.db_type)
        return Datasource(
            db_type=kind,
            db_name=self.db_name,
            db_path=self.db_path,
            db_host=self.db_host,
            db_port=self.db_port,
            db_user=self.db_user,
            db_pwd=None if self.db_pwd == PASSWORD_MASK else self.db_pwd,
            comment=self.comment,
        )

    def _from_params(self) -> Datasource:
        if not self.type:
            raise _bad("type is required (mysql, postgresql, duckdb or sqlite)", "type")
        kind = normalise_type(self.type)
        params = dict(self.params or {})
        fields: dict[str, Any] = {}
        for key, name in _PARAMS.items():
            if key in params and params[key] is not None:
                fields[name] = params.pop(key)
        if DB_TYPES[kind]:
            if not fields.get("db_path"):
                raise _bad(f"params.path is required for {kind}", "params.path")
            fields.setdefault("db_name", Path(str(fields["db_path"])).stem)
        elif not fields.get("db_name"):
            raise _bad(f"params.database is required for {kind}", "params.database")
        try:
            port = int(fields.get("db_port") or 0)
        except (TypeError, ValueError):
            raise _bad("params.port must be a number", "params.port") from None
        password = fields.get("db_pwd")
        ext = {k: v for k, v in params.items() if k in ("schema",)} or None
        return Datasource(
            db_type=kind,
            db_name=str(fields["db_name"]),
            db_path=str(fields.get("db_path", "")),
            db_host=str(fields.get("db_host", "")),
            db_port=port,
            db_user=str(fields.get("db_user", "")),
            db_pwd=None if password == PASSWORD_MASK else str(password or ""),
            comment=self.description or "",
            ext_config=ext,
        )


class DatasourceId(BaseModel):
    datasource_id: int = Field(description="The datasource's id.")


class Page(BaseModel):
    page: int = Field(1, ge=1)
    page_size: int = Field(20, ge=1, le=1000)


def _bad(message: str, field: str) -> BadRequest:
    return BadRequest(message, param=field)


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
        "db_name": ds.db_name,
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
    await _check_file(ds, body.fields)
    # The mask is no password of anybody's here: nothing is stored yet.
    await connector_for(replace(ds, db_pwd=ds.password)).test()
    added = await store.datasources.add(ds)
    _summarise_later(added)
    return _v2(added)


async def v2_update(body: DatasourceRequest) -> dict[str, Any]:
    ds = body.datasource()
    store = current_store()
    current = await _by_id(body.id) if body.id is not None else None
    if current is None:
        current = await store.datasources.require(ds.db_name)
    await _check_file(ds, body.fields)
    probe = ds if ds.db_pwd is not None else _with_stored_password(current, ds, body.fields)
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


async def v2_list(query: Page) -> dict[str, Any]:
    everything = await current_store().datasources.list()
    start = (query.page - 1) * query.page_size
    items = [_v2(ds) for ds in everything[start : start + query.page_size]]
    total = len(everything)
    return {
        "items": items,
        "total_count": total,
        "total_pages": math.ceil(total / query.page_size) if total else 0,
        "page": query.page,
        "page_size": query.page_size,
    }


async def v2_test_connection(body: DatasourceRequest) -> bool:
    ds = body.datasource()
    await _check_file(ds, body.fields)
    if ds.db_pwd is None:
        # The mask names a stored datasource's password: by id when given, else by name.
        stored = await _by_id(body.id) if body.id is not None else None
        if stored is None:
            stored = await current_store().datasources.require(ds.db_name)
        ds = _with_stored_password(stored, ds, body.fields)
    await connector_for(ds).test()
    return True


async def v2_refresh(query: DatasourceId) -> bool:
    await _summarise_now(await _by_id(query.datasource_id))
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
