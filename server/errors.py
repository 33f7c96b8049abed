"""Turning failures into HTTP answers: statuses, error ids, and the route's error style.

The server never sends a stack trace. A client mistake (bad field, unknown route) gets a 4xx
that says what to fix. A failure inside a flow gets a 5xx with an error id that is also in
the log next to the traceback, so an operator can find it.
"""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from awel.envelope import openai_error, result_failed
from awel.errors import AwelError, NodeError

from .json import dumps

log = logging.getLogger("awel.server")


class ErrorStyle(enum.StrEnum):
    """Which shape a route's errors take."""

    #: DB-GPT app ``Result`` with ``host_name``.
    RESULT = "result"
    #: DB-GPT serve ``Result`` (the global handlers' shape).
    SERVE_RESULT = "serve_result"
    #: OpenAI's nested ``{"error": {...}}``.
    OPENAI = "openai"


@dataclass(frozen=True, slots=True)
class Answer:
    """How the server answers one error code.

    ``openai`` is the ``code`` in OpenAI's nested error and ``result`` DB-GPT's ``err_code``
    (``E0001`` ...); where either is None the envelope carries the code as raised (a
    failing node answers ``run.node_failed``). ``relay`` keeps the status a remote worker
    answered, where the error carries one.
    """

    status: int
    openai: str | None = None
    result: str | None = None
    relay: bool = False


def _same(status: int, code: str) -> Answer:
    # Many codes are shown to both APIs as one string (OpenAI's and DB-GPT's alike).
    return Answer(status, code, code)


