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
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path

import anyio.to_thread
from aiohttp import web

from awel.catalog import install_flows, install_mounts, installed_flows, installed_mounts
from awel.dag import DAG
from operators.agents.hub import HubSource, configure_hub
from operators.agents.installs import agents_running
from operators.datasource.sandbox import allow_privileged_logins
from operators.datasource.summaries import summaries_running
from operators.knowledge.current import knowledge_running
from operators.storage import current_store, open_store

from . import heap
from .auth import configured_keys, key_checker
from .cors import enable_cors, mount_dispatch
from .docs import setup_docs
from .editor import setup_editor
from .errors import ErrorStyle, error_response
from .flows import FLOW_ERRORS_PATH, FlowSet, webserver_flow_files
from .json import dumps
from .metrics import UNMATCHED, Metrics
from .origins import OriginGuard
from .routes import RouteConflict, RouteTable
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
#: The shape of the app's 404 and 405 answers; None: chosen by path.
ERROR_STYLE: web.AppKey[ErrorStyle | None] = web.AppKey("error_style")
#: The app's metrics; None when ``settings.metrics`` is off.
METRICS: web.AppKey[Metrics | None] = web.AppKey("metrics")
#: Held while the route table is rebuilt (a reload, a mount), so no rebuild misses another's.
TABLE_LOCK = web.AppKey("table_lock", asyncio.Lock)


def make_app(
    settings: Settings | None = None,
    *,
    shipped: Iterable[Path] | None = None,
    user_flows: bool = True,
    error_style: ErrorStyle | None = None,
) -> web.Application:
    """Build the webserver application.

    ``shipped`` lists the flow files that are part of the product (default: every flow in
    the ``flows/`` package but the model API's); a problem in one of them stops start-up.
    With ``user_flows``, the user's flows are read from ``settings.user_dags`` and reloaded
    when they change. ``error_style`` is the shape of the app's own 404 and 405 answers
    (default: by path, DB-GPT's envelope but OpenAI's under its routes).
    """
    settings = settings or Settings()
    files = list(shipped) if shipped is not None else webserver_flow_files()
    flows = FlowSet(
        shipped=files,
        user_dir=settings.user_dags if user_flows else None,
        keepalive=settings.keepalive,
    )
    flows.load_shipped()
    allow_privileged_logins(settings.allow_privileged_datasources)
    # aiohttp's own cap, for bodies that declare no size: the largest any route takes. Each
    # route holds its own limit under it (Route.bind), so a 413 names the route's setting.
    app = web.Application(client_max_size=max(settings.max_json_body, settings.max_upload_size))
    if keys := configured_keys(settings.api_keys, settings.cluster_key):
        # Only when keys are set: an open server pays nothing per request for the check.
        app.middlewares.append(key_checker(keys, route_style))
    app[SETTINGS] = settings
    app[FLOWS] = flows
    app[METRICS] = Metrics() if settings.metrics else None
    app[ERROR_STYLE] = error_style
    app[ROUTES] = Routes(flows.load_user())
    app[TABLE_LOCK] = asyncio.Lock()
    _observe_flows(app)
    _bind(app, app[ROUTES].table)

    app.router.add_get("/health", health)
    app.router.add_get(FLOW_ERRORS_PATH, flow_errors)
    setup_docs(app)
    setup_editor(app)
    if (metrics := app[METRICS]) is not None:
        app.router.add_get("/metrics", metrics.handle)
    _mount_shipped(app)
    # Every other flow route, and the answer to unknown paths and methods, goes through here.
    mount_dispatch(app, "/{tail:.*}", dispatch, cors=bool(settings.cors_origins))
    if settings.cors_origins:
        # After every route: CORS covers the routes registered so far.
        enable_cors(app, settings.cors_origins)
    app.cleanup_ctx.append(_metadata_store)
    app.cleanup_ctx.append(_callable_flows)
    if user_flows:
        app.cleanup_ctx.append(_agents)
    if (metrics := app[METRICS]) is not None:
        app.cleanup_ctx.append(metrics.folding)
    if settings.reload and user_flows:
        app.cleanup_ctx.append(_watch_user_flows)
    # After the cleanup contexts (aiohttp runs those first): models and stores are loaded,
    # and what start-up made stays out of the collector's way (server.heap).
    app.on_startup.append(_freeze_heap)
    return app


