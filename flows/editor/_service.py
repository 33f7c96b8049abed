"""What the editor flows do: request bodies and one async function per route.

Every route answers DB-GPT's app ``Result``; like DB-GPT, a failure the client caused (an
unknown round, a refused statement) is a failure envelope with HTTP 200, its ``err_msg``
naming the field. A statement that fails on the database is not a failure: ``sql/run``
answers success with the database's message in ``result_info`` and no rows (DB-GPT's
contract). Edits go through :mod:`operators.storage.versions`, so each is one transaction
that keeps the previous version, and ``sql/undo`` puts it back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from awel.errors import AwelError, BadRequest
from operators.datasource import connector_for
from operators.editor.chart import Chart, ChartDoesNotFit, build_chart, chart_kind
from operators.editor.render import FORMATS, UnknownFormat, render_file
from operators.editor.rounds import (
    ChartRound,
    chart_rounds,
    chart_title,
    chart_type_of,
    chart_view,
    find_chart,
    report_chart,
    report_item,
    sql_round,
    sql_rounds,
)
from operators.editor.sql import (
    OperationNotAllowed,
    SqlRun,
    check_editor_sql,
    run_sql,
)
from operators.editor.tables import Table, list_tables
from operators.storage import AI, VIEW, Datasource, current_store
from operators.storage.versions import edit_round, round_history, undo_edit


def _bad(message: str, field: str) -> BadRequest:
    return BadRequest(message, param=field)


_CONV = AliasChoices("conv_uid", "con_uid")


# --- bodies ------------------------------------------------------------------------------


class TablesQuery(BaseModel):
    db_name: str = Field(description="The datasource.")
    page_index: int = Field(1, ge=1, description="The page, from 1.")
    page_size: int = Field(20, ge=1, le=1000, description="Tables per page.")
    search_str: str = Field("", description="Only tables whose name, or a column's, has this.")


class ConvQuery(BaseModel):
    con_uid: str = Field(description="The conversation (DB-GPT's spelling).")


class RoundQuery(BaseModel):
    con_uid: str = Field(description="The conversation (DB-GPT's spelling).")
    round: int = Field(ge=1, description="The round, from 1.")


class RunBody(BaseModel):
    """``sql/run`` and ``chart/run``: DB-GPT sends a free dict."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    db_name: str | None = Field(None, description="The datasource (or give conv_uid).")
    conv_uid: str | None = Field(
        None, validation_alias=_CONV, description="A conversation whose datasource to use."
    )
    sql: str | None = Field(None, description="One statement.")
    chart_type: str | None = Field(None, description="chart/run: line, bar, pie, scatter ...")
    chart_title: str | None = Field(None, description="chart/run: a title for the chart.")


class SqlSubmit(BaseModel):
    """DB-GPT's ``ChatSqlEditContext``."""

    conv_uid: str = Field(validation_alias=_CONV)
    db_name: str = ""
    conv_round: int = Field(ge=1, description="The round to rewrite.")
    old_sql: str = ""
    old_speak: str = ""
    gmt_create: int = 0
    new_sql: str = Field(description="The SQL to store in the round.")
    new_speak: str = Field("", description="New thoughts; empty keeps the stored ones.")


class ChartInfoBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    con_uid: str = Field(validation_alias=AliasChoices("con_uid", "conv_uid"))
    chart_title: str


class ChartSubmit(BaseModel):
    """DB-GPT's ``ChatChartEditContext``."""

    conv_uid: str = Field(validation_alias=_CONV)
    chart_title: str = Field(description="The chart to rewrite (its title).")
    db_name: str = ""
    old_sql: str = ""
    new_chart_type: str = Field(description="line, bar, pie, scatter, table ...")
    new_sql: str = Field(description="The chart's new query.")
    new_comment: str = Field("", description="New description; empty keeps the stored one.")
    gmt_create: int = 0


class UndoBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    conv_uid: str = Field(validation_alias=_CONV, description="The conversation.")
    round: int = Field(ge=1, description="The edited round (sql/rounds or chart/list say it).")


class RenderQuery(BaseModel):
    format: str = Field("png", description="png or svg.")
    db_name: str | None = Field(None, description="With sql and chart_type: draw a query.")
    sql: str | None = None
    chart_type: str | None = None
    con_uid: str | None = Field(None, description="With chart_title or round: a stored chart.")
    chart_title: str | None = None
    round: int | None = Field(None, ge=1)


