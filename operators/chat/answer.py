"""Reading a model's text-to-SQL answer: the JSON ``{thoughts, sql, display_type,
direct_response}`` the prompt asks for, found robustly in whatever a (small) model wrote.

The first JSON object of the text is taken (fences and chatter around it are ignored); a
model that answered with a fenced ```sql block instead still gives its SQL. The JSON schema
is here too, for the engine's guided decoding once it has it (:func:`guided_params`).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass
from typing import Any

from operators.llm.types import GenerationParams

__all__ = [
    "CHART_SCHEMA",
    "DASHBOARD_SCHEMA",
    "DISPLAY_TYPES",
    "SQL_ANSWER_SCHEMA",
    "SqlAnswer",
    "first_json",
    "guided_params",
    "parse_charts",
    "parse_sql_answer",
]

log = logging.getLogger("awel.chat")

#: The chart kinds the web UI draws (DB-GPT's display types).
DISPLAY_TYPES = (
    "response_table",
    "response_line_chart",
    "response_bar_chart",
    "response_pie_chart",
    "response_scatter_chart",
    "response_area_chart",
    "response_donut_chart",
    "response_heatmap",
)

# Tight on purpose: no keys beyond these and capped strings. Guidance keeps the JSON well
# formed either way, but with a loose schema a small model loops inside a string or keeps
# adding keys until its tokens run out (bench/text2sql.py: valid JSON 39% loose, 86% tight).
SQL_ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "thoughts": {"type": "string", "maxLength": 160},
        "sql": {"type": "string", "maxLength": 400},
        "display_type": {"type": "string", "enum": list(DISPLAY_TYPES)},
        "direct_response": {"type": "string", "maxLength": 160},
    },
    "required": ["thoughts", "sql", "display_type"],
    "additionalProperties": False,
}

CHART_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "thoughts": {"type": "string", "maxLength": 160},
        "showcase": {"type": "string", "enum": list(DISPLAY_TYPES)},
        "sql": {"type": "string", "maxLength": 400},
        "title": {"type": "string", "maxLength": 80},
    },
    "required": ["title", "sql", "showcase"],
    "additionalProperties": False,
}

DASHBOARD_SCHEMA: dict[str, Any] = {"type": "array", "items": CHART_SCHEMA, "minItems": 1}

_FENCED_SQL = re.compile(r"```\s*sql\s*\n(.*?)(?:```|$)", re.IGNORECASE | re.DOTALL)
_decoder = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class SqlAnswer:
    """A text-to-SQL answer; ``problem`` says why it is not usable (None: it is)."""

    thoughts: str = ""
    sql: str = ""
    display_type: str = "response_table"
    direct_response: str = ""
    problem: str | None = None

    def stored(self) -> str:
        """The JSON kept as the round's ``ai`` message (what the SQL editor reads)."""
        fields = asdict(self)
        fields.pop("problem")
        return json.dumps(fields, ensure_ascii=False)


def first_json(text: str, *, want: type = dict) -> Any:
    """The first JSON value of type ``want`` (dict or list) in ``text``, or None."""
    opener = "{" if want is dict else "["
    pos = text.find(opener)
    while pos != -1:
        try:
            value, _ = _decoder.raw_decode(text, pos)
        except ValueError:
            pos = text.find(opener, pos + 1)
            continue
        if isinstance(value, want):
            return value
        pos = text.find(opener, pos + 1)
    return None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value))


def parse_sql_answer(text: str) -> SqlAnswer:
    """The answer in ``text``: its JSON, else a fenced ```sql block, else a problem."""
    found = first_json(text)
    if isinstance(found, dict):
        display = _text(found.get("display_type")) or "response_table"
        if display not in DISPLAY_TYPES:
            display = "response_table"
        answer = SqlAnswer(
            thoughts=_text(found.get("thoughts")),
            sql=_text(found.get("sql")),
            display_type=display,
            direct_response=_text(found.get("direct_response")),
        )
        if not answer.sql:
            reason = "the model's answer has no SQL"
            if answer.direct_response:
                # The model chose to answer in words: that is an answer, not a failure.
                return answer
            return SqlAnswer(**{**asdict(answer), "problem": reason})
        return answer
    fenced = _FENCED_SQL.search(text)
    if fenced and fenced.group(1).strip():
        return SqlAnswer(thoughts="", sql=fenced.group(1).strip())
    return SqlAnswer(
        thoughts=text.strip(),
        problem="the model did not answer with the JSON {thoughts, sql, display_type} asked for",
    )


def parse_charts(text: str) -> list[dict[str, str]]:
    """The chart specs of a dashboard answer: a JSON list (or one object, or objects one
    after another), each ``{title, sql, showcase, thoughts}``; empty when none is found."""
    found = first_json(text, want=list)
    items: list[Any] = found if isinstance(found, list) else []
    if not items:
        pos = 0
        while (start := text.find("{", pos)) != -1:
            try:
                value, end = _decoder.raw_decode(text, start)
            except ValueError:
                pos = start + 1
                continue
            items.append(value)
            pos = end
    charts: list[dict[str, str]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        showcase = _text(item.get("showcase") or item.get("display_type")) or "response_table"
        charts.append(
            {
                "title": _text(item.get("title")) or f"Chart {len(charts) + 1}",
                "sql": _text(item.get("sql")),
                "showcase": showcase if showcase in DISPLAY_TYPES else "response_table",
                "thoughts": _text(item.get("thoughts")),
            }
        )
    return charts


# The engine's field for JSON-schema guided decoding, when it has one (another part of the
# project adds it); until then the schema is only in the prompt.
_GUIDANCE_FIELDS = ("guidance", "json_schema")


def guided_params(params: GenerationParams, schema: dict[str, Any]) -> GenerationParams:
    """``params`` asking the engine to emit JSON that follows ``schema``, where it can.

    This is the one place a JSON schema reaches the model: the field is looked up on
    :class:`GenerationParams` at run time, so the chat scenes use guided decoding as soon as
    the engine offers it, and ask for JSON in the prompt alone until then.
    """
    fields = type(params).model_fields
    text = json.dumps(schema)
    for name in _GUIDANCE_FIELDS:
        if name not in fields:
            continue
        # The shapes such a field may take: the schema itself, its JSON text, or
        # onnxruntime-genai's (type, data) pair.
        for value in (schema, text, {"type": "json_schema", "data": text}):
            try:
                return type(params).model_validate({**params.model_dump(), name: value})
            except ValueError:
                continue
        log.debug("the engine's %s field took none of the JSON schema's forms", name)
        return params
    log.debug("the LLM engine has no guided decoding yet; the JSON schema is in the prompt only")
    return params
