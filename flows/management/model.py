"""``GET /api/v1/model/types`` (the healthy language models: the UI's model dropdown) and
``GET /api/v1/model/supports`` (what the worker managers could start), in the app ``Result``
envelope; and ``GET /api/v1/test``, DB-GPT's liveness string (no envelope)."""

from __future__ import annotations

from dataclasses import replace

from awel.trigger import ResponseKind
from flows._route import Api
from operators.cluster import manage_ops as ops

api = Api(
    tags=["Model"],
    response=ResponseKind.RESULT,
    errors="result",
    node=None,
    described_by_action=True,
)


types_dag = api.flow(
    dag_id="model_types",
    path="/api/v1/model/types",
    method="GET",
    body=None,
    action=ops.types,
    summary="Healthy language models",
)
supports_dag = api.flow(
    dag_id="model_supports",
    path="/api/v1/model/supports",
    method="GET",
    body=None,
    action=ops.supports,
    summary="Models the managers could start",
)
test_dag = replace(api, response=ResponseKind.JSON).flow(
    dag_id="api_test",
    path="/api/v1/test",
    method="GET",
    body=None,
    action=ops.liveness,
    summary="The webserver is up",
)
