"""The SQL editor: a datasource's schema tree, a conversation's SQL rounds, running a
statement, saving an edit, and the history and undo of edits; one async function per route.

A statement that fails on the database is not a failure: ``sql/run`` answers success with
the database's message in ``result_info`` and no rows (DB-GPT's contract). Edits go through
:mod:`operators.storage.versions`, so each is one transaction that keeps the previous
version, and ``sql/undo`` puts it back.
"""

from __future__ import annotations

import json
from typing import Any

from awel.errors import AwelError
from operators.datasource import connector_for
from operators.storage import AI, VIEW, current_store
from operators.storage.versions import edit_round, round_history, undo_edit

from .inputs import _bad, failed_run, named_datasource, required
from .requests import ConvQuery, RoundQuery, RunBody, SqlSubmit, TablesQuery, UndoBody
from .rounds import chart_view, first_json, sql_round, sql_rounds
from .sql import check_editor_sql, run_sql
from .tables import Table, list_tables


def _table_node(table: Table) -> dict[str, Any]:
    return {
        "title": table.name,
        "key": table.name,
        "type": "table",
        "default_value": None,
        "can_null": None,
        "comment": table.comment,
        "children": [
            {
                "title": c.name,
                "key": c.name,
                "type": c.type,
                "default_value": c.default,
                "can_null": "YES" if c.nullable else "NO",
                "comment": c.comment,
                "children": [],
            }
            for c in table.columns
        ],
    }


async def db_tables(query: TablesQuery) -> dict[str, Any]:
    """One page of the datasource's schema tree; ``total`` counts the matching tables."""
    ds = await current_store().datasources.require(query.db_name)
    connector = connector_for(ds, read_only=not ds.writable)
    tables, total = await list_tables(
        connector, search=query.search_str, page_index=query.page_index, page_size=query.page_size
    )
    return {
        "title": ds.db_name,
        "key": ds.db_name,
        "type": "db",
        "default_value": None,
        "can_null": None,
        "comment": ds.comment,
        "children": [_table_node(t) for t in tables],
        "total": total,
        "page_index": query.page_index,
        "page_size": query.page_size,
    }


async def sql_rounds_list(query: ConvQuery) -> list[dict[str, Any]]:
    found = await sql_rounds(current_store(), query.con_uid)
    return [{"round": r.round_index, "db_name": r.db_name, "round_name": r.question} for r in found]


async def sql_get(query: RoundQuery) -> dict[str, Any]:
    found = await sql_round(current_store(), query.con_uid, query.round)
    return found.answer


async def sql_run(body: RunBody) -> dict[str, Any]:
    sql = required(body.sql, "sql")
    ds = await named_datasource(body.db_name, body.conv_uid)
    run = await run_sql(ds, check_editor_sql(sql, ds))
    return run.sql_run_data()


async def sql_submit(body: SqlSubmit) -> None:
    """Store new SQL (and thoughts) in the round's answer and redraw its view."""
    store = current_store()
    new_sql = required(body.new_sql, "new_sql")
    try:
        found = await sql_round(store, body.conv_uid, body.conv_round)
    except AwelError as exc:
        raise _bad(exc.message.replace("(round)", "(conv_round)"), "conv_round") from None
    ds = await store.datasources.require(body.db_name or found.db_name)
    checked = check_editor_sql(new_sql, ds, field="new_sql")
    answer = {**found.answer, "sql": new_sql}
    if body.new_speak:
        answer["thoughts"] = body.new_speak
    thoughts = str(answer.get("thoughts") or "")
    display_type = str(answer.get("display_type") or "response_table")
    contents = {AI: json.dumps(answer, ensure_ascii=False)}
    if checked.reads:
        run = await run_sql(ds, checked)
        if run.error is not None:
            raise failed_run(run, "new_sql")
        contents[VIEW] = chart_view(thoughts, display_type, run.sql, run.columns, run.rows)
    else:
        # A write is stored, not run again: the view shows the statement without rows.
        contents[VIEW] = chart_view(thoughts, display_type, checked.sql, [], [])
    await edit_round(store, body.conv_uid, body.conv_round, contents, note="sql editor")


async def sql_history(query: RoundQuery) -> list[dict[str, Any]]:
    """Every version of a round, oldest first; the last is the current one."""
    out = []
    for v in await round_history(current_store(), query.con_uid, query.round):
        answer = first_json(v.messages.get(AI, ""))
        out.append(
            {
                "version": v.version,
                "current": v.current,
                "note": v.note,
                "gmt_created": v.gmt_created.strftime("%Y-%m-%d %H:%M:%S"),
                "sql": answer.get("sql") if isinstance(answer, dict) else None,
                "answer": answer,
                "view": v.messages.get(VIEW),
            }
        )
    return out


async def sql_undo(body: UndoBody) -> dict[str, Any]:
    """Undo the round's last edit; answers the version now current."""
    version = await undo_edit(current_store(), body.conv_uid, body.round)
    return {"round": body.round, "version": version}
