"""The aiohttp application: flows mounted at their routes, plus health, docs and metrics.

The server knows no feature. Each flow's ``HttpTrigger`` declares a route; one dispatch
handler looks the request's path up in the current :class:`~server.routes.RouteTable` and
hands it to that route. The table is swapped whole when user flows reload, so aiohttp's own
router (frozen once the app starts) is only used for the few infrastructure routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import anyio.to_thread
from aiohttp import web

from awel.trigger import TRIGGER_PREFIX

from .errors import ErrorStyle, error_response
from .flows import SHIPPED, FlowSet, flow_files
from .json import dumps
from .routes import RouteTable
from .settings import Settings

log = logging.getLogger("awel.server")


class Routes:
    """The current route table. App state is frozen once the app runs, so a reload swaps
    this holder's attribute: one assignment, atomic for every request that follows."""

    __slots__ = ("table",)

    def __init__(self, table: RouteTable) -> None:
        self.table = table


SETTINGS = web.AppKey("settings", Settings)
FLOWS = web.AppKey("flows", FlowSet)
ROUTES = web.AppKey("routes", Routes)


def make_app(
    settings: Settings | None = None, *, shipped: Iterable[Path] | None = None
) -> web.Application:
    """Build the webserver application.

    ``shipped`` lists the flow files that are part of the product (default: every flow in
    the ``flows/`` package); a problem in one of them stops start-up. User flows are read
    from ``settings.user_dags`` and reloaded when they change.
    """
    settings = settings or Settings()
    files = list(shipped) if shipped is not None else flow_files(SHIPPED, recursive=True)
    flows = FlowSet(shipped=files, user_dir=settings.user_dags, keepalive=settings.keepalive)
    flows.load_shipped()
    app = web.Application(client_max_size=settings.max_request_size)
    app[SETTINGS] = settings
    app[FLOWS] = flows
    app[ROUTES] = Routes(flows.load_user())

    app.router.add_get("/health", health)
    app.router.add_get(TRIGGER_PREFIX.replace("/trigger", "") + "/flows/errors", flow_errors)
    # Every flow route, and the answer to unknown paths and methods, goes through here.
    app.router.add_route("*", "/{tail:.*}", dispatch)
    if settings.reload:
        app.cleanup_ctx.append(_watch_user_flows)
    return app


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Find the flow route for the request and let it answer."""
    methods, params = request.app[ROUTES].table.match(request.path)
    if methods is None:
        return error_response(
            _style_for(request.path), 404, f"no route for {request.path}", code="not_found"
        )
    route = methods.get(request.method)
    if route is None:
        if request.method == "HEAD" and "GET" in methods:
            route = methods["GET"]
        else:
            allowed = ", ".join(sorted(methods))
            return error_response(
                _style_for(request.path),
                405,
                f"{request.method} is not allowed on {request.path}; use {allowed}",
                code="method_not_allowed",
                headers={"Allow": allowed},
            )
    return await route.handle(request, params)


def _style_for(path: str) -> ErrorStyle:
    if path.startswith(("/v1/", "/api/v2/chat/")):
        return ErrorStyle.OPENAI
    return ErrorStyle.SERVE_RESULT


async def health(request: web.Request) -> web.Response:
    return web.Response(body=dumps({"status": "ok"}), content_type="application/json")


async def flow_errors(request: web.Request) -> web.Response:
    """What failed to load among the user's flows (DB-GPT's serve ``Result`` envelope)."""
    errors = request.app[FLOWS].errors()
    body = {"success": True, "err_code": None, "err_msg": None, "data": errors}
    return web.Response(body=dumps(body), content_type="application/json")


async def reload_user_flows(app: web.Application) -> None:
    """Reload the user's flows (off the event loop) and swap the route table in."""
    table = await anyio.to_thread.run_sync(app[FLOWS].load_user)
    app[ROUTES].table = table
    log.info("user flows reloaded: %d routes", len(table.routes))


async def _watch_user_flows(app: web.Application) -> AsyncIterator[None]:
    directory = app[SETTINGS].user_dags
    directory.mkdir(parents=True, exist_ok=True)
    task = asyncio.create_task(_watch(app, directory))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _watch(app: web.Application, directory: Path) -> None:
    from watchfiles import awatch

    async for _changes in awatch(directory, debounce=200, step=50):
        try:
            await reload_user_flows(app)
        except Exception:
            log.exception("reloading user flows failed; still serving the previous ones")
