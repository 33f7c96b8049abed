"""Running a role of ``awel start`` inside the test's process: its apps listening on
loopback, its manager announced to the controller (or to the process's own registry)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from server.cluster import ClusterSettings, role_apps, role_context
from server.settings import Settings


@asynccontextmanager
async def serving_role(
    role: str, settings: Settings, cluster: ClusterSettings
) -> AsyncIterator[None]:
    """``role``'s apps served on their ports for the block, announced once all listen."""
    async with role_context(role, settings, cluster) as announce:
        runners: list[web.AppRunner] = []
        try:
            for app, port in role_apps(role, settings):
                runner = web.AppRunner(app)
                await runner.setup()
                runners.append(runner)
                await web.TCPSite(runner, "127.0.0.1", port).start()
            await announce()
            yield
        finally:
            for runner in runners:
                await runner.cleanup()
