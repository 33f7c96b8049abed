"""DB-GPT's ``Result`` envelopes and the error shapes of the two API styles.

DB-GPT answers its app routes with ``{success, err_code, err_msg, data, host_name}`` and its
serve-module routes (and every global error) with the same minus ``host_name``. The
OpenAI-compatible routes answer errors as ``{"error": {message, type, param, code}}``. A route
declares its style; nothing mixes them on one route.

These are the shapes :class:`~awel.trigger.ResponseKind` and
:class:`~awel.trigger.StreamErrorStyle` name, so they live beside the trigger: the server
writes them, and a flow that must answer a failure inside a success (DB-GPT's HTTP 200 with
``success: false``) builds it without importing the server.
"""

from __future__ import annotations

import socket
from typing import Any

#: DB-GPT fills host_name from the server's hostname once, at import.
HOST_NAME = socket.gethostname()


def result_ok(data: Any, *, host_name: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"success": True, "err_code": None, "err_msg": None, "data": data}
    if host_name:
        body["host_name"] = HOST_NAME
    return body


def result_failed(message: str, code: str = "E000X", *, host_name: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"success": False, "err_code": code, "err_msg": message, "data": None}
    if host_name:
        body["host_name"] = HOST_NAME
    return body


# llama.cpp's vocabulary, a superset of what OpenAI clients check (openai-conventions.md).
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    501: "not_supported_error",
    503: "unavailable_error",
}


def openai_error(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
