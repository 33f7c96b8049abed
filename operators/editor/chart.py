"""Chart data from a query's rows, and the Vega-Lite spec that draws it.

Every chart kind the scenes produce (DB-GPT's display types ``response_line_chart``,
``response_bar_chart``, ``response_pie_chart``, ``response_scatter_chart``,
``response_table``, and the area, donut and heatmap variants; the dashboard's
``LineChart``/``BarChart``... names too) gets its values in DB-GPT's long form,
``[{"name", "type", "value"}]``, worked out from the columns rather than assumed:

- line, area, bar: ``name`` is the first text column (else the first column); each
  numeric column is a series (``type`` its name), or, with a second text column, that
  column's values are the series of the first number;
- pie, donut: ``name`` the first text column, ``value`` the first number;
- scatter: ``name`` the first numeric column (x), ``value`` the second (y), ``type`` the
  first text column if any (else the y column's name);
- heatmap: ``name`` and ``type`` the first two text columns, ``value`` the number;
- table: ``name`` the first column, ``type`` each other column's name, ``value`` its cell.

A query whose columns cannot make the chart asked for (a pie without a number) raises
:class:`ChartDoesNotFit`, naming ``chart_type`` and the columns it got. :func:`vega_lite`
is the same chart as a Vega-Lite v5 spec with the values inline, so that a client (or
:mod:`operators.editor.render`) draws exactly what the data says.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from dataclasses import dataclass
from typing import Any

from awel.errors import AwelError

__all__ = [
    "CHART_KINDS",
    "Chart",
    "ChartDoesNotFit",
    "UnknownChartType",
    "build_chart",
    "chart_kind",
    "jsonable",
]

#: Our chart kinds; every display type maps to one.
CHART_KINDS = ("line", "area", "bar", "pie", "donut", "scatter", "heatmap", "table")
_ALIASES = {
    "column": "bar",
    "histogram": "bar",
    "point": "scatter",
    "vector": "scatter",
    "indicator": "table",
    "indicatorvalue": "table",
    "text": "table",
}
#: Rows a drawn table shows at most (the data keeps them all).
TABLE_ROWS_DRAWN = 50
_VEGA_LITE = "https://vega.github.io/schema/vega-lite/v5.json"
_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")


class UnknownChartType(AwelError):
    code = "chart.unknown_type"

    def __init__(self, chart_type: str, field: str = "chart_type") -> None:
        super().__init__(
            f"{field} '{chart_type}' is not a chart type this server draws; use one of"
            f" {', '.join(CHART_KINDS)} (or DB-GPT's response_<kind>_chart, response_table)",
            param=field,
        )


class ChartDoesNotFit(AwelError):
    code = "chart.does_not_fit"

    def __init__(self, kind: str, needs: str, columns: list[str], field: str) -> None:
        got = ", ".join(columns) or "no columns"
        super().__init__(
            f"{field}: a {kind} chart needs {needs}; the query gave {got}", param=field
        )


def chart_kind(chart_type: str, field: str = "chart_type") -> str:
    """Our kind for a display type (``response_bar_chart``, ``BarChart``, ``bar`` ...)."""
    name = re.sub(r"[^a-z]", "", (chart_type or "").lower())
    name = name.removeprefix("response").removesuffix("chart")
    name = _ALIASES.get(name, name)
    if name not in CHART_KINDS:
        raise UnknownChartType(chart_type, field)
    return name


def jsonable(value: Any) -> Any:
    """A database value as JSON carries it (numbers stay numbers)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(bytes(value))} bytes>"
    return str(value)


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart's data: DB-GPT's ``chart_values`` and what each field means."""

    kind: str
    values: list[dict[str, Any]]
    #: The column each of name / type / value comes from ("" where it is column names).
    name_field: str
    type_field: str
    value_field: str
    spec: dict[str, Any]


def _numeric_columns(columns: list[str], rows: list[list[Any]]) -> list[bool]:
    flags = []
    for i in range(len(columns)):
        cells = [row[i] for row in rows if i < len(row) and row[i] is not None]
        flags.append(bool(cells) and all(_number(c) is not None for c in cells))
    if not rows:
        # Nothing to look at: the first column names the points, the rest are measures.
        flags = [i > 0 for i in range(len(columns))]
    return flags


def build_chart(
    chart_type: str,
    columns: list[str],
    rows: list[list[Any]],
    *,
    title: str = "",
    field: str = "chart_type",
) -> Chart:
    """The chart ``chart_type`` asks for, of a query's ``columns`` and ``rows``."""
    kind = chart_kind(chart_type, field)
    numeric = _numeric_columns(columns, rows)
    dims = [i for i, n in enumerate(numeric) if not n]
    measures = [i for i, n in enumerate(numeric) if n]
    values: list[dict[str, Any]] = []
    if kind == "table":
        first = 0
        for row in rows:
            for i in range(len(columns)):
                if i == first and len(columns) > 1:
                    continue
                values.append(
                    {"name": jsonable(row[first]), "type": columns[i], "value": jsonable(row[i])}
                )
        chart = Chart(kind, values, columns[0] if columns else "", "", "", {})
        return _with_spec(chart, columns, rows, title)
    if kind == "scatter":
        if len(measures) < 2:
            raise ChartDoesNotFit(kind, "two numeric columns (x and y)", columns, field)
        x, y = measures[0], measures[1]
        series = dims[0] if dims else None
        for row in rows:
            xv, yv = _number(row[x]), _number(row[y])
            if xv is None or yv is None:
                continue
            label = columns[y] if series is None else str(jsonable(row[series]))
            values.append({"name": xv, "type": label, "value": yv})
        chart = Chart(
            kind, values, columns[x], columns[series] if series is not None else "", columns[y], {}
        )
        return _with_spec(chart, columns, rows, title)
    name_col = dims[0] if dims else 0
    measure_cols = [i for i in measures if i != name_col]
    if not measure_cols:
        raise ChartDoesNotFit(kind, "a numeric column for its values", columns, field)
    if kind == "heatmap":
        if len(dims) < 2:
            raise ChartDoesNotFit(kind, "two text columns (x and y) and a number", columns, field)
        series_col: int | None = dims[1]
    elif kind in ("pie", "donut"):
        series_col = None
        measure_cols = measure_cols[:1]
    else:
        series_col = dims[1] if len(dims) > 1 else None
        if series_col is not None:
            measure_cols = measure_cols[:1]
    for row in rows:
        name = jsonable(row[name_col])
        for m in measure_cols:
            number = _number(row[m])
            if number is None:
                continue
            label = columns[m] if series_col is None else str(jsonable(row[series_col]))
            values.append({"name": name, "type": label, "value": number})
    chart = Chart(
        kind,
        values,
        columns[name_col],
        columns[series_col] if series_col is not None else "",
        ", ".join(columns[m] for m in measure_cols),
        {},
    )
    return _with_spec(chart, columns, rows, title)