async def _freeze_heap(app: web.Application) -> None:
    heap.freeze()


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Find the flow route for the request and let it answer; 404 and 405 in JSON."""
    started = time.perf_counter()
    path = request.path
    methods, params = request.app[ROUTES].table.match(path)
    if methods is None:
        label = UNMATCHED
        resp = error_response(_style_for(request), 404, f"no route for {path}", code="not_found")
    else:
        route = methods.get(request.method)
        if route is None and request.method == "HEAD":
            route = methods.get("GET")
        if route is not None:
            return await route.answer(request, params)
        label = next(iter(methods.values())).path
        allowed = ", ".join(sorted(methods))
        resp = error_response(
            _style_for(request),
            405,
            f"{request.method} is not allowed on {path}; use {allowed}",
            code="method_not_allowed",
            headers={"Allow": allowed},
        )
    metrics = request.app[METRICS]
    if metrics is not None:
        metrics.request_done(label, request.method, resp.status, time.perf_counter() - started)
    return resp


def _mount_shipped(app: web.Application) -> None:
    """Give the shipped flows' plain paths aiohttp routes of their own.

    They never change while the server runs, and aiohttp finds a plain path in its index
    faster than it walks a path back to the catch-all (about 2 us a request). User flows,
    which reload, and paths with parameters stay with the catch-all and the route table.
    """
    shipped = {id(dag) for f in app[FLOWS].shipped for dag in f.dags}
    for route in app[ROUTES].table.routes:
        if id(route.dag) not in shipped or "{" in route.path:
            continue

        # The route's own method: no wrapper coroutine per request.
        handler = route.answer
        for method in sorted(route.methods):
            if method == "GET":
                app.router.add_get(route.path, handler)
            else:
                app.router.add_route(method, route.path, handler)


def route_style(request: web.Request) -> ErrorStyle:
    """The error style of the route that would answer ``request`` (its app's otherwise)."""
    methods, _ = request.app[ROUTES].table.match(request.path)
    if methods:
        route = methods.get(request.method) or next(iter(methods.values()))
        return route.style
    return _style_for(request)


def _style_for(request: web.Request) -> ErrorStyle:
    style = request.app[ERROR_STYLE]
    if style is not None:
        return style
    path = request.path
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
    async with app[TABLE_LOCK]:
        table = await anyio.to_thread.run_sync(app[FLOWS].load_user)
        _swap(app, table)
    # The flows just replaced may be frozen, and flows are full of reference cycles.
    heap.refreeze()
    log.info("user flows reloaded: %d routes", len(table.routes))


def _swap(app: web.Application, table: RouteTable) -> None:
    """Serve ``table`` from the next request on; requests already answering keep theirs."""
    _observe_flows(app)
    _bind(app, table)
    app[ROUTES].table = table


class AppMounts:
    """Flows the domain mounts while the app runs (:class:`awel.catalog.FlowMounts`): each
    change rebuilds the route table and swaps it in, as a reload of the user's flows does."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    async def mount(self, group: str, dags: Sequence[DAG]) -> None:
        flows = self.app[FLOWS]
        async with self.app[TABLE_LOCK]:
            previous = flows.mounted.get(group)
            flows.mounted[group] = list(dags)
            try:
                table = flows.table()
            except RouteConflict:
                if previous is None:
                    del flows.mounted[group]
                else:
                    flows.mounted[group] = previous
                raise
            _swap(self.app, table)

    async def unmount(self, group: str) -> None:
        flows = self.app[FLOWS]
        async with self.app[TABLE_LOCK]:
            if flows.mounted.pop(group, None) is not None:
                _swap(self.app, flows.table())


def _bind(app: web.Application, table: RouteTable) -> None:
    """Tell each route where requests are counted, how large a body may be and which
    other origins may send it state-changing requests."""
    settings = app[SETTINGS]
    origins = OriginGuard(settings.cors_origins)
    for route in table.routes:
        route.bind(app[METRICS], settings.max_json_body, settings.max_upload_size)
        route.origins = origins


def _observe_flows(app: web.Application) -> None:
    """Hand freshly loaded flows to the metrics (node timing, load gauges), if any."""
    metrics = app[METRICS]
    if metrics is not None:
        flows = app[FLOWS]
        metrics.watch(flows.dags(), load_errors=len(flows.errors()))


async def _metadata_store(app: web.Application) -> AsyncIterator[None]:
    """The metadata database (datasources, dialogues, knowledge), open while the app runs,
    with what works on it in the background: schema summaries and document syncs, both
    stopped before the store closes."""
    s = app[SETTINGS]
    async with (
        open_store(
            s.metadata_db,
            data_dir=s.data_dir,
            secret_key=s.secret_key,
            datasource_roots=s.datasource_roots,
        ) as store,
        summaries_running(),
        knowledge_running(
            store, pgvector_url=s.pgvector_url, allow_private_urls=s.allow_private_urls
        ),
    ):
        yield


async def _callable_flows(app: web.Application) -> AsyncIterator[None]:
    """The user's flows, callable by id while the app runs (chat_flow finds them there)."""
    flows = app[FLOWS]
    previous = install_flows(flows)
    yield
    # Another app of the process may have installed its own since: leave that one.
    if installed_flows() is flows:
        install_flows(previous)


def _configure_hub(where: str | None) -> None:
    """The hub a sync with no source reads: a folder, a git URL, or (None) the shipped one."""
    if where:
        configure_hub(HubSource("local" if Path(where).is_dir() else "git", where))


async def _agents(app: web.Application) -> AsyncIterator[None]:
    """Installed agents, their flows mounted into this app while it runs."""
    s = app[SETTINGS]
    _configure_hub(s.agent_hub)
    mounts = AppMounts(app)
    previous = install_mounts(mounts)
    try:
        async with agents_running(
            current_store(), s.data_dir / "agents", trusted=s.agent_trusted_sources
        ):
            yield
    finally:
        if installed_mounts() is mounts:
            install_mounts(previous)


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
