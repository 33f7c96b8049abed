"""The operators chat scenes are made of (``flows/chat/scenes/``).

A scene flow takes a :class:`~operators.chat.types.SceneCall` and streams
:class:`~operators.chat.types.Progress` events, then one
:class:`~operators.chat.types.RoundDone`:

    input >> Datasource() >> Prompt(template) >> AskModel(draft=True) >> SqlRound()

Failures that belong to the answer (the model failing, no SQL, SQL the gate refuses, SQL
that fails to run) end the round with a clear message (``RoundDone.error``), never an
exception: the user sees why, and the round is stored all the same.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from awel import DAG, MapOperator, StreamifyAbsOperator, TransformStreamAbsOperator
from awel.errors import AwelError
from awel.operators import is_stream
from awel.plan import Step
from awel.trigger import HttpTrigger
from operators.admission import ModelBusy, wait_turn
from operators.datasource import (
    QueryResult,
    connector_for,
    rebuild_summaries,
    search_tables,
)
from operators.llm.types import ChatMessage, Delta, GenerationParams, GenerationRequest
from operators.models import current_models
from operators.prompts.template import fill
from operators.storage import current_store

from .answer import (
    DASHBOARD_SCHEMA,
    DISPLAY_TYPES,
    SQL_ANSWER_SCHEMA,
    guided_params,
    parse_charts,
    parse_sql_answer,
)
from .chart import chart_view, dashboard_report, error_view, view_json
from .chat_flows import chat_flow
from .files import excel_datasource, resolve_file
from .prompt import PromptTemplate
from .types import ModelDone, Progress, RoundDone, SceneCall, SceneEvent

__all__ = [
    "MAX_CHART_ROWS",
    "AskModel",
    "DashboardRound",
    "ExcelTable",
    "Prompt",
    "RoundEnd",
    "RunFlow",
    "SchemaOf",
    "SqlRound",
    "TextRound",
    "scene_request",
]

log = logging.getLogger("awel.chat")

#: Rows a chart shows at most (the SQL gate caps the query's LIMIT to this).
MAX_CHART_ROWS = 200
#: Tables whose summaries go into a prompt at most.
TOP_K_TABLES = 5
#: Seconds a scene's query may run.
QUERY_TIMEOUT = 30.0


# --- the schema a data scene talks about ---------------------------------------------------


async def _schema_text(call: SceneCall, *, top_k: int = TOP_K_TABLES) -> str:
    ds = call.datasource
    assert ds is not None
    store = current_store()
    if not await store.summaries.list(ds.db_name):
        # Never summarised (added straight to the store, or the build after db/add failed).
        await rebuild_summaries(store, ds)
    tables = await search_tables(store, ds.db_name, call.user_input, top_k=top_k)
    return "\n\n".join(t.summary for t in tables)


class SchemaOf(MapOperator[SceneCall, SceneCall]):
    """The datasource ``select_param`` names, and the summaries of the tables most related
    to the question (embedding search when the summaries have embeddings)."""

    def __init__(self, *, top_k: int = TOP_K_TABLES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.top_k = top_k

    async def map(self, input_value: SceneCall) -> SceneCall:
        ds = await current_store().datasources.require(input_value.select_param)
        call = dataclasses.replace(input_value, datasource=ds)
        return dataclasses.replace(call, schema=await _schema_text(call, top_k=self.top_k))


class ExcelTable(MapOperator[SceneCall, SceneCall]):
    """The uploaded file ``select_param`` names, as its DuckDB table's datasource."""

    async def map(self, input_value: SceneCall) -> SceneCall:
        record = await resolve_file(current_store(), input_value.select_param)
        call = dataclasses.replace(input_value, datasource=excel_datasource(record))
        return dataclasses.replace(call, schema=await _schema_text(call))


# --- prompt and model -----------------------------------------------------------------------


