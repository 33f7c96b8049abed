"""The webserver's LLM management routes, under both names DB-GPT has used.

| before 0.7 | 0.7 and later (also under ``/api/v2/serve/model``) |
|---|---|
| ``GET /api/v1/worker/model/params`` | ``GET /api/v1/worker/model-types`` |
| ``GET /api/v1/worker/model/list`` | ``GET /api/v1/worker/models`` |
| ``POST /api/v1/worker/model/stop`` | ``POST /api/v1/worker/models/stop`` |
| ``POST /api/v1/worker/model/start`` | ``POST /api/v1/worker/models/start`` |

plus ``POST /api/v1/worker/models`` (start a model from a full request). Answers are in the
serve-module ``Result`` envelope; an unknown model, worker type or host is a failure
envelope naming it, answered HTTP 200 by the routes that start and stop models, as DB-GPT's
manager answers (its clients read a 404 as a missing route). List items carry both
``worker_type`` and ``model_type``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TypeVar

from awel.trigger import ResponseKind
from flows._route import Action, Api
from operators.cluster import manage_ops as ops
from operators.cluster.types import WorkerStartupRequest

api = Api(tags=["LLM management"], response=ResponseKind.SERVE_RESULT)
# Starting or stopping a model that does not exist is a failure envelope with HTTP 200.
change_api = replace(api, ok_failures=("model.", "worker.", "cluster."))

#: A route's request model.
B = TypeVar("B")


def _at_each(
    paths: Sequence[str],
    *,
    method: str,
    routes: Api = api,
    body: type[B] | None,
    action: Action[B],
    summary: str,
) -> None:
    """One flow per path, each bound to a module-level name (the loader serves those)."""
    for path in paths:
        name = "manage" + path.replace("/api", "").replace("/", "_").replace("-", "_")
        dag = routes.flow(
            dag_id=f"{name}_{method.lower()}",
            path=path,
            method=method,
            body=body,
            action=action,
            summary=summary,
        )
        globals()[dag.dag_id] = dag


_at_each(
    [
        "/api/v1/worker/model/params",
        "/api/v1/worker/model-types",
        "/api/v2/serve/model/model-types",
    ],
    method="GET",
    body=None,
    action=ops.params,
    summary="Models the worker managers could start",
)
_at_each(
    ["/api/v1/worker/model/list", "/api/v1/worker/models", "/api/v2/serve/model/models"],
    method="GET",
    body=None,
    action=ops.model_list,
    summary="Registered model instances",
)
_at_each(
    [
        "/api/v1/worker/model/stop",
        "/api/v1/worker/models/stop",
        "/api/v2/serve/model/models/stop",
    ],
    method="POST",
    routes=change_api,
    body=WorkerStartupRequest,
    action=ops.stop,
    summary="Stop a model",
)
_at_each(
    [
        "/api/v1/worker/model/start",
        "/api/v1/worker/models/start",
        "/api/v2/serve/model/models/start",
        "/api/v1/worker/models",
        "/api/v2/serve/model/models",
    ],
    method="POST",
    routes=change_api,
    body=WorkerStartupRequest,
    action=ops.start,
    summary="Start a model",
)
_at_each(
    ["/api/v1/worker/health", "/api/v2/serve/model/health"],
    method="GET",
    routes=replace(api, response=ResponseKind.JSON),
    body=None,
    action=ops.health,
    summary="The model serve API is up",
)