def _with_spec(chart: Chart, columns: list[str], rows: list[list[Any]], title: str) -> Chart:
    spec = vega_lite(chart, columns, rows, title=title)
    return Chart(
        chart.kind, chart.values, chart.name_field, chart.type_field, chart.value_field, spec
    )


def _x_type(values: list[dict[str, Any]]) -> str:
    names = [v["name"] for v in values if v["name"] is not None]
    if names and all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in names):
        return "quantitative"
    if names and all(isinstance(n, str) and _DATE.match(n) for n in names):
        return "temporal"
    return "ordinal"


def vega_lite(
    chart: Chart, columns: list[str], rows: list[list[Any]], *, title: str = ""
) -> dict[str, Any]:
    """A Vega-Lite v5 spec drawing ``chart`` (its values inline)."""
    spec: dict[str, Any] = {"$schema": _VEGA_LITE, "width": 480, "height": 300}
    if title:
        spec["title"] = title
    if chart.kind == "table":
        return {**spec, **_table_spec(columns, rows)}
    series = {
        "field": "type",
        "type": "nominal",
        "title": chart.type_field or "series",
        "sort": None,
    }
    value = {"field": "value", "type": "quantitative", "title": chart.value_field}
    spec["data"] = {"values": chart.values}
    if chart.kind in ("pie", "donut"):
        spec["mark"] = {"type": "arc", "tooltip": True}
        if chart.kind == "donut":
            spec["mark"]["innerRadius"] = 70
        spec["encoding"] = {
            "theta": {**value, "stack": True},
            "color": {"field": "name", "type": "nominal", "title": chart.name_field, "sort": None},
        }
        spec["width"] = spec["height"] = 300
        return spec
    x_type = _x_type(chart.values)
    x: dict[str, Any] = {"field": "name", "type": x_type, "title": chart.name_field}
    if x_type == "ordinal":
        x["sort"] = None
    if chart.kind == "scatter":
        spec["mark"] = {"type": "point", "filled": True, "tooltip": True}
        y = {"field": "value", "type": "quantitative", "title": chart.value_field}
        spec["encoding"] = {"x": {**x, "type": "quantitative"}, "y": y, "color": series}
    elif chart.kind == "heatmap":
        spec["mark"] = {"type": "rect", "tooltip": True}
        spec["encoding"] = {
            "x": {"field": "name", "type": "ordinal", "title": chart.name_field, "sort": None},
            "y": {"field": "type", "type": "ordinal", "title": chart.type_field, "sort": None},
            "color": value,
        }
    elif chart.kind == "bar":
        spec["mark"] = {"type": "bar", "tooltip": True}
        bar_x = {"field": "name", "type": "nominal", "title": chart.name_field, "sort": None}
        spec["encoding"] = {"x": bar_x, "y": value, "color": series}
        if len({v["type"] for v in chart.values}) > 1:
            spec["encoding"]["xOffset"] = {"field": "type", "sort": None}
    else:  # line, area
        mark: dict[str, Any] = {"type": chart.kind, "point": True, "tooltip": True}
        if chart.kind == "area":
            mark = {"type": "area", "line": True, "opacity": 0.6, "tooltip": True}
        spec["mark"] = mark
        spec["encoding"] = {"x": x, "y": value, "color": series}
    return spec


def _table_spec(columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    # Vega-Lite has no table mark: a grid of text marks, one per cell, columns in query order.
    shown = rows[:TABLE_ROWS_DRAWN]
    cells = [
        {"row": r + 1, "column": c, "text": "" if row[i] is None else str(jsonable(row[i]))}
        for r, row in enumerate(shown)
        for i, c in enumerate(columns)
    ]
    return {
        "data": {"values": cells},
        "width": max(120, 110 * len(columns)),
        "height": max(20, 20 * len(shown)),
        "mark": {"type": "text", "align": "left", "dx": -45, "limit": 100},
        "encoding": {
            "x": {
                "field": "column",
                "type": "nominal",
                "sort": columns,
                "axis": {"orient": "top", "title": None, "labelAngle": 0, "domain": False},
            },
            "y": {"field": "row", "type": "ordinal", "axis": None},
            "text": {"field": "text", "type": "nominal"},
        },
    }
