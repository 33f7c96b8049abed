"""The controller: ``POST|GET|DELETE /api/controller/models``, ``POST
/api/controller/heartbeat`` and ``GET /api/health`` over the process's registry.

Bodies and answers are DB-GPT's raw objects (no envelope): ``true`` for writes, a list of
``ModelInstance`` for the listing. A malformed instance is refused with 400 naming the
field before the registry is touched.
"""

from __future__ import annotations

from flows._route import Api
from operators.cluster import controller_ops as ops
from operators.cluster.types import DeregisterQuery, ListQuery, ModelInstance

api = Api(tags=["Model controller"], node=None, described_by_action=True)


register_dag = api.flow(
    dag_id="controller_register",
    path="/api/controller/models",
    method="POST",
    body=ModelInstance,
    action=ops.register,
    summary="Register a model instance",
)
list_dag = api.flow(
    dag_id="controller_list",
    path="/api/controller/models",
    method="GET",
    body=ListQuery,
    action=ops.list_instances,
    summary="List model instances",
)
deregister_dag = api.flow(
    dag_id="controller_deregister",
    path="/api/controller/models",
    method="DELETE",
    body=DeregisterQuery,
    action=ops.deregister,
    summary="Deregister a model instance",
)
heartbeat_dag = api.flow(
    dag_id="controller_heartbeat",
    path="/api/controller/heartbeat",
    method="POST",
    body=ModelInstance,
    action=ops.heartbeat,
    summary="Heartbeat of a model instance",
)
health_dag = api.flow(
    dag_id="controller_health",
    path="/api/health",
    method="GET",
    body=None,
    action=ops.health,
    summary="Controller health",
)