# --- helpers -----------------------------------------------------------------------------


async def _datasource(db_name: str | None, conv_uid: str | None) -> Datasource:
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


def _required(value: str | None, field: str) -> str:
    if value is None or not value.strip():
        raise _bad(f"{field} is required", field)
    return value


def _failed_run(run: SqlRun, field: str) -> BadRequest:
    return _bad(f"{field}: the statement fails: {run.error}", field)


def _chart_run_data(run: SqlRun, chart: Chart | None, chart_type: str) -> dict[str, Any]:
    return {
        "sql_data": run.sql_run_data(),
        "chart_values": chart.values if chart is not None else [],
        "chart_type": chart_type,
        "vega_lite": chart.spec if chart is not None else None,
    }


# --- db/tables ---------------------------------------------------------------------------


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


# --- SQL rounds --------------------------------------------------------------------------


async def sql_rounds_list(query: ConvQuery) -> list[dict[str, Any]]:
    found = await sql_rounds(current_store(), query.con_uid)
    return [{"round": r.round_index, "db_name": r.db_name, "round_name": r.question} for r in found]


async def sql_get(query: RoundQuery) -> dict[str, Any]:
    found = await sql_round(current_store(), query.con_uid, query.round)
    return found.answer


async def sql_run(body: RunBody) -> dict[str, Any]:
    sql = _required(body.sql, "sql")
    ds = await _datasource(body.db_name, body.conv_uid)
    run = await run_sql(ds, check_editor_sql(sql, ds))
    return run.sql_run_data()


async def sql_submit(body: SqlSubmit) -> None:
    """Store new SQL (and thoughts) in the round's answer and redraw its view."""
    store = current_store()
    new_sql = _required(body.new_sql, "new_sql")
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
            raise _failed_run(run, "new_sql")
        contents[VIEW] = chart_view(thoughts, display_type, run.sql, run.columns, run.rows)
    else:
        # A write is stored, not run again: the view shows the statement without rows.
        contents[VIEW] = chart_view(thoughts, display_type, checked.sql, [], [])
    await edit_round(store, body.conv_uid, body.conv_round, contents, note="sql editor")


async def sql_history(query: RoundQuery) -> list[dict[str, Any]]:
    """Every version of a round, oldest first; the last is the current one."""
    from operators.editor.rounds import first_json

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


# --- charts ------------------------------------------------------------------------------


async def _latest_charts(conv_uid: str, field: str = "con_uid") -> ChartRound:
    found = await chart_rounds(current_store(), conv_uid)
    if not found:
        raise _bad(
            f"Not have charts! conversation '{conv_uid}' has no dashboard round ({field})", field
        )
    return found[-1]


async def _chart(conv_uid: str, title: str) -> tuple[ChartRound, int]:
    found = find_chart(await chart_rounds(current_store(), conv_uid), title)
    if found is None:
        raise _bad(
            f"conversation '{conv_uid}' has no chart titled '{title}' (chart_title); list them"
            " with GET /api/v1/editor/chart/list",
            "chart_title",
        )
    return found


async def chart_list(query: ConvQuery) -> dict[str, Any]:
    """The charts of the conversation's latest dashboard round (the one submit edits)."""
    found = await _latest_charts(query.con_uid)
    return {"round": found.round_index, "db_name": found.db_name, "charts": found.charts}


def _try_chart(run: SqlRun, chart_type: str, title: str) -> Chart | None:
    if run.error is not None:
        return None
    try:
        return build_chart(chart_type, run.columns, run.rows, title=title)
    except ChartDoesNotFit:
        return None


async def chart_info(body: ChartInfoBody) -> dict[str, Any]:
    found, i = await _chart(body.con_uid, body.chart_title)
    spec = found.charts[i]
    ds = await current_store().datasources.require(found.db_name)
    sql = str(spec.get("sql") or "")
    run = await run_sql(ds, check_editor_sql(sql, ds))
    chart_type = chart_type_of(spec)
    chart = _try_chart(run, chart_type, body.chart_title)
    old = report_chart(found.report, body.chart_title) or {}
    return {
        "chart_uid": old.get("chart_uid") or f"{body.con_uid}-{found.round_index}-{i + 1}",
        "chart_type": chart_type,
        "chart_desc": str(spec.get("thoughts") or ""),
        "chart_sql": sql,
        "db_name": found.db_name,
        "chart_name": chart_title(spec),
        "chart_value": chart.values if chart is not None else [],
        "table_value": run.sql_run_data(),
        "vega_lite": chart.spec if chart is not None else None,
    }


