"""The controller's registry of model instances: registration, heartbeats, expiry, choice.

An instance is one worker key (``smollm2@llm``) at one ``host:port``; the registry keeps at
most one entry per ``(key, host, port)``. An instance whose heartbeats stop for longer than
``heartbeat_timeout`` (and that asked to be checked) is marked unhealthy; it is never
deleted unless it deregisters with ``remove_from_registry``.

Expiry is worked out when the registry is read rather than by a checker thread on a timer
(DB-GPT's way): every listing and every choice sees the state as of that moment, so an
instance is unhealthy exactly ``heartbeat_timeout`` after its last heartbeat, whatever the
check interval would have been.

    >>> registry = ModelRegistry(heartbeat_timeout=2.0)
    >>> await registry.register(ModelInstance(model_name="smollm2@llm", host="h", port=1))
    ...  # doctest: +SKIP
    >>> (await registry.select("smollm2@llm")).port  # doctest: +SKIP
    1
"""

from __future__ import annotations

import datetime
import itertools
import time
from dataclasses import dataclass
from typing import Protocol

from .types import ModelInstance

__all__ = ["ModelRegistry", "Registry"]


class Registry(Protocol):
    """What flows and workers need of a controller, local or across HTTP."""

    async def register(self, instance: ModelInstance) -> bool: ...

    async def heartbeat(self, instance: ModelInstance) -> bool: ...

    async def deregister(
        self, model_name: str, host: str, port: int, *, remove_from_registry: bool = False
    ) -> bool: ...

    async def instances(
        self, model_name: str | None = None, *, healthy_only: bool = False
    ) -> list[ModelInstance]: ...


@dataclass(slots=True)
class _Entry:
    instance: ModelInstance
    #: time.monotonic() of the last registration or heartbeat (wall clocks jump).
    seen: float


class ModelRegistry:
    """An in-memory registry: the controller's, and the all-in-one process's."""

    def __init__(self, *, heartbeat_timeout: float = 60.0) -> None:
        if heartbeat_timeout <= 0:
            raise ValueError("heartbeat_timeout must be positive")
        self.heartbeat_timeout = heartbeat_timeout
        self._entries: dict[tuple[str, str, int], _Entry] = {}
        self._turn = itertools.count()

    async def register(self, instance: ModelInstance) -> bool:
        """Add an instance, or refresh the one at the same key, host and port."""
        self._touch(instance, full=True)
        return True

    async def heartbeat(self, instance: ModelInstance) -> bool:
        """The instance is alive (an unknown one is registered)."""
        self._touch(instance, full=False)
        return True

    def _touch(self, instance: ModelInstance, *, full: bool) -> None:
        ident = (instance.model_name, instance.host, instance.port)
        now = datetime.datetime.now()
        entry = self._entries.get(ident)
        if entry is None:
            stored = instance.model_copy(
                update={"healthy": True, "last_heartbeat": now, "remove_from_registry": False}
            )
            self._entries[ident] = _Entry(stored, time.monotonic())
            return
        update: dict[str, object] = {"healthy": True, "last_heartbeat": now}
        if full:
            update.update(
                weight=instance.weight,
                prompt_template=instance.prompt_template,
                enabled=instance.enabled,
                check_healthy=instance.check_healthy,
            )
        entry.instance = entry.instance.model_copy(update=update)
        entry.seen = time.monotonic()

    async def deregister(
        self, model_name: str, host: str, port: int, *, remove_from_registry: bool = False
    ) -> bool:
        """Mark the instance unhealthy, or drop it with ``remove_from_registry``."""
        ident = (model_name, host, port)
        entry = self._entries.get(ident)
        if entry is None:
            return True
        if remove_from_registry:
            del self._entries[ident]
        else:
            entry.instance = entry.instance.model_copy(update={"healthy": False})
        return True

    async def instances(
        self, model_name: str | None = None, *, healthy_only: bool = False
    ) -> list[ModelInstance]:
        """Instances of one key (every key for None), healthy ones only if asked."""
        self._expire()
        return [
            e.instance
            for e in self._entries.values()
            if (model_name is None or e.instance.model_name == model_name)
            and (e.instance.healthy or not healthy_only)
        ]

    async def select(self, model_name: str) -> ModelInstance | None:
        """A healthy, enabled instance of the key, taking turns among them; None if none."""
        usable = [i for i in await self.instances(model_name, healthy_only=True) if i.enabled]
        if not usable:
            return None
        return usable[next(self._turn) % len(usable)]

    def _expire(self) -> None:
        limit = time.monotonic() - self.heartbeat_timeout
        for entry in self._entries.values():
            inst = entry.instance
            if inst.healthy and inst.check_healthy and entry.seen < limit:
                entry.instance = inst.model_copy(update={"healthy": False})
