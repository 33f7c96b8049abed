"""A conversation's rounds as the editors see them.

The chat scenes store each round as ``human`` (the question), ``ai`` (the model's JSON
answer) and ``view`` (what the UI shows). A *SQL round* is one whose ``ai`` is an object
with a ``sql`` (chat_with_db_execute, chat_excel): ``{thoughts, sql, display_type,
direct_response}``, shown as ``<chart-view content="..." />``. A *chart round* is one whose
``ai`` is a list of chart specs (chat_dashboard): ``[{title, sql, showcase, thoughts}]``,
shown as the JSON report ``{conv_uid, template_name, template_introduce, charts: [...]}``.

The datasource a round ran against is its message's ``db_name`` or ``param_value``
context, else the conversation's ``select_param``.
"""

from __future__ import annotations

import html
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from operators.storage import AI, HUMAN, VIEW, Message, MetadataStore
from operators.storage.versions import UnknownRound

from .chart import Chart, jsonable

__all__ = [
    "ChartRound",
    "SqlRound",
    "chart_rounds",
    "chart_view",
    "find_chart",
    "first_json",
    "sql_rounds",
]

_decoder = json.JSONDecoder()


def first_json(text: str) -> Any:
    """The first JSON object or list in ``text`` (fences and words around it ignored), or
    None."""
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        pass
    for i, char in enumerate(text or ""):
        if char in "{[":
            try:
                return _decoder.raw_decode(text, i)[0]
            except ValueError:
                continue
    return None


@dataclass(slots=True)
class _Round:
    round_index: int
    messages: dict[str, Message] = field(default_factory=dict)

    def content(self, role: str) -> str:
        found = self.messages.get(role)
        return found.content if found is not None else ""


async def _rounds(store: MetadataStore, conv_uid: str) -> tuple[list[_Round], str | None]:
    conversation = await store.conversations.get(conv_uid)
    if conversation is None:
        return [], None
    by_index: dict[int, _Round] = {}
    for message in await store.messages.list(conv_uid):
        by_index.setdefault(message.round_index, _Round(message.round_index)).messages[
            message.role
        ] = message
    return [by_index[i] for i in sorted(by_index)], conversation.select_param


def _db_name(found: _Round, select_param: str | None) -> str:
    for role in (AI, HUMAN):
        message = found.messages.get(role)
        if message is None:
            continue
        for key in ("db_name", "param_value"):
            value = message.context.get(key)
            if isinstance(value, str) and value:
                return value
    return select_param or ""


@dataclass(frozen=True, slots=True)
class SqlRound:
    round_index: int
    question: str
    db_name: str
    #: The parsed ``ai`` JSON.
    answer: dict[str, Any]
    view: str | None


async def sql_rounds(store: MetadataStore, conv_uid: str) -> list[SqlRound]:
    """The conversation's rounds whose answer carries SQL, in order."""
    rounds, select_param = await _rounds(store, conv_uid)
    out = []
    for found in rounds:
        answer = first_json(found.content(AI))
        if isinstance(answer, dict) and isinstance(answer.get("sql"), str) and answer["sql"]:
            view = found.messages.get(VIEW)
            out.append(
                SqlRound(
                    found.round_index,
                    found.content(HUMAN),
                    _db_name(found, select_param),
                    answer,
                    view.content if view is not None else None,
                )
            )
    return out


async def sql_round(store: MetadataStore, conv_uid: str, round_index: int) -> SqlRound:
    """One SQL round, or :class:`UnknownRound` naming ``round``."""
    for found in await sql_rounds(store, conv_uid):
        if found.round_index == round_index:
            return found
    raise UnknownRound(conv_uid, round_index)


@dataclass(frozen=True, slots=True)
class ChartRound:
    round_index: int
    db_name: str
    #: The chart specs of the ``ai`` answer.
    charts: list[dict[str, Any]]
    #: The parsed ``view`` report, if it is one.
    report: dict[str, Any] | None


async def chart_rounds(store: MetadataStore, conv_uid: str) -> list[ChartRound]:
    """The conversation's dashboard rounds (a list of chart specs as the answer), in order."""
    rounds, select_param = await _rounds(store, conv_uid)
    out = []
    for found in rounds:
        answer = first_json(found.content(AI))
        if not (isinstance(answer, list) and answer):
            continue
        charts = [c for c in answer if isinstance(c, dict) and isinstance(c.get("sql"), str)]
        if not charts:
            continue
        report = first_json(found.content(VIEW))
        out.append(
            ChartRound(
                found.round_index,
                _db_name(found, select_param),
                charts,
                report if isinstance(report, dict) and "charts" in report else None,
            )
        )
    return out


def chart_title(spec: dict[str, Any]) -> str:
    return str(spec.get("title") or spec.get("chart_name") or "")


def chart_type_of(spec: dict[str, Any]) -> str:
    for key in ("showcase", "display_type", "chart_type", "type"):
        value = spec.get(key)
        if isinstance(value, str) and value:
            return value
    return "response_table"


def find_chart(rounds: list[ChartRound], title: str) -> tuple[ChartRound, int] | None:
    """The latest round's chart named ``title`` (a later round wins), and its position."""
    for found in reversed(rounds):
        for i, spec in enumerate(found.charts):
            if chart_title(spec) == title:
                return found, i
    return None


def report_chart(report: dict[str, Any] | None, title: str) -> dict[str, Any] | None:
    if report is None:
        return None
    for item in report.get("charts") or []:
        if isinstance(item, dict) and item.get("chart_name") == title:
            return item
    return None


def chart_view(
    thoughts: str, display_type: str, sql: str, columns: list[str], rows: list[list[Any]]
) -> str:
    """The chat's view of a SQL answer: the thoughts, then DB-GPT's chart-view markup."""
    data = [
        {column: jsonable(value) for column, value in zip(columns, row, strict=False)}
        for row in rows
    ]
    content = json.dumps({"type": display_type, "sql": sql, "data": data}, ensure_ascii=False)
    markup = f'<chart-view content="{html.escape(content, quote=True)}" />'
    return f"{thoughts}\n{markup}" if thoughts else markup


def report_item(
    spec: dict[str, Any], chart: Chart | None, columns: list[str], old: dict[str, Any] | None
) -> dict[str, Any]:
    """A dashboard report's entry for an edited chart."""
    return {
        "chart_uid": (old or {}).get("chart_uid") or uuid.uuid4().hex,
        "chart_name": chart_title(spec),
        "chart_type": chart_type_of(spec),
        "chart_desc": str(spec.get("thoughts") or ""),
        "chart_sql": str(spec.get("sql") or ""),
        "column_name": list(columns),
        "values": chart.values if chart is not None else [],
        "style": (old or {}).get("style", ""),
    }
