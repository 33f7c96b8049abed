"""The webserver's LLM management routes, under both names DB-GPT has used.

| before 0.7 | 0.7 and later (also under ``/api/v2/serve/model``) |
|---|---|
| ``GET /api/v1/worker/model/params`` | ``GET /api/v1/worker/model-types`` |
| ``GET /api/v1/worker/model/list`` | ``GET /api/v1/worker/models`` |
| ``POST /api/v1/worker/model/stop`` | ``POST /api/v1/worker/models/stop`` |
| ``POST /api/v1/worker/model/start`` | ``POST /api/v1/worker/models/start`` |

plus ``POST /api/v1/worker/models`` (start a model from a full request). Answers are in the
serve-module ``Result`` envelope; an unknown model, worker type or host is a failure
envelope naming it. List items carry both ``worker_type`` and ``model_type``.
"""

from __future__ import annotations

from typing import Any

from awel import DAG
from awel.trigger import ResponseKind
from flows._route import action_flow
from operators.cluster import manage
from operators.cluster.state import current_cluster
from operators.cluster.types import WorkerStartupRequest

_TAGS = ["LLM management"]


async def params(_: Any) -> list[dict[str, Any]]:
    return await manage.supported_models(current_cluster())


async def model_list(_: Any) -> list[dict[str, Any]]:
    return await manage.model_list(current_cluster())


async def stop(body: WorkerStartupRequest) -> bool:
    return await manage.stop_model(current_cluster(), body)


async def start(body: WorkerStartupRequest) -> bool:
    return await manage.start_model(current_cluster(), body)


def _flow(path: str, method: str, body: type[Any] | None, fn: Any, summary: str) -> DAG:
    dag_id = "manage" + path.replace("/api", "").replace("/", "_").replace("-", "_")
    return action_flow(
        f"{dag_id}_{method.lower()}",
        path,
        method,
        body,
        fn,
        summary,
        tags=_TAGS,
        response=ResponseKind.SERVE_RESULT,
    )


_ROUTES: list[tuple[tuple[str, ...], str, type[Any] | None, Any, str]] = [
    (
        (
            "/api/v1/worker/model/params",
            "/api/v1/worker/model-types",
            "/api/v2/serve/model/model-types",
        ),
        "GET",
        None,
        params,
        "Models the worker managers could start",
    ),
    (
        ("/api/v1/worker/model/list", "/api/v1/worker/models", "/api/v2/serve/model/models"),
        "GET",
        None,
        model_list,
        "Registered model instances",
    ),
    (
        (
            "/api/v1/worker/model/stop",
            "/api/v1/worker/models/stop",
            "/api/v2/serve/model/models/stop",
        ),
        "POST",
        WorkerStartupRequest,
        stop,
        "Stop a model",
    ),
    (
        (
            "/api/v1/worker/model/start",
            "/api/v1/worker/models/start",
            "/api/v2/serve/model/models/start",
            "/api/v1/worker/models",
            "/api/v2/serve/model/models",
        ),
        "POST",
        WorkerStartupRequest,
        start,
        "Start a model",
    ),
]

# The loader serves the DAGs bound to module-level names: one per path.
for _paths, _method, _body, _fn, _summary in _ROUTES:
    for _path in _paths:
        _dag = _flow(_path, _method, _body, _fn, _summary)
        globals()[_dag.dag_id] = _dag
