"""The chart editor: a dashboard round's charts, running a chart, saving an edit, and
drawing a chart on the server."""

from __future__ import annotations

from dataclasses import replace

from awel.trigger import ResponseKind
from flows.editor import _summaries as doc
from flows.editor._flow import api
from operators.editor import chart_editor as chart
from operators.editor.requests import ChartInfoBody, ChartSubmit, ConvQuery, RenderQuery, RunBody

# A drawing is a file; its failures are answered with their status, not in an envelope.
drawing_api = replace(api, response=ResponseKind.FILE, ok_failures=())

chart_list = api.flow(
    dag_id="editor_chart_list",
    path="/api/v1/editor/chart/list",
    method="GET",
    body=ConvQuery,
    action=chart.chart_list,
    summary=doc.CHART_LIST,
)
chart_info = api.flow(
    dag_id="editor_chart_info",
    path="/api/v1/editor/chart/info",
    method="POST",
    body=ChartInfoBody,
    action=chart.chart_info,
    summary=doc.CHART_INFO,
)
chart_run = api.flow(
    dag_id="editor_chart_run",
    path="/api/v1/editor/chart/run",
    method="POST",
    body=RunBody,
    action=chart.chart_run,
    summary=doc.CHART_RUN,
)
chart_submit = api.flow(
    dag_id="chart_editor_submit",
    path="/api/v1/chart/editor/submit",
    method="POST",
    body=ChartSubmit,
    action=chart.chart_submit,
    summary=doc.CHART_SUBMIT,
)
chart_render = drawing_api.flow(
    dag_id="editor_chart_render",
    path="/api/v1/editor/chart/render",
    method="GET",
    body=RenderQuery,
    action=chart.chart_render,
    summary=doc.CHART_RENDER,
)
