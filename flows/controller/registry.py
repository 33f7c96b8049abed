"""The controller: ``POST|GET|DELETE /api/controller/models``, ``POST
/api/controller/heartbeat`` and ``GET /api/health`` over the process's registry.

Bodies and answers are DB-GPT's raw objects (no envelope): ``true`` for writes, a list of
``ModelInstance`` for the listing. A malformed instance is refused with 400 naming the
field before the registry is touched.
"""

from __future__ import annotations

from typing import Any

from awel import DAG, MapOperator
from awel.trigger import HttpTrigger
from operators.cluster.state import current_cluster
from operators.cluster.types import DeregisterQuery, ListQuery, ModelInstance

_TAGS = ["Model controller"]


async def register(instance: ModelInstance) -> bool:
    return await current_cluster().registry.register(instance)


async def heartbeat(instance: ModelInstance) -> bool:
    return await current_cluster().registry.heartbeat(instance)


async def deregister(query: DeregisterQuery) -> bool:
    return await current_cluster().registry.deregister(
        query.model_name,
        query.host,
        query.port,
        remove_from_registry=query.remove_from_registry,
    )


async def list_instances(query: ListQuery) -> list[dict[str, Any]]:
    found = await current_cluster().registry.instances(
        query.model_name or None, healthy_only=query.healthy_only
    )
    return [i.model_dump(mode="json") for i in found]


async def health(_: Any) -> dict[str, str]:
    return {"status": "ok"}


def _trigger(path: str, method: str, body: type[Any] | None, summary: str) -> HttpTrigger:
    return HttpTrigger(
        path=path,
        methods=method,
        request_body=body,
        summary=summary,
        tags=_TAGS,
        task_name="trigger",
    )


with DAG("controller_register", description="Register a model instance.") as register_dag:
    _trigger(
        "/api/controller/models", "POST", ModelInstance, "Register a model instance"
    ) >> MapOperator(map_function=register, task_name="register")

with DAG("controller_list", description="List model instances.") as list_dag:
    _trigger("/api/controller/models", "GET", ListQuery, "List model instances") >> MapOperator(
        map_function=list_instances, task_name="list"
    )

with DAG("controller_deregister", description="Deregister a model instance.") as deregister_dag:
    _trigger(
        "/api/controller/models", "DELETE", DeregisterQuery, "Deregister a model instance"
    ) >> MapOperator(map_function=deregister, task_name="deregister")

with DAG("controller_heartbeat", description="A model instance is alive.") as heartbeat_dag:
    _trigger(
        "/api/controller/heartbeat", "POST", ModelInstance, "Heartbeat of a model instance"
    ) >> MapOperator(map_function=heartbeat, task_name="heartbeat")

with DAG("controller_health", description="The controller is up.") as health_dag:
    _trigger("/api/health", "GET", None, "Controller health") >> MapOperator(
        map_function=health, task_name="health"
    )