async def chart_run(body: RunBody) -> dict[str, Any]:
    sql = _required(body.sql, "sql")
    chart_type = _required(body.chart_type, "chart_type")
    chart_kind(chart_type)  # an unknown type is refused before anything runs
    ds = await _datasource(body.db_name, body.conv_uid)
    run = await run_sql(ds, check_editor_sql(sql, ds))
    if run.error is not None:
        return _chart_run_data(run, None, chart_type)
    chart = build_chart(chart_type, run.columns, run.rows, title=body.chart_title or "")
    return _chart_run_data(run, chart, chart_type)


async def chart_submit(body: ChartSubmit) -> None:
    """Store a chart's new SQL, type and description in the dashboard round's answer, and
    its new values in the round's report."""
    store = current_store()
    new_sql = _required(body.new_sql, "new_sql")
    chart_kind(body.new_chart_type, "new_chart_type")
    found, i = await _chart(body.conv_uid, body.chart_title)
    ds = await store.datasources.require(body.db_name or found.db_name)
    checked = check_editor_sql(new_sql, ds, field="new_sql")
    if not checked.reads:
        raise OperationNotAllowed(
            f"new_sql: a chart draws a query (SELECT), not {checked.statement}"
        )
    run = await run_sql(ds, checked)
    if run.error is not None:
        raise _failed_run(run, "new_sql")
    chart = build_chart(
        body.new_chart_type, run.columns, run.rows, title=body.chart_title, field="new_chart_type"
    )
    spec = {**found.charts[i], "sql": new_sql}
    type_keys = [k for k in ("showcase", "display_type", "chart_type") if k in spec] or ["showcase"]
    for key in type_keys:
        spec[key] = body.new_chart_type
    if body.new_comment:
        spec["thoughts"] = body.new_comment
    charts = list(found.charts)
    charts[i] = spec
    contents = {AI: json.dumps(charts, ensure_ascii=False)}
    if found.report is not None:
        report = dict(found.report)
        items = [c for c in report.get("charts") or [] if isinstance(c, dict)]
        old = report_chart(found.report, body.chart_title)
        item = report_item(spec, chart, run.columns, old)
        report["charts"] = [item if c is old else c for c in items] if old else [*items, item]
        contents[VIEW] = json.dumps(report, ensure_ascii=False)
    await edit_round(store, body.conv_uid, found.round_index, contents, note="chart editor")


async def chart_render(query: RenderQuery) -> Path:
    """The chart drawn as PNG or SVG: of a query (db_name, sql, chart_type), of a
    dashboard chart (con_uid, chart_title) or of a SQL round (con_uid, round)."""
    fmt = query.format.lower()
    if fmt not in FORMATS:
        raise UnknownFormat(query.format)
    store = current_store()
    title = query.chart_title or ""
    if query.sql:
        sql = query.sql
        chart_type = _required(query.chart_type, "chart_type")
        ds = await _datasource(query.db_name, query.con_uid)
    elif query.con_uid and query.chart_title:
        found, i = await _chart(query.con_uid, query.chart_title)
        sql, chart_type = str(found.charts[i].get("sql") or ""), chart_type_of(found.charts[i])
        ds = await store.datasources.require(query.db_name or found.db_name)
    elif query.con_uid and query.round:
        answer_round = await sql_round(store, query.con_uid, query.round)
        sql = str(answer_round.answer.get("sql") or "")
        chart_type = str(answer_round.answer.get("display_type") or "response_table")
        ds = await store.datasources.require(query.db_name or answer_round.db_name)
    else:
        raise _bad(
            "say what to draw: sql with chart_type (and db_name), con_uid with chart_title,"
            " or con_uid with round",
            "sql",
        )
    chart_kind(chart_type)
    checked = check_editor_sql(sql, ds)
    if not checked.reads:
        raise OperationNotAllowed(f"a chart draws a query (SELECT), not {checked.statement}")
    run = await run_sql(ds, checked)
    if run.error is not None:
        raise _failed_run(run, "sql")
    chart = build_chart(chart_type, run.columns, run.rows, title=title)
    return await render_file(chart.spec, fmt, store.data_dir / "editor" / "charts")
