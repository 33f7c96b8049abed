"""The worker manager's other routes: embeddings, token counts, metadata, and starting and
stopping models (``/api/worker/*``, DB-GPT's raw answers, no envelope)."""

from __future__ import annotations

from typing import Any

from flows._route import Api
from flows.worker.generate import manager
from operators.cluster.types import (
    CountTokenRequest,
    EmbeddingsRequest,
    ModelMetadataRequest,
    ParameterQuery,
    WorkerApplyRequest,
    WorkerStartupRequest,
)
from operators.cluster.worker import parameter_descriptions

api = Api(tags=["Model worker"])


async def embeddings(body: EmbeddingsRequest) -> list[list[float]]:
    return await manager().embeddings(body)


async def count_token(body: CountTokenRequest) -> int:
    return await manager().count_token(body)


async def model_metadata(body: ModelMetadataRequest) -> dict[str, Any]:
    return (await manager().model_metadata(body)).model_dump(mode="json")


async def apply(body: WorkerApplyRequest) -> dict[str, Any]:
    return (await manager().apply(body)).model_dump(mode="json")


async def descriptions(query: ParameterQuery) -> list[dict[str, Any]]:
    return [
        p.model_dump(mode="json") for p in parameter_descriptions(query.model, query.worker_type)
    ]


async def supports(_: Any) -> list[dict[str, Any]]:
    found = manager()
    models = [m.model_dump(mode="json") for m in found.supported()]
    return [{"host": found.host, "port": found.port, "models": models}]


async def startup(body: WorkerStartupRequest) -> None:
    await manager().startup(body)


async def shutdown(body: WorkerStartupRequest) -> None:
    await manager().shutdown(body)


embeddings_dag = api.flow(
    dag_id="worker_embeddings",
    path="/api/worker/embeddings",
    method="POST",
    body=EmbeddingsRequest,
    action=embeddings,
    summary="Embed texts",
)
count_token_dag = api.flow(
    dag_id="worker_count_token",
    path="/api/worker/count_token",
    method="POST",
    body=CountTokenRequest,
    action=count_token,
    summary="Count a prompt's tokens",
)
metadata_dag = api.flow(
    dag_id="worker_model_metadata",
    path="/api/worker/model_metadata",
    method="POST",
    body=ModelMetadataRequest,
    action=model_metadata,
    summary="A model's metadata",
)
apply_dag = api.flow(
    dag_id="worker_apply",
    path="/api/worker/apply",
    method="POST",
    body=WorkerApplyRequest,
    action=apply,
    summary="Start, stop or restart a model",
)
descriptions_dag = api.flow(
    dag_id="worker_parameter_descriptions",
    path="/api/worker/parameter/descriptions",
    method="GET",
    body=ParameterQuery,
    action=descriptions,
    summary="A model's deploy parameters",
)
supports_dag = api.flow(
    dag_id="worker_models_supports",
    path="/api/worker/models/supports",
    method="GET",
    body=None,
    action=supports,
    summary="Models this manager could start",
)
startup_dag = api.flow(
    dag_id="worker_models_startup",
    path="/api/worker/models/startup",
    method="POST",
    body=WorkerStartupRequest,
    action=startup,
    summary="Start a model",
)
shutdown_dag = api.flow(
    dag_id="worker_models_shutdown",
    path="/api/worker/models/shutdown",
    method="POST",
    body=WorkerStartupRequest,
    action=shutdown,
    summary="Stop a model",
)