#: Every code the domain raises, and how each API is told. A code missing here, past the
#: prefixes below, is the server's own failure: a 500 with an error id, no details.
ANSWERS: dict[str, Answer] = {
    # The request itself.
    "request.invalid": Answer(400, "invalid_request", "E0001"),
    "request.invalid_value": _same(400, "invalid_value"),
    "upload.invalid": Answer(400, "invalid_file", "E0001"),
    "upload.too_large": Answer(413, "invalid_file", "E0001"),
    # Models and the cluster.
    "model.not_found": _same(404, "model_not_found"),
    "model.wrong_kind": _same(400, "model_not_supported"),
    "model.not_loaded": _same(503, "model_not_loaded"),
    "model.unavailable": _same(503, "model_unavailable"),
    # The model's queue is full, or a request waited in it too long (operators.admission):
    # 429 with Retry-After, so clients back off (the openai SDK retries after it).
    "model.busy": _same(429, "model_busy"),
    "worker.bad_type": _same(400, "E0001"),
    "worker.model_not_running": _same(404, "E0001"),
    "cluster.no_manager": _same(404, "E0001"),
    "cluster.no_engines": _same(400, "E0001"),
    "cluster.no_worker_manager": _same(503, "E0003"),
    "cluster.refused": Answer(502, "E0001", "E0001", relay=True),
    # The catalogue's chat operators (operators/llm/chat_ops.py, prompt_ops.py): an input
    # no chat can be made of, a template the input cannot fill, a guided answer cut short.
    "llm.invalid_input": _same(400, "invalid_chat_input"),
    "prompt.render_failed": _same(400, "prompt_render_failed"),
    "llm.invalid_answer": _same(502, "invalid_model_answer"),
    # The catalogue's http.request: a target it may not reach, an input it cannot build the
    # call from; the API not answering, answering an error, or too much.
    "http.refused": _same(400, "http_refused"),
    "http.bad_input": _same(400, "http_bad_input"),
    "http.failed": _same(502, "http_failed"),
    "http.status": _same(502, "http_status"),
    "http.bad_answer": _same(502, "http_bad_answer"),
    # file.read, inside the data directory only.
    "file.refused": _same(400, "file_refused"),
    "file.not_found": _same(404, "file_not_found"),
    "file.too_large": _same(413, "file_too_large"),
    "file.unreadable": _same(400, "file_unreadable"),
    # DB-GPT's app platform (operators/app_platform.py), which awel does not have.
    "platform.not_supported": Answer(501, "not_supported", "E0003"),
    # `awel ui install` refusing a dbgpt-app wheel (server/ui_install.py); raised by the
    # command and at start-up, never by a route.
    "web_ui.refused": _same(400, "web_ui_refused"),
    # Chat scenes.
    "chat.unknown_mode": Answer(400, "invalid_chat_mode", "E0001"),
    "chat.invalid_param": Answer(400, "invalid_chat_param", "E0001"),
    # DB-GPT answers a topic it cannot terminate E0102.
    "chat.topic_not_found": Answer(404, "conversation_not_found", "E0102"),
    # Datasources and their SQL (DB-GPT's E1001: the database cannot be used as configured).
    "datasource.unsupported_type": Answer(400, "unsupported_db_type", "E0003"),
    "datasource.invalid": Answer(400, "invalid_datasource", "E0003"),
    "request.file_refused": Answer(400, "invalid_datasource", "E0003"),
    "datasource.exists": Answer(400, "datasource_exists", "E0003"),
    "datasource.not_found": Answer(400, "datasource_not_found", "E0003"),
    "datasource.id_not_found": Answer(404, "datasource_not_found", "E0003"),
    "datasource.connect_failed": Answer(400, "connect_failed", "E1001"),
    "datasource.privileged_login": Answer(400, "privileged_login", "E1001"),
    "sql.rejected": Answer(400, "sql_rejected", "E0003"),
    "sql.not_allowed": Answer(400, "sql_rejected", "E0003"),
    "sql.failed": Answer(400, "sql_failed", "E0003"),
    "sql.timeout": Answer(400, "sql_timeout", "E0003"),
    # The catalogue's sql.query / sql.schema / text_to_sql: nothing to run or look up, and
    # a model that wrote no SQL.
    "sql.missing": Answer(400, "sql_missing", "E0003"),
    "sql.no_question": Answer(400, "no_question", "E0003"),
    "sql.no_answer": Answer(502, "no_sql_answer", "E0003"),
    # The editor's rounds and charts.
    "round.not_found": Answer(400, "round_not_found", "E0003"),
    "round.nothing_to_undo": Answer(400, "nothing_to_undo", "E0003"),
    "chart.unknown_type": Answer(400, "unknown_chart_type", "E0003"),
    "chart.does_not_fit": Answer(400, "chart_does_not_fit", "E0003"),
    "chart.unknown_format": Answer(400, "unknown_format", "E0003"),
    "store.not_open": Answer(503, "store_not_open", "E0003"),
    # Knowledge spaces, their documents and indexes (a space named in the body is a bad
    # request; one named by id in the path is a missing resource, as datasources are).
    # The agent hub: DB-GPT answers its install failures E0021, uninstall E0022, upload E0023.
    "agent.not_found": Answer(404, "agent_not_found", "E0021"),
    "agent.invalid": Answer(400, "agent_invalid", "E0021"),
    "agent.untrusted": Answer(403, "agent_untrusted", "E0021"),
    "agent.not_installed": Answer(404, "agent_not_installed", "E0022"),
    "agent.package_refused": Answer(400, "agent_package_refused", "E0023"),
    "agent.off": Answer(503, "agents_unavailable", "E0003"),
    # An app is named in the path (/api/v2/serve/apps/{app_id}): a missing resource.
    "app.not_found": Answer(404, "app_not_found", "E0003"),
    "knowledge.space_exists": Answer(400, "space_exists", "E0003"),
    "knowledge.space_not_found": Answer(400, "space_not_found", "E0003"),
    "knowledge.space_id_not_found": Answer(404, "space_not_found", "E0003"),
    "knowledge.document_exists": Answer(400, "document_exists", "E0003"),
    "knowledge.document_not_found": Answer(400, "document_not_found", "E0003"),
    "knowledge.vector_type": Answer(400, "unsupported_vector_type", "E0003"),
    "knowledge.index_unavailable": Answer(503, "index_unavailable", "E0003"),
    "knowledge.unreadable": Answer(400, "unreadable_document", "E0003"),
    "knowledge.url_refused": Answer(400, "url_refused", "E0003"),
    "knowledge.fetch_failed": Answer(502, "fetch_failed", "E0003"),
    # The agent hub (operators/agents): DB-GPT answers a failed hub update E0020.
    "agent.hub_source": Answer(400, "hub_source_refused", "E0020"),
    "agent.hub_sync_failed": Answer(502, "hub_sync_failed", "E0020"),
    # User flows (operators/userflows): DB-GPT answers every flow failure E0003.
    "flow.not_found": Answer(404, "flow_not_found", "E0003"),
    "flow.version_not_found": Answer(404, "flow_version_not_found", "E0003"),
    "flow.invalid": Answer(400, "flow_invalid", "E0003"),
    "flow.refused": Answer(409, "flow_refused", "E0003"),
    "flow.unmappable": Answer(400, "flow_unmappable", "E0003"),
    "flow.code_refused": Answer(403, "flow_code_refused", "E0003"),
    "flow.name_taken": Answer(409, "flow_name_taken", "E0003"),
    "flow.bad_state": Answer(400, "flow_bad_state", "E0003"),
    "flow.not_editable": Answer(403, "flow_not_editable", "E0003"),
    "flow.unavailable": Answer(503, "flows_unavailable", "E0003"),
    # An id POST /nodes/refresh names that is no operator of the palette.
    "flow.node_not_found": Answer(404, "node_not_found", "E0003"),
    # Flow variables (operators/storage/variables.py): an id in the path that names none,
    # an identity taken. A flow's reference that cannot be resolved is the flow's fault,
    # told to the caller as 422 (the request was read; the flow cannot run as configured:
    # no 500, which would say the server broke), naming the reference and the node, never
    # a secret's value.
    "variable.not_found": Answer(404, "variable_not_found", "E0003"),
    "variable.exists": Answer(400, "variable_exists", "E0003"),
    "variable.unresolved": Answer(422, "variable_unresolved", "E0003"),
    # Flows sent to the flow API as YAML (operators/userflows): a flow that does not load,
    # none sent, an input its trigger does not take (DB-GPT answers a flow it cannot build
    # E0003).
    "flow.yaml_invalid": Answer(400, "invalid_flow", "E0003"),
    "flow.yaml_missing": Answer(400, "invalid_flow", "E0003"),
    "flow.debug_input": Answer(400, "invalid_request", "E0003"),
    # Stored prompts (/prompt/*) and round ratings (/api/v1/feedback/*): named in the body,
    # so a missing one is a bad request (DB-GPT answers both E0003).
    "prompt.exists": Answer(400, "prompt_exists", "E0003"),
    "prompt.not_found": Answer(400, "prompt_not_found", "E0003"),
    "feedback.round_not_found": Answer(400, "round_not_found", "E0003"),
    # The engine refusing what the caller asked (no input; no messages, a prompt over the
    # context), and a call past its deadline.
    "run.no_input": Answer(400),
    "llm.invalid_request": Answer(400),
    "run.deadline": Answer(504),
    # A flow node marked `executor: ray` while Ray is off or missing here, or whose Ray
    # worker died on every try: the service cannot run it now (awel/executor.py).
    "executor.ray_unavailable": Answer(503, "ray_unavailable", "E0003"),
    "executor.worker_lost": Answer(503, "ray_worker_lost", "E0003"),
}
#: Families of codes that are the caller's doing, for the codes not listed above: a user's
#: flow raises ``AwelError(message, code="not_found.shelf")`` for a 404.
_PREFIXES = {
    "request.": 400,
    "not_found.": 404,
    "auth.": 401,
    "sql.": 400,
}


