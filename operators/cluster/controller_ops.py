"""What the controller's routes do, over the registry of this process's cluster.

Bodies and answers are DB-GPT's raw objects: ``true`` for writes, ``ModelInstance`` dicts
for the listing.
"""

from __future__ import annotations

from typing import Any

from .state import current_cluster
from .types import DeregisterQuery, ListQuery, ModelInstance


async def register(instance: ModelInstance) -> bool:
    """Register a model instance."""
    return await current_cluster().registry.register(instance)


async def heartbeat(instance: ModelInstance) -> bool:
    """A model instance is alive."""
    return await current_cluster().registry.heartbeat(instance)


async def deregister(query: DeregisterQuery) -> bool:
    """Deregister a model instance."""
    return await current_cluster().registry.deregister(
        query.model_name,
        query.host,
        query.port,
        remove_from_registry=query.remove_from_registry,
    )


async def list_instances(query: ListQuery) -> list[dict[str, Any]]:
    """List model instances."""
    found = await current_cluster().registry.instances(
        query.model_name or None, healthy_only=query.healthy_only
    )
    return [i.model_dump(mode="json") for i in found]


async def health(_: Any) -> dict[str, str]:
    """The controller is up."""
    return {"status": "ok"}
