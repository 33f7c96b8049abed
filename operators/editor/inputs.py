"""What the editor's routes read from a request: the datasource it names, its required
fields; and the refusal of a request the client got wrong (a 400 naming the field)."""

from __future__ import annotations

from awel.errors import BadRequest
from operators.storage import Datasource, current_store

from .rounds import sql_rounds
from .sql import SqlRun


def _bad(message: str, field: str) -> BadRequest:
    return BadRequest(message, param=field)


async def named_datasource(db_name: str | None, conv_uid: str | None) -> Datasource:
    store = current_store()
    if db_name:
        return await store.datasources.require(db_name)
    if conv_uid:
        rounds = await sql_rounds(store, conv_uid)
        name = rounds[-1].db_name if rounds else ""
        if not name:
            found = await store.conversations.get(conv_uid)
            name = (found.select_param or "") if found is not None else ""
        if name:
            return await store.datasources.require(name)
        raise _bad(f"conversation '{conv_uid}' names no datasource; give db_name", "db_name")
    raise _bad("db_name is required (or conv_uid of a conversation over a datasource)", "db_name")


def required(value: str | None, field: str) -> str:
    if value is None or not value.strip():
        raise _bad(f"{field} is required", field)
    return value


def failed_run(run: SqlRun, field: str) -> BadRequest:
    return _bad(f"{field}: the statement fails: {run.error}", field)
