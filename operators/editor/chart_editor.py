"""The chart editor: a dashboard round's charts, running a chart, saving an edit, and
drawing a chart on the server; one async function per route.

Edits go through :mod:`operators.storage.versions`, as the SQL editor's do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from operators.storage import AI, VIEW, current_store
from operators.storage.versions import edit_round

from .chart import Chart, ChartDoesNotFit, build_chart, chart_kind
from .inputs import _bad, failed_run, named_datasource, required
from .render import FORMATS, UnknownFormat, render_file
from .requests import ChartInfoBody, ChartSubmit, ConvQuery, RenderQuery, RunBody
from .rounds import (
    ChartRound,
    chart_rounds,
    chart_title,
    chart_type_of,
    find_chart,
    report_chart,
    report_item,
    sql_round,
)
from .sql import OperationNotAllowed, SqlRun, check_editor_sql, run_sql


def _chart_run_data(run: SqlRun, chart: Chart | None, chart_type: str) -> dict[str, Any]:
    return {
        "sql_data": run.sql_run_data(),
        "chart_values": chart.values if chart is not None else [],
        "chart_type": chart_type,
        "vega_lite": chart.spec if chart is not None else None,
    }


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
    sql = required(body.sql, "sql")
    chart_type = required(body.chart_type, "chart_type")
    chart_kind(chart_type)  # an unknown type is refused before anything runs
    ds = await named_datasource(body.db_name, body.conv_uid)
    run = await run_sql(ds, check_editor_sql(sql, ds))
    if run.error is not None:
        return _chart_run_data(run, None, chart_type)
    chart = build_chart(chart_type, run.columns, run.rows, title=body.chart_title or "")
    return _chart_run_data(run, chart, chart_type)


async def chart_submit(body: ChartSubmit) -> None:
    """Store a chart's new SQL, type and description in the dashboard round's answer, and
    its new values in the round's report."""
    store = current_store()
    new_sql = required(body.new_sql, "new_sql")
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
        raise failed_run(run, "new_sql")
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
        chart_type = required(query.chart_type, "chart_type")
        ds = await named_datasource(query.db_name, query.con_uid)
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
        raise failed_run(run, "sql")
    chart = build_chart(chart_type, run.columns, run.rows, title=title)
    return await render_file(chart.spec, fmt, store.data_dir / "editor" / "charts")
