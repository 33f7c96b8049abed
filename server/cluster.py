"""The cluster's processes: which apps each role serves and what it sets up around them.

- all-in-one (``awel serve``): the webserver (with the controller, worker and management
  routes) and the model API; a local registry; local engines, with one worker manager
  registered in-process.
- ``controller``: the controller routes and a local registry; no models.
- ``worker``: the worker routes; the controller's registry over HTTP; local engines of
  ``--model``.
- ``apiserver``: the model API; the controller's registry; remote models (each request
  goes to a healthy worker).
- ``webserver``: the webserver without worker routes; the controller's registry; remote
  models.

The all-in-one process runs the same flows as a real cluster; only the registry and the
models are in-process objects instead of HTTP clients, so nothing hops over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from operators.cluster.client import ControllerClient
from operators.cluster.registry import ModelRegistry, Registry
from operators.cluster.remote import RemoteModelSet, remote_set
from operators.cluster.state import Cluster, install_cluster
from operators.cluster.worker import WorkerManager
from operators.models import using_models

from . import heap
from .app import make_app
from .flows import SHIPPED, flow_files, webserver_flow_files
from .model_api import load_models, make_model_app
from .settings import Settings

__all__ = [
    "ClusterSettings",
    "advertised_host",
    "all_in_one",
    "controller_app",
    "remote_models",
    "role_context",
    "webserver_app",
    "worker_app",
]

CONTROLLER_FLOWS = SHIPPED / "controller"
WORKER_FLOWS = SHIPPED / "worker"


@dataclass(frozen=True)
class ClusterSettings:
    """How a process takes part in the cluster (DB-GPT's defaults: 20 s and 60 s)."""

    controller_addr: str | None = None
    heartbeat_interval: float = 20.0
    heartbeat_timeout: float = 60.0
    #: The host other processes should call (default: the bind host, or this machine's
    #: address when binding every interface).
    register_host: str | None = None


def advertised_host(bind: str, given: str | None = None) -> str:
    """The address to register: ``given``, the bind host, or the machine's address."""
    if given:
        return given
    if bind not in ("", "0.0.0.0", "::"):
        return bind
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


#: Called once the role's apps listen: a worker registers only when it can be called.
Announce = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


@contextlib.asynccontextmanager
async def _managing(manager: WorkerManager) -> AsyncIterator[Announce]:
    try:
        yield manager.start
    finally:
        await manager.stop()


@contextlib.asynccontextmanager
async def all_in_one(settings: Settings, cluster: ClusterSettings) -> AsyncIterator[Announce]:
    """The default process: local models, a local registry, and a worker manager at the
    webserver's address registered in it."""
    registry = ModelRegistry(heartbeat_timeout=cluster.heartbeat_timeout)
    async with using_models(await load_models(settings)):
        manager = _manager(settings, cluster, registry)
        cluster_state = Cluster(registry, manager, key=settings.cluster_key)
        async with _installed(cluster_state), _managing(manager) as announce:
            yield announce


def _manager(settings: Settings, cluster: ClusterSettings, registry: Registry) -> WorkerManager:
    return WorkerManager(
        registry,
        host=advertised_host(settings.host, cluster.register_host),
        port=settings.port,
        data_dir=settings.data_dir,
        device=settings.device,
        heartbeat_interval=cluster.heartbeat_interval,
        # A model the manager stops was frozen with the rest of start-up: let it go.
        on_model_dropped=heap.refreeze,
    )


@contextlib.asynccontextmanager
async def _installed(cluster: Cluster) -> AsyncIterator[Cluster]:
    previous = install_cluster(cluster)
    try:
        yield cluster
    finally:
        install_cluster(previous)
        await cluster.aclose()


@contextlib.asynccontextmanager
async def remote_models(
    registry: Registry, *, refresh: float, key: str | None = None
) -> AsyncIterator[RemoteModelSet]:
    """A model set over the cluster (its workers called with ``key``), kept current by a
    background refresh."""
    models = remote_set(registry, ttl=refresh, key=key)
    with contextlib.suppress(Exception):
        await models.refresh()
    task = asyncio.create_task(models.run(), name="awel-model-refresh")
    try:
        async with using_models(models):
            yield models
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _controller(cluster: ClusterSettings, key: str | None) -> ControllerClient:
    if not cluster.controller_addr:
        raise ValueError("this role needs the controller's address (--controller-addr URL)")
    return ControllerClient(cluster.controller_addr, key=key)


@contextlib.asynccontextmanager
async def role_context(
    role: str, settings: Settings, cluster: ClusterSettings
) -> AsyncIterator[Announce]:
    """What a role sets up before its apps listen and tears down after they stop; it
    gives what to call once they listen. Every HTTP client it makes sends the settings'
    cluster key."""
    key = settings.cluster_key
    if role == "all-in-one":
        async with all_in_one(settings, cluster) as announce:
            yield announce
        return
    if role == "controller":
        registry = ModelRegistry(heartbeat_timeout=cluster.heartbeat_timeout)
        async with _installed(Cluster(registry, key=key)):
            yield _nothing
        return
    client = _controller(cluster, key)
    try:
        if role == "worker":
            async with using_models(await load_models(settings)):
                manager = _manager(settings, cluster, client)
                cluster_state = Cluster(client, manager, key=key)
                async with _installed(cluster_state), _managing(manager) as announce:
                    yield announce
        elif role in ("apiserver", "webserver"):
            # The cache of instances lives about one heartbeat: long enough to spare the
            # controller a request per answer, short enough to follow the cluster.
            refresh = min(1.0, cluster.heartbeat_interval)
            async with (
                remote_models(client, refresh=refresh, key=key),
                _installed(Cluster(client, key=key)),
            ):
                yield _nothing
        else:
            raise ValueError(f"unknown role '{role}'")
    finally:
        await client.aclose()


def controller_app(settings: Settings) -> web.Application:
    """The controller's routes alone."""
    return make_app(
        settings,
        shipped=flow_files(CONTROLLER_FLOWS, recursive=False),
        user_flows=False,
        web_ui=False,
    )


def worker_app(settings: Settings) -> web.Application:
    """A standalone worker: the worker manager's routes."""
    return make_app(
        settings,
        shipped=flow_files(WORKER_FLOWS, recursive=False),
        user_flows=False,
        web_ui=False,
    )


def webserver_app(settings: Settings) -> web.Application:
    """A webserver of a cluster: every webserver flow but the worker routes (its models are
    remote)."""
    files = [f for f in webserver_flow_files() if not f.is_relative_to(WORKER_FLOWS)]
    return make_app(settings, shipped=files)


def role_apps(role: str, settings: Settings) -> list[tuple[web.Application, int]]:
    """The apps a role serves, with their ports."""
    if role == "controller":
        return [(controller_app(settings), settings.port)]
    if role == "worker":
        return [(worker_app(settings), settings.port)]
    if role == "apiserver":
        return [(make_model_app(settings), settings.port)]
    if role == "webserver":
        return [(webserver_app(settings), settings.port)]
    apps = [(make_app(settings), settings.port)]
    if settings.model_api_port:
        apps.append((make_model_app(settings), settings.model_api_port))
    return apps
