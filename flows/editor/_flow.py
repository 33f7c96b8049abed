"""The editor flows' one shape: an HTTP trigger and one action."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from awel import DAG
from awel.trigger import ResponseKind
from flows._route import action_flow


def editor_flow(
    dag_id: str,
    path: str,
    method: str,
    body: type[Any] | None,
    action: Callable[[Any], Awaitable[Any]],
    summary: str,
    *,
    response: ResponseKind = ResponseKind.RESULT,
    media_type: str | None = None,
) -> DAG:
    """A flow answering DB-GPT's app Result, or, with ``response``, what the action returns
    (a file). DB-GPT answers the editor's failures with HTTP 200 and ``success: false``,
    and its web UI reads only the envelope, so the trigger declares every failure so."""
    return action_flow(
        dag_id,
        path,
        method,
        body,
        action,
        summary,
        tags=["Editor"],
        response=response,
        errors="result",
        ok_failures=("",) if response is ResponseKind.RESULT else (),
        media_type=media_type,
    )
