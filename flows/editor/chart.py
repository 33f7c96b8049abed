"""The chart editor: a dashboard round's charts, running a chart, saving an edit, and
drawing a chart on the server."""

from __future__ import annotations

from dataclasses import replace

from awel.trigger import ResponseKind
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
    summary="The charts of a conversation's latest dashboard round",
)
chart_info = api.flow(
    dag_id="editor_chart_info",
    path="/api/v1/editor/chart/info",
    method="POST",
    body=ChartInfoBody,
    action=chart.chart_info,
    summary="One dashboard chart, its SQL run again (chart_value, table_value, vega_lite)",
)
chart_run = api.flow(
    dag_id="editor_chart_run",
    path="/api/v1/editor/chart/run",
    method="POST",
    body=RunBody,
    action=chart.chart_run,
    summary="Run a chart's query: sql_data, chart_values for line/bar/pie/scatter/table (and"
    " area, donut, heatmap), and vega_lite, a Vega-Lite v5 spec that draws it",
)
chart_submit = api.flow(
    dag_id="chart_editor_submit",
    path="/api/v1/chart/editor/submit",
    method="POST",
    body=ChartSubmit,
    action=chart.chart_submit,
    summary="Save an edited chart into its dashboard round (the previous version is kept; POST"
    " /api/v1/editor/sql/undo restores it)",
)
chart_render = drawing_api.flow(
    dag_id="editor_chart_render",
    path="/api/v1/editor/chart/render",
    method="GET",
    body=RenderQuery,
    action=chart.chart_render,
    summary="A chart drawn on the server as PNG or SVG (format=png|svg): of"
    " db_name+sql+chart_type, of a dashboard chart (con_uid+chart_title) or of a SQL round"
    " (con_uid+round)",
)
