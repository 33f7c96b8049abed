"""The worker manager's other routes: embeddings, token counts, metadata, and starting and
stopping models (``/api/worker/*``, DB-GPT's raw answers, no envelope)."""

from __future__ import annotations

from functools import partial
from typing import Any

from flows._route import action_flow
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

_TAGS = ["Model worker"]


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


_flow = partial(action_flow, tags=_TAGS)


embeddings_dag = _flow(
    "worker_embeddings",
    "/api/worker/embeddings",
    "POST",
    EmbeddingsRequest,
    embeddings,
    "Embed texts",
)
count_token_dag = _flow(
    "worker_count_token",
    "/api/worker/count_token",
    "POST",
    CountTokenRequest,
    count_token,
    "Count a prompt's tokens",
)
metadata_dag = _flow(
    "worker_model_metadata",
    "/api/worker/model_metadata",
    "POST",
    ModelMetadataRequest,
    model_metadata,
    "A model's metadata",
)
apply_dag = _flow(
    "worker_apply",
    "/api/worker/apply",
    "POST",
    WorkerApplyRequest,
    apply,
    "Start, stop or restart a model",
)
descriptions_dag = _flow(
    "worker_parameter_descriptions",
    "/api/worker/parameter/descriptions",
    "GET",
    ParameterQuery,
    descriptions,
    "A model's deploy parameters",
)
supports_dag = _flow(
    "worker_models_supports",
    "/api/worker/models/supports",
    "GET",
    None,
    supports,
    "Models this manager could start",
)
startup_dag = _flow(
    "worker_models_startup",
    "/api/worker/models/startup",
    "POST",
    WorkerStartupRequest,
    startup,
    "Start a model",
)
shutdown_dag = _flow(
    "worker_models_shutdown",
    "/api/worker/models/shutdown",
    "POST",
    WorkerStartupRequest,
    shutdown,
    "Stop a model",
)
