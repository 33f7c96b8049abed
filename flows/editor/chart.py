"""The chart editor: a dashboard round's charts, running a chart, saving an edit, and
drawing a chart on the server."""

from __future__ import annotations

from awel.trigger import ResponseKind
from flows.editor import _service as svc
from flows.editor._flow import editor_flow

chart_list = editor_flow(
    "editor_chart_list",
    "/api/v1/editor/chart/list",
    "GET",
    svc.ConvQuery,
    svc.chart_list,
    "The charts of a conversation's latest dashboard round",
)
chart_info = editor_flow(
    "editor_chart_info",
    "/api/v1/editor/chart/info",
    "POST",
    svc.ChartInfoBody,
    svc.chart_info,
    "One dashboard chart, its SQL run again (chart_value, table_value, vega_lite)",
)
chart_run = editor_flow(
    "editor_chart_run",
    "/api/v1/editor/chart/run",
    "POST",
    svc.RunBody,
    svc.chart_run,
    "Run a chart's query: sql_data, chart_values for line/bar/pie/scatter/table (and area,"
    " donut, heatmap), and vega_lite, a Vega-Lite v5 spec that draws it",
)
chart_submit = editor_flow(
    "chart_editor_submit",
    "/api/v1/chart/editor/submit",
    "POST",
    svc.ChartSubmit,
    svc.chart_submit,
    "Save an edited chart into its dashboard round (the previous version is kept; POST"
    " /api/v1/editor/sql/undo restores it)",
)
chart_render = editor_flow(
    "editor_chart_render",
    "/api/v1/editor/chart/render",
    "GET",
    svc.RenderQuery,
    svc.chart_render,
    "A chart drawn on the server as PNG or SVG (format=png|svg): of db_name+sql+chart_type,"
    " of a dashboard chart (con_uid+chart_title) or of a SQL round (con_uid+round)",
    response=ResponseKind.FILE,
)
