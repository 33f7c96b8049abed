"""The shape most shipped routes share: an HTTP trigger and one action.

Each API module binds its path prefix, envelope and tag once
(``_flow = partial(action_flow, prefix=..., tags=[...], response=...)``) and names only what
differs per route; the flow itself is built here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from awel import DAG, MapOperator
from awel.trigger import HttpTrigger, ResponseKind


def action_flow(
    dag_id: str,
    path: str,
    method: str,
    body: type[Any] | None,
    action: Any,
    summary: str,
    *,
    prefix: str = "",
    tags: Sequence[str],
    response: ResponseKind | str = ResponseKind.JSON,
    errors: str = "serve_result",
    ok_failures: Sequence[str] = (),
    media_type: str | None = None,
    header_fields: Mapping[str, str] | None = None,
) -> DAG:
    """A flow answering ``method prefix+path`` with what ``action(request)`` returns.

    ``action`` is a function of the parsed request (a ``body`` model, or None), sync or async.
    """
    with DAG(dag_id, description=summary) as dag:
        HttpTrigger(
            path=prefix + path,
            methods=method,
            request_body=body,
            response=response,
            response_media_type=media_type,
            errors=errors,
            ok_failures=ok_failures,
            header_fields=header_fields,
            summary=summary,
            tags=list(tags),
            task_name="trigger",
        ) >> MapOperator(action, task_name="run")
    return dag
