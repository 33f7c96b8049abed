"""``GET /api/v1/model/types`` (the healthy language models: the UI's model dropdown) and
``GET /api/v1/model/supports`` (what the worker managers could start), in the app ``Result``
envelope."""

from __future__ import annotations

from typing import Any

from awel.trigger import ResponseKind
from flows._route import Api
from operators.cluster import manage
from operators.cluster.state import current_cluster

api = Api(tags=["Model"], response=ResponseKind.RESULT, errors="result")


async def types(_: Any) -> list[str]:
    return await manage.model_names(current_cluster())


async def supports(_: Any) -> list[dict[str, Any]]:
    return await manage.supported_models(current_cluster())


types_dag = api.flow(
    dag_id="model_types",
    path="/api/v1/model/types",
    method="GET",
    body=None,
    action=types,
    summary="Healthy language models",
    description="Healthy language models.",
    node="types",
)
supports_dag = api.flow(
    dag_id="model_supports",
    path="/api/v1/model/supports",
    method="GET",
    body=None,
    action=supports,
    summary="Models the managers could start",
    description="Models the managers could start.",
    node="supports",
)