class Prompt(MapOperator[SceneCall, SceneCall]):
    """The scene's request: its template rendered as the system message, the history if
    ``history``, then the question. ``json_schema`` is handed to the engine for guided
    decoding where it supports it (see :func:`~operators.chat.answer.guided_params`)."""

    def __init__(
        self,
        template: Path,
        *,
        history: bool = False,
        json_schema: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.template = PromptTemplate(template)
        self.history = history
        self.json_schema = json_schema

    async def map(self, input_value: SceneCall) -> SceneCall:
        call = input_value
        ds = call.datasource
        values: dict[str, Any] = {
            "question": call.user_input,
            "schema": call.schema,
            "db_name": ds.db_name if ds else "",
            "db_type": ds.db_type if ds else "",
            "top_k": MAX_CHART_ROWS,
            "display_types": DISPLAY_TYPES,
        }
        if call.stored_prompt is not None:
            # DB-GPT's stored prompts name these values as its scenes' templates do.
            aliases = {
                "input": call.user_input,
                "user_input": call.user_input,
                "table_info": call.schema,
                "dialect": values["db_type"],
                "display_type": ", ".join(DISPLAY_TYPES),
            }
            system = fill(call.stored_prompt, values | aliases)
        else:
            system = self.template.render(**values)
        request = scene_request(call, system, history=self.history, json_schema=self.json_schema)
        return dataclasses.replace(call, request=request)


def scene_request(
    call: SceneCall,
    system: str,
    *,
    history: bool = False,
    json_schema: dict[str, Any] | None = None,
) -> GenerationRequest:
    """The model's request for a round: ``system`` (unless the client sent its own), the
    history if ``history``, then the question; the round's sampling settings."""
    earlier = call.history if history else []
    # A system prompt the client sent (v2's messages) replaces the scene's own.
    own = system and not any(m.role == "system" for m in earlier)
    messages = [ChatMessage(role="system", content=system)] if own else []
    messages += earlier
    messages.append(ChatMessage(role="user", content=call.user_input))
    params = GenerationParams(max_new_tokens=call.max_new_tokens, temperature=call.temperature)
    if json_schema is not None:
        params = guided_params(params, json_schema)
    return GenerationRequest(model=call.model_name, messages=messages, params=params)


class AskModel(StreamifyAbsOperator[SceneCall, SceneEvent]):
    """The model's answer as it is written (cumulative :class:`Progress`), then
    :class:`ModelDone` with the whole text, or the error that stopped it."""

    def __init__(self, *, draft: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.draft = draft

    def compile_step(self, inputs: Sequence[bool]) -> tuple[Step, bool]:
        _, streams = super().compile_step(inputs)  # a streamify node's checks
        # The step waits for the model's turn before handing the stream on, as LLMStream
        # does: a busy model (ModelBusy) then fails the round's call while the chat route
        # can still answer 429 with Retry-After, before any header or row of the round.
        return self.open, streams

    async def open(self, call: SceneCall) -> AsyncIterator[SceneEvent]:
        """The round's events, once the model has taken the request; only a busy model
        raises here, every other failure is a :class:`ModelDone` with its error."""
        assert call.request is not None
        try:
            stream = current_models().llm(call.request.model or None).stream(call.request)
        except ModelBusy:
            raise
        except Exception as exc:
            return self._failed(call, exc)
        try:
            await wait_turn(stream)
        except ModelBusy:
            await _close(stream)
            raise
        except Exception as exc:
            await _close(stream)
            return self._failed(call, exc)
        except BaseException:
            await _close(stream)
            raise
        return self._events(call, stream)

    def streamify(self, input_value: SceneCall) -> AsyncIterator[SceneEvent]:
        call = input_value
        assert call.request is not None
        try:
            stream = current_models().llm(call.request.model or None).stream(call.request)
        except Exception as exc:
            return self._failed(call, exc)
        return self._events(call, stream)

    async def _events(
        self, call: SceneCall, stream: AsyncIterator[Delta]
    ) -> AsyncIterator[SceneEvent]:
        text = ""
        try:
            async for delta in stream:
                if delta.text:
                    text += delta.text
                    yield Progress(text, draft=self.draft)
        except Exception as exc:
            yield _model_done(call, text, exc)
            return
        finally:
            await _close(stream)
        yield ModelDone(call, text)

    async def _failed(self, call: SceneCall, exc: Exception) -> AsyncIterator[SceneEvent]:
        yield _model_done(call, "", exc)


def _model_done(call: SceneCall, text: str, exc: Exception) -> ModelDone:
    """The round's end when the model failed: our errors say what, others are logged."""
    if isinstance(exc, AwelError):
        return ModelDone(call, text, f"the model cannot answer: {exc.message}")
    log.error("chat: the model failed in %s", call.chat_mode, exc_info=exc)
    return ModelDone(call, text, f"the model failed: {exc}")


async def _close(stream: object) -> None:
    # Close the engine's stream now, not when it is collected: a round that ends or a
    # client that leaves frees its share of the model at once.
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


# --- ends of rounds -----------------------------------------------------------------------


class RoundEnd(TransformStreamAbsOperator[SceneEvent, SceneEvent]):
    """Passes progress on; turns the model's last word into the round's end."""

    #: The JSON schema the answer is parsed by, so the model is held to it (None: text).
    #: Declared here, with the parsing, so a scene cannot pair a parser with another shape.
    json_schema: ClassVar[dict[str, Any] | None] = None

    async def transform_stream(
        self, input_stream: AsyncIterator[SceneEvent]
    ) -> AsyncIterator[SceneEvent]:
        async for event in input_stream:
            if isinstance(event, ModelDone):
                yield await self.finish(event)
            else:
                yield event

    async def finish(self, done: ModelDone) -> RoundDone:
        raise NotImplementedError


class TextRound(RoundEnd):
    """The answer is the model's text."""

    async def finish(self, done: ModelDone) -> RoundDone:
        if done.error is not None:
            return RoundDone(done.text, error_view(done.error, done.text), done.error)
        if not done.text.strip():
            problem = "the model gave an empty answer"
            return RoundDone("", error_view(problem), problem)
        return RoundDone(done.text, done.text)


async def _run_sql(call: SceneCall, sql: str) -> QueryResult:
    assert call.datasource is not None
    return await connector_for(call.datasource).run_query(
        sql, max_rows=MAX_CHART_ROWS, timeout=QUERY_TIMEOUT
    )


class SqlRound(RoundEnd):
    """Text-to-SQL: the answer's SQL through the datasource's gate, run, and shown as the
    chart-view the answer's ``display_type`` asks for. ``ai`` is the JSON
    ``{thoughts, sql, display_type, direct_response}``."""

    json_schema = SQL_ANSWER_SCHEMA

    async def finish(self, done: ModelDone) -> RoundDone:
        answer = parse_sql_answer(done.text)
        ai = answer.stored()
        if done.error is not None:
            return RoundDone(ai, error_view(done.error, answer.thoughts), done.error)
        if answer.problem is not None:
            return RoundDone(ai, error_view(answer.problem, answer.thoughts), answer.problem)
        if not answer.sql:
            return RoundDone(ai, answer.direct_response or answer.thoughts)
        try:
            result = await _run_sql(done.call, answer.sql)
        except AwelError as exc:
            problem = f"the SQL did not run: {exc.message}"
            return RoundDone(
                ai, error_view(problem, answer.thoughts), problem, {"sql_error": exc.code}
            )
        view = chart_view(answer.thoughts, answer.display_type, result.sql, result)
        return RoundDone(ai, view, context={"row_count": len(result.rows)})


class DashboardRound(RoundEnd):
    """Several charts: each spec's SQL run on its own (a failing one keeps its message).
    ``ai`` is the JSON list of chart specs, ``view`` the JSON report."""

    json_schema = DASHBOARD_SCHEMA

    async def finish(self, done: ModelDone) -> RoundDone:
        charts = parse_charts(done.text)
        ai = json.dumps(charts, ensure_ascii=False)
        if done.error is not None:
            return RoundDone(ai, error_view(done.error), done.error)
        if not charts:
            problem = "the model did not propose any chart as the JSON list asked for"
            return RoundDone(ai or done.text, error_view(problem, done.text.strip()), problem)
        ran: list[tuple[dict[str, str], QueryResult | None, str | None]] = []
        for spec in charts:
            if not spec["sql"]:
                ran.append((spec, None, "this chart has no SQL"))
                continue
            try:
                ran.append((spec, await _run_sql(done.call, spec["sql"]), None))
            except AwelError as exc:
                ran.append((spec, None, f"the SQL did not run: {exc.message}"))
        report = dashboard_report(done.call.conv_uid, ran)
        failed = [p for _, r, p in ran if r is None]
        error = None
        if len(failed) == len(ran):
            error = "none of the dashboard's charts could run: " + "; ".join(p for p in failed if p)
        return RoundDone(ai, view_json(report), error)


# --- scenes that are not made of the above ------------------------------------------------


def _trigger_of(dag: DAG) -> HttpTrigger | None:
    for node in dag.trigger_nodes:
        if isinstance(node, HttpTrigger):
            return node
    return None


def _piece(item: Any) -> tuple[str, bool]:
    """The text of one item a flow streams, and whether it is cumulative."""
    if isinstance(item, bytes):
        item = item.decode(errors="replace")
    if isinstance(item, str):
        return item, False
    if isinstance(item, dict):
        if "text" in item:
            return str(item.get("text") or ""), not item.get("incremental", False)
        choices = item.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            part = choices[0].get("delta") or choices[0].get("message") or {}
            return str(part.get("content") or ""), "message" in choices[0]
    if hasattr(item, "text"):
        return str(item.text), False
    return json.dumps(item, ensure_ascii=False, default=str), False


class RunFlow(StreamifyAbsOperator[SceneCall, SceneEvent]):
    """chat_flow: the question sent to the flow ``select_param`` names, as DB-GPT's
    ``CommonLLMHttpRequestBody``; what it streams (or answers) is the round's answer."""

    async def streamify(self, input_value: SceneCall) -> AsyncIterator[SceneEvent]:
        call = input_value
        dag = await chat_flow(call.select_param)
        async for event in answer_from_flow(call, dag, f"the flow '{call.select_param}'"):
            yield event


async def answer_from_flow(
    call: SceneCall, dag: DAG | None, what: str
) -> AsyncIterator[SceneEvent]:
    """The round's answer from running ``dag`` (named ``what`` in messages) with the
    question as DB-GPT's ``CommonLLMHttpRequestBody``: its stream as progress, then done;
    a failure ends the round with an error view."""
    trigger = _trigger_of(dag) if dag is not None else None
    if dag is None or trigger is None:
        problem = f"select_param: no flow named '{call.select_param}' is loaded"
        yield RoundDone("", error_view(problem), problem)
        return
    raw: dict[str, Any] = {
        "model": call.model_name,
        "messages": call.user_input,
        "user_input": call.user_input,
        "stream": True,
        "temperature": call.temperature,
        "max_new_tokens": call.max_new_tokens,
        "conv_uid": call.conv_uid,
        "span_id": None,
        "chat_mode": call.chat_mode,
        "chat_param": call.select_param,
        "user_name": call.user_name,
        "sys_code": call.sys_code,
        "incremental": False,
        "context": {"conv_uid": call.conv_uid, "chat_mode": call.chat_mode},
    }
    text = ""
    try:
        body: Any = _flow_input(trigger, raw)
        out = await dag.output_node.call(body)
        if is_stream(out):
            async for item in out:
                piece, whole = _piece(item)
                text = piece if whole else text + piece
                yield Progress(text)
        else:
            text, _ = _piece(out)
    except Exception as exc:
        cause = exc.__cause__ or exc
        problem = f"{what} failed: {cause}"
        log.warning("chat_flow: %s", problem)
        yield RoundDone(text, error_view(problem, text), problem)
        return
    yield RoundDone(text, text)


def _flow_input(trigger: HttpTrigger, raw: dict[str, Any]) -> Any:
    from pydantic import BaseModel

    body = trigger.request_body
    if body is None:
        return None
    if body is str:
        return raw["user_input"]
    if isinstance(body, type) and issubclass(body, BaseModel):
        return body.model_validate(raw)
    return raw
