"""``GET /api/v1/model/types`` (the healthy language models: the UI's model dropdown) and
``GET /api/v1/model/supports`` (what the worker managers could start), in the app ``Result``
envelope."""

from __future__ import annotations

from typing import Any

from awel import DAG, MapOperator
from awel.trigger import HttpTrigger, ResponseKind
from operators.cluster import manage
from operators.cluster.state import current_cluster

_TAGS = ["Model"]


async def types(_: Any) -> list[str]:
    return await manage.model_names(current_cluster())


async def supports(_: Any) -> list[dict[str, Any]]:
    return await manage.supported_models(current_cluster())


def _trigger(path: str, summary: str) -> HttpTrigger:
    return HttpTrigger(
        path=path,
        methods="GET",
        response=ResponseKind.RESULT,
        errors="result",
        summary=summary,
        tags=_TAGS,
        task_name="trigger",
    )


with DAG("model_types", description="Healthy language models.") as types_dag:
    _trigger("/api/v1/model/types", "Healthy language models") >> MapOperator(
        map_function=types, task_name="types"
    )

with DAG("model_supports", description="Models the managers could start.") as supports_dag:
    _trigger("/api/v1/model/supports", "Models the managers could start") >> MapOperator(
        map_function=supports, task_name="supports"
    )
