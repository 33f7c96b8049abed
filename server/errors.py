"""Turning failures into HTTP answers: statuses, error ids, and the route's error style.

The server never sends a stack trace. A client mistake (bad field, unknown route) gets a 4xx
that says what to fix. A failure inside a flow gets a 5xx with an error id that is also in
the log next to the traceback, so an operator can find it.
"""

from __future__ import annotations

import enum
import logging
import uuid
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from awel.envelope import openai_error, result_failed
from awel.errors import ApiError, AwelError, NodeError

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


# Engine error codes that are the caller's doing, and their statuses. Everything else that
# goes wrong inside a flow is the server's problem: 500.
_CLIENT_CODES = {
    "run.no_input": 400,
    # The engine refusing a request it cannot run (no messages, a prompt over the context).
    "llm.invalid_request": 400,
    "run.deadline": 504,
}
_CLIENT_PREFIXES = {
    "request.": 400,
    "not_found.": 404,
    "auth.": 401,
    "sql.": 400,
}


def status_for(error: AwelError) -> int:
    code = error.code
    if isinstance(error, NodeError) and isinstance(error.__cause__, (AwelError, ApiError)):
        cause = error.__cause__
        return cause.status if isinstance(cause, ApiError) else status_for(cause)
    if code in _CLIENT_CODES:
        return _CLIENT_CODES[code]
    for prefix, status in _CLIENT_PREFIXES.items():
        if code.startswith(prefix):
            return status
    return 500


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
