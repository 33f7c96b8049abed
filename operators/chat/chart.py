"""What a data scene shows: DB-GPT's ``<chart-view content="..." />`` markup for one query,
the dashboard report for several, and the red ``ERROR!`` line for an unusable answer.

``content`` is the JSON ``{"type": <display_type>, "sql": ..., "data": [rows as objects]}``,
HTML-escaped into the attribute (quotes become ``&quot;``), as the web UI parses it.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import html
import json
import re
import uuid
from typing import Any

from operators.datasource import QueryResult

__all__ = [
    "chart_data",
    "chart_view",
    "dashboard_report",
    "error_view",
    "jsonable",
    "view_json",
]

# A ``\n`` escape in JSON text: a backslash-n preceded by an even number of backslashes.
_NEWLINE_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\n")


def view_json(value: Any) -> str:
    """JSON for a view, with newlines inside strings written ``\u000a``.

    DB-GPT's plain stream sends newlines as the two characters ``\n`` and its web UI turns
    every ``\n`` back into a newline, which would put raw newlines inside JSON strings (and
    break them); ``\u000a`` means the same to a JSON parser and survives that round trip.
    """
    text = json.dumps(value, ensure_ascii=False)
    return _NEWLINE_ESCAPE.sub(lambda m: m.group(1) + "\\u000a", text)


ERROR_MARK = '<span style="color:red">ERROR!</span>'


def jsonable(value: Any) -> Any:
    """A database value as JSON can carry it."""
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, float) and value != value:  # NaN
            return None
        return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def chart_data(result: QueryResult) -> list[dict[str, Any]]:
    """The rows as objects keyed by column (a repeated column name gets a suffix)."""
    names: list[str] = []
    for column in result.columns:
        name, n = column, 1
        while name in names:
            n += 1
            name = f"{column}_{n}"
        names.append(name)
    return [{n: jsonable(v) for n, v in zip(names, row, strict=False)} for row in result.rows]


def chart_view(thoughts: str, display_type: str, sql: str, result: QueryResult) -> str:
    """``thoughts``, a newline and the chart-view markup of the query's rows."""
    content = view_json({"type": display_type, "sql": sql, "data": chart_data(result)})
    markup = f'<chart-view content="{html.escape(content, quote=True)}" />'
    return f"{thoughts}\n{markup}" if thoughts else markup


def error_view(message: str, thoughts: str = "") -> str:
    """The red ERROR! line DB-GPT's UI shows for a failed round, after the thoughts if any."""
    line = f"{ERROR_MARK} {message}"
    return f"{thoughts}\n{line}" if thoughts else line


def _values(result: QueryResult) -> list[dict[str, Any]]:
    # DB-GPT's dashboard values: per row, the first column names the point and every other
    # column is a series (type) with its value.
    out: list[dict[str, Any]] = []
    cols = result.columns
    for row in result.rows:
        if len(cols) == 1:
            out.append({"name": cols[0], "type": cols[0], "value": jsonable(row[0])})
            continue
        for i in range(1, len(cols)):
            out.append({"name": str(jsonable(row[0])), "type": cols[i], "value": jsonable(row[i])})
    return out


def dashboard_report(
    conv_uid: str, charts: list[tuple[dict[str, str], QueryResult | None, str | None]]
) -> dict[str, Any]:
    """DB-GPT's dashboard report; a chart whose SQL failed keeps its error in ``chart_desc``
    and has no values."""
    items: list[dict[str, Any]] = []
    for spec, result, problem in charts:
        desc = spec.get("thoughts", "")
        if problem is not None:
            desc = f"{desc}\n{ERROR_MARK} {problem}" if desc else f"{ERROR_MARK} {problem}"
        items.append(
            {
                "chart_uid": uuid.uuid4().hex,
                "chart_name": spec.get("title", ""),
                "chart_type": spec.get("showcase", "response_table"),
                "chart_desc": desc,
                "chart_sql": spec.get("sql", ""),
                "column_name": list(result.columns) if result is not None else [],
                "values": _values(result) if result is not None else [],
                "style": "",
            }
        )
    return {
        "conv_uid": conv_uid,
        "template_name": "report",
        "template_introduce": None,
        "charts": items,
    }
