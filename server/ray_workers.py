"""Model replicas as Ray actors: ``awel start worker --ray --model NAME --replicas N``.

Each replica is a Ray actor that runs what ``awel start worker`` runs (the worker routes,
DB-GPT's ``/api/worker/*``, on its own port, its models loaded, heartbeats to the
controller), so the controller, the API server, the webserver and DB-GPT's clients route to
it through the protocol they already speak: a replica is one more instance.

This process is the supervisor. Every heartbeat interval it asks each actor to be started
(``ensure_started``, which answers the actor's pid). Ray restarts an actor that dies (its
process killed, its machine lost), without limit; the restarted actor starts its worker
again at the next round, which registers it again (same host and port: the same entry,
healthy again). Meanwhile the call to a dead actor fails, and the supervisor marks its
instances unhealthy at once, so the controller stops routing to it before its heartbeats
would have expired (requests that had not started streaming go to another replica, see
operators/cluster/remote.py).

Ray is the optional extra (``pip install 'awel[ray]'``); ``--ray-address`` says where the
cluster is (``auto``, ``local``, ``ray://HOST:PORT``; see :func:`awel.executor.start_ray`).
Replica ``i`` listens on ``--port`` + ``i`` on the host of the Ray node it is placed on,
which must be reachable from the controller's side (``--host 0.0.0.0 --register-host``
on real machines; tests bind 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

from aiohttp import web

from awel.executor import require_ray
from operators.cluster.client import ControllerClient

from .cluster import ClusterSettings, role_apps, role_context
from .settings import Settings

__all__ = ["Replica", "ReplicaSet", "run_replicas"]

log = logging.getLogger("awel.cluster")


class Replica:
    """A Ray actor: one standalone worker (its apps and its models), started on demand."""

    def __init__(self, settings_json: str, cluster: ClusterSettings) -> None:
        self.settings_json = settings_json
        self.cluster = cluster
        self.stack: contextlib.AsyncExitStack | None = None
        self.lock: asyncio.Lock | None = None

    async def ensure_started(self) -> int:
        """Start the worker if it is not running (after a restart too); the pid."""
        if self.lock is None:
            self.lock = asyncio.Lock()
        async with self.lock:
            if self.stack is None:
                self.stack = await self._start()
        return os.getpid()

    async def _start(self) -> contextlib.AsyncExitStack:
        settings = Settings.model_validate_json(self.settings_json)
        stack = contextlib.AsyncExitStack()
        try:
            announce = await stack.enter_async_context(
                role_context("worker", settings, self.cluster)
            )
            for app, port in role_apps("worker", settings):
                runner = web.AppRunner(app, handler_cancellation=True)
                await runner.setup()
                stack.push_async_callback(runner.cleanup)
                await web.TCPSite(runner, settings.host, port).start()
            await announce()
        except BaseException:
            await stack.aclose()
            raise
        return stack

    async def stop(self) -> None:
        """Stop the worker cleanly: it deregisters from the controller."""
        if self.stack is not None:
            stack, self.stack = self.stack, None
            await stack.aclose()


class ReplicaSet:
    """N replicas of a worker's settings as Ray actors, kept registered (see the module)."""

    def __init__(
        self,
        settings: Settings,
        cluster: ClusterSettings,
        *,
        replicas: int,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
    ) -> None:
        if replicas < 1:
            raise ValueError("--replicas is 1 or more")
        if not cluster.controller_addr:
            raise ValueError("replicas register with a controller: give --controller-addr")
        self.cluster = cluster
        self.settings = [
            settings.model_copy(update={"port": settings.port + i}) for i in range(replicas)
        ]
        ray = require_ray()
        options: dict[str, Any] = {"max_restarts": -1}
        if num_cpus is not None:
            options["num_cpus"] = num_cpus
        if num_gpus is not None:
            options["num_gpus"] = num_gpus
        actor = ray.remote(Replica).options(**options)
        self.ray = ray
        self.actors = [actor.remote(s.model_dump_json(), cluster) for s in self.settings]
        self.pids: list[int | None] = [None] * replicas
        self.controller = ControllerClient(cluster.controller_addr, key=settings.cluster_key)

    async def check(self, timeout: float = 120.0) -> list[int | None]:
        """One round: every replica started (or marked unhealthy); their pids."""
        await asyncio.gather(*(self._check(i, timeout) for i in range(len(self.actors))))
        return list(self.pids)

    async def _check(self, i: int, timeout: float) -> None:
        try:
            pid = await asyncio.wait_for(self.actors[i].ensure_started.remote(), timeout)
        except (self.ray.exceptions.RayError, TimeoutError) as exc:
            if self.pids[i] is not None:
                log.warning("replica %d is down (%s): marking it unhealthy", i, type(exc).__name__)
            self.pids[i] = None
            await self._mark_unhealthy(self.settings[i].port)
            return
        if self.pids[i] != pid:
            log.info("replica %d serves on port %d (pid %d)", i, self.settings[i].port, pid)
        self.pids[i] = pid

    async def _mark_unhealthy(self, port: int) -> None:
        with contextlib.suppress(Exception):
            for inst in await self.controller.instances(healthy_only=True):
                if inst.port == port:
                    await self.controller.deregister(inst.model_name, inst.host, inst.port)

    async def run(self, stop: asyncio.Event) -> None:
        """Check every heartbeat interval until ``stop`` is set."""
        while not stop.is_set():
            await self.check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.cluster.heartbeat_interval)

    async def aclose(self) -> None:
        """Stop every replica cleanly, then end the actors."""
        for actor in self.actors:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(actor.stop.remote(), 30)
            with contextlib.suppress(Exception):
                self.ray.kill(actor)
        await self.controller.aclose()


async def run_replicas(
    settings: Settings,
    cluster: ClusterSettings,
    *,
    replicas: int,
    num_gpus: float | None = None,
    ready: Callable[[list[int | None]], None] | None = None,
) -> None:
    """Supervise ``replicas`` actors until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    group = ReplicaSet(settings, cluster, replicas=replicas, num_gpus=num_gpus)
    try:
        pids = await group.check()
        if ready is not None:
            ready(pids)
        await group.run(stop)
    finally:
        await group.aclose()
