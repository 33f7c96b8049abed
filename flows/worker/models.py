"""The worker manager's other routes: embeddings, token counts, metadata, and starting and
stopping models (``/api/worker/*``, DB-GPT's raw answers, no envelope)."""

from __future__ import annotations

from flows._route import Api
from operators.cluster import worker_ops as ops
from operators.cluster.types import (
    CountTokenRequest,
    EmbeddingsRequest,
    ModelMetadataRequest,
    ParameterQuery,
    WorkerApplyRequest,
    WorkerStartupRequest,
)

api = Api(tags=["Model worker"])


embeddings_dag = api.flow(
    dag_id="worker_embeddings",
    path="/api/worker/embeddings",
    method="POST",
    body=EmbeddingsRequest,
    action=ops.embeddings,
    summary="Embed texts",
)
count_token_dag = api.flow(
    dag_id="worker_count_token",
    path="/api/worker/count_token",
    method="POST",
    body=CountTokenRequest,
    action=ops.count_token,
    summary="Count a prompt's tokens",
)
metadata_dag = api.flow(
    dag_id="worker_model_metadata",
    path="/api/worker/model_metadata",
    method="POST",
    body=ModelMetadataRequest,
    action=ops.model_metadata,
    summary="A model's metadata",
)
apply_dag = api.flow(
    dag_id="worker_apply",
    path="/api/worker/apply",
    method="POST",
    body=WorkerApplyRequest,
    action=ops.apply,
    summary="Start, stop or restart a model",
)
descriptions_dag = api.flow(
    dag_id="worker_parameter_descriptions",
    path="/api/worker/parameter/descriptions",
    method="GET",
    body=ParameterQuery,
    action=ops.descriptions,
    summary="A model's deploy parameters",
)
supports_dag = api.flow(
    dag_id="worker_models_supports",
    path="/api/worker/models/supports",
    method="GET",
    body=None,
    action=ops.supports,
    summary="Models this manager could start",
)
startup_dag = api.flow(
    dag_id="worker_models_startup",
    path="/api/worker/models/startup",
    method="POST",
    body=WorkerStartupRequest,
    action=ops.startup,
    summary="Start a model",
)
shutdown_dag = api.flow(
    dag_id="worker_models_shutdown",
    path="/api/worker/models/shutdown",
    method="POST",
    body=WorkerStartupRequest,
    action=ops.shutdown,
    summary="Stop a model",
)
