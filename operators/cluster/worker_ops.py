"""What the worker manager's routes do (``/api/worker/*``), over this process's manager.

Answers are DB-GPT's raw objects; generating streams ``ModelOutput`` dicts whose text is
cumulative. A process that runs no manager answers 503.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from awel import StreamifyAbsOperator

from .errors import NoWorkerManager
from .state import current_cluster
from .types import (
    CountTokenRequest,
    EmbeddingsRequest,
    ModelMetadataRequest,
    ParameterQuery,
    PromptRequest,
    WorkerApplyRequest,
    WorkerStartupRequest,
)
from .worker import WorkerManager, parameter_descriptions


def manager() -> WorkerManager:
    found = current_cluster().manager
    if found is None:
        raise NoWorkerManager()
    return found


class GenerateStream(StreamifyAbsOperator[PromptRequest, dict[str, Any]]):
    async def streamify(self, input_value: PromptRequest) -> AsyncIterator[dict[str, Any]]:
        async for chunk in manager().generate_stream(input_value):
            yield chunk


async def generate(body: PromptRequest) -> dict[str, Any]:
    """A model's whole answer."""
    return await manager().generate(body)


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
