"""The model-management routes' actions over this process's cluster (:mod:`.manage` takes
the cluster as an argument; these find the current one)."""

from __future__ import annotations

from typing import Any

from . import manage
from .state import current_cluster
from .types import WorkerStartupRequest


async def types(_: Any) -> list[str]:
    """Healthy language models."""
    return await manage.model_names(current_cluster())


async def supports(_: Any) -> list[dict[str, Any]]:
    """Models the managers could start."""
    return await manage.supported_models(current_cluster())


async def params(_: Any) -> list[dict[str, Any]]:
    return await manage.supported_models(current_cluster())


async def model_list(_: Any) -> list[dict[str, Any]]:
    return await manage.model_list(current_cluster())


async def stop(body: WorkerStartupRequest) -> bool:
    return await manage.stop_model(current_cluster(), body)


async def start(body: WorkerStartupRequest) -> bool:
    return await manage.start_model(current_cluster(), body)


async def health(_: Any) -> dict[str, str]:
    """The model serve API is up (DB-GPT's ``/api/v1/worker/health``)."""
    return {"status": "ok"}


async def liveness(_: Any) -> str:
    """DB-GPT's ``GET /api/v1/test``: the webserver is up."""
    return "service status is UP"
