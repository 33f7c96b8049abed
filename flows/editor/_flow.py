"""The editor flows' one shape: an HTTP trigger and one action."""

from __future__ import annotations

from typing import Any

from awel import DAG
from awel.trigger import ResponseKind
from flows._route import action_flow
from flows.editor._service import Action, enveloped


def editor_flow(
    dag_id: str,
    path: str,
    method: str,
    body: type[Any] | None,
    action: Action,
    summary: str,
    *,
    response: ResponseKind = ResponseKind.JSON,
    media_type: str | None = None,
) -> DAG:
    """A flow answering DB-GPT's app Result (a failure with HTTP 200, as DB-GPT does), or,
    with ``response``, what the action returns (a file)."""
    return action_flow(
        dag_id,
        path,
        method,
        body,
        enveloped(action) if response is ResponseKind.JSON else action,
        summary,
        tags=["Editor"],
        response=response,
        errors="result",
        media_type=media_type,
    )
