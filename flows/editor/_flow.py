"""The editor flows' one shape: an HTTP trigger and one action."""

from __future__ import annotations

from typing import Any

from awel import DAG, MapOperator
from awel.trigger import HttpTrigger, ResponseKind
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
    run = enveloped(action) if response is ResponseKind.JSON else action
    with DAG(dag_id, description=summary) as dag:
        HttpTrigger(
            path=path,
            methods=method,
            request_body=body,
            response=response,
            response_media_type=media_type,
            errors="result",
            summary=summary,
            tags=["Editor"],
            task_name="trigger",
        ) >> MapOperator(run, task_name="run")
    return dag
