"""The process's place in the cluster: its registry and its worker manager.

Flows reach them through :func:`current_cluster`, as they reach models through
``current_models()``. The all-in-one server installs a local registry and a local manager
registered in it (no HTTP between them); a controller process installs only a registry; a
worker process a manager talking to a remote controller; the API server and a webserver
started with ``--controller-addr`` a :class:`~operators.cluster.client.ControllerClient`.
A process that installs nothing gets an empty local registry and an unregistered manager
over its model set, so the routes answer sensibly in tests and tools.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from .client import WorkerClient, http_session
from .errors import NoManagerAt
from .registry import ModelRegistry, Registry
from .types import MANAGER_KEY
from .worker import WorkerManager

__all__ = ["Cluster", "current_cluster", "install_cluster"]


@dataclass
class Cluster:
    """What this process knows of the cluster."""

    registry: Registry
    #: This process's own worker manager, if it has one.
    manager: WorkerManager | None = None
    session: aiohttp.ClientSession | None = None
    #: The cluster key, sent to other processes' worker managers.
    key: str | None = None

    def http(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            self.session = http_session(key=self.key)
        return self.session

    async def manager_at(self, host: str, port: int) -> WorkerManager | WorkerClient:
        """The worker manager at ``host:port``: ours (called in-process) or a remote one.

        An empty host picks this process's manager, or the only one registered.
        """
        local = self.manager
        if local is not None and (not host or (local.host == host and local.port == port)):
            return local
        managers = await self.registry.instances(MANAGER_KEY, healthy_only=True)
        if not host and len(managers) == 1:
            return WorkerClient(managers[0].address, self.http())
        for inst in managers:
            if inst.host == host and inst.port == port:
                return WorkerClient(inst.address, self.http())
        known = ", ".join(f"{m.host}:{m.port}" for m in managers) or "none"
        raise NoManagerAt(
            f"no worker manager runs at host '{host}' port {port}; running: {known}",
        )

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()


_current: Cluster | None = None
_default: Cluster | None = None


def current_cluster() -> Cluster:
    """The cluster installed for this process (a local, empty one when none is)."""
    global _default
    if _current is not None:
        return _current
    if _default is None:
        registry = ModelRegistry()
        _default = Cluster(registry, WorkerManager(registry, host="", port=0))
    return _default


def install_cluster(cluster: Cluster | None) -> Cluster | None:
    """Make ``cluster`` the process's; return the one it replaces."""
    global _current
    previous, _current = _current, cluster
    return previous