@dataclass(frozen=True, slots=True)
class Failure:
    """An error as the client is told it; ``public`` False means hide it behind an id."""

    status: int
    message: str
    code: str
    err_code: str
    param: str | None
    public: bool
    #: Seconds the client should wait before retrying (a ``Retry-After`` header), if any.
    retry_after: int | None = None


def describe(error: AwelError) -> Failure:
    """What to tell the client about ``error``: a failing node is described by its cause."""
    cause: AwelError = error
    if isinstance(error, NodeError) and isinstance(error.__cause__, AwelError):
        cause = error.__cause__
    answer = ANSWERS.get(cause.code)
    if answer is None:
        status = next((s for p, s in _PREFIXES.items() if cause.code.startswith(p)), 500)
        # A code of a family (a user flow's ``request.unknown_shelf``) is shown as raised.
        answer = Answer(status, cause.code, cause.code) if status < 500 else Answer(status)
    status = answer.status
    if answer.relay:
        status = getattr(cause, "status", None) or status
    code = answer.openai or error.code
    return Failure(
        status=status,
        message=str(cause),
        code=code,
        err_code=answer.result or code,
        param=cause.param,
        # A listed 5xx (503: no model loaded) is an answer meant for the client.
        public=status < 500 or cause.code in ANSWERS,
        retry_after=getattr(cause, "retry_after", None),
    )


def validation_message(
    exc: ValidationError, prefix: str, places: dict[str, str] | None = None
) -> tuple[str, str | None, int]:
    """DB-GPT's ``loc.path:message;`` string, the first bad field, and the problem count.

    ``places`` names where some fields came from instead of ``prefix`` (``path`` for a
    path parameter), so the message points at what the client sent.
    """
    parts = []
    first: str | None = None
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        if first is None:
            first = loc
        head = str(err["loc"][0]) if err["loc"] else ""
        place = places.get(head, prefix) if places else prefix
        where = f"{place}.{loc}" if loc else place
        parts.append(f"{where}:{err['msg']};")
    return "".join(parts), first, len(parts)


def error_body(style: ErrorStyle, status: int, message: str, **extra: Any) -> dict[str, Any]:
    if style is ErrorStyle.OPENAI:
        return openai_error(status, message, code=extra.get("code"), param=extra.get("param"))
    err_code = extra.get("err_code") or (str(status) if status != 500 else "E0003")
    return result_failed(message, err_code, host_name=style is ErrorStyle.RESULT)


def error_response(
    style: ErrorStyle,
    status: int,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    body = dumps(error_body(style, status, message, **extra))
    resp = web.Response(body=body, status=status, content_type="application/json", headers=headers)
    if status >= 500:
        # A deterministic failure is not worth a retry (openai-python honours this header).
        resp.headers["x-should-retry"] = "false"
    return resp


def new_error_id() -> str:
    return uuid.uuid4().hex[:12]


def log_internal(exc: BaseException, route: str) -> str:
    """Log ``exc`` under a fresh error id; return the message a client may see."""
    error_id = new_error_id()
    log.error("error id %s on %s: %s", error_id, route, exc, exc_info=exc)
    if isinstance(exc, NodeError):
        return (
            f"flow '{exc.flow}' failed at node '{exc.node}' ({exc.operator}); error id {error_id}"
        )
    return f"internal server error; error id {error_id}"


def internal_error(style: ErrorStyle, exc: BaseException, route: str) -> web.Response:
    """Log ``exc`` with a fresh error id and answer without internals."""
    message = log_internal(exc, route)
    return error_response(style, 500, message, code="dag_failed", err_code="E0003")
