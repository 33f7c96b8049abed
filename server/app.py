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
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path

import anyio.to_thread
from aiohttp import web

from awel.catalog import (
    Guard,
    install_flows,
    install_folder,
    install_mounts,
    installed_flows,
    installed_folder,
    installed_mounts,
)
from awel.dag import DAG
from awel.errors import Problem
from awel.variables import install_variables, installed_variables
from operators.agents.hub import HubSource, configure_hub
from operators.agents.installs import agents_running
from operators.datasource.sandbox import allow_privileged_logins
from operators.datasource.summaries import summaries_running
from operators.knowledge.current import knowledge_running
from operators.storage import current_store, open_store
from operators.userflows.policy import allow_flow_code
from operators.userflows.variables import StoredVariables

from . import heap
from .auth import configured_keys, key_checker
from .cors import enable_cors, mount_dispatch
from .docs import setup_docs
from .editor import setup_editor
from .errors import ErrorStyle, error_response
from .flows import FLOW_ERRORS_PATH, FlowSet, Mounted, webserver_flow_files
from .json import dumps
from .metrics import UNMATCHED, Metrics
from .origins import OriginGuard
from .routes import RouteConflict, RouteTable
from .settings import Settings
from .web_ui import WEB_UI, WebUI

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
    web_ui: bool = True,
) -> web.Application:
    """Build the webserver application.

    ``shipped`` lists the flow files that are part of the product (default: every flow in
    the ``flows/`` package but the model API's); a problem in one of them stops start-up.
    With ``user_flows``, the user's flows are read from ``settings.user_dags`` and reloaded
    when they change. ``error_style`` is the shape of the app's own 404 and 405 answers
    (default: by path, DB-GPT's envelope but OpenAI's under its routes). With ``web_ui``
    the app answers what no route takes with DB-GPT's web UI, or ``/`` with our own page
    (:mod:`server.web_ui`).
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
    allow_flow_code(settings.flow_api_code)
    # aiohttp's own cap, for bodies that declare no size: the largest any route takes. Each
    # route holds its own limit under it (Route.bind), so a 413 names the route's setting.
    app = web.Application(client_max_size=max(settings.max_json_body, settings.max_upload_size))
    if keys := configured_keys(settings.api_keys, settings.cluster_key):
        # Only when keys are set: an open server pays nothing per request for the check.
        app.middlewares.append(key_checker(keys, route_style, is_ui_request))
    app[SETTINGS] = settings
    app[FLOWS] = flows
    app[METRICS] = Metrics() if settings.metrics else None
    app[ERROR_STYLE] = error_style
    app[ROUTES] = Routes(flows.load_user())
    app[TABLE_LOCK] = asyncio.Lock()
    # DB-GPT's web UI at / (or our own page there): what no route answers (server/web_ui.py).
    app[WEB_UI] = WebUI.load(settings.web_ui_dir, settings.web_ui) if web_ui else WebUI.none()
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
    app.cleanup_ctx.append(_flow_variables)
    if user_flows:
        app.cleanup_ctx.append(_agents)
        app.cleanup_ctx.append(_user_folder)
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
        # No route: the web UI's file or page, if it has one (GET and HEAD off the API).
        page = await request.app[WEB_UI].answer(request)
        if page is not None:
            return page
        label = UNMATCHED
        resp = error_response(_style_for(request), 404, f"no route for {path}", code="not_found")
    else:
        route = methods.get(request.method)
        if route is None and request.method == "HEAD":
            route = methods.get("GET")
        if route is not None:
            return await route.answer(request, params)
        known = next(iter(methods.values()))
        label = known.path
        allowed = ", ".join(sorted(methods))
        # In the style of the route at that path: an app route's 405 carries host_name too.
        resp = error_response(
            known.style,
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


def is_ui_request(request: web.Request) -> bool:
    """Whether ``request`` goes to the web UI (no route takes it), which needs no key: its
    files are public, and the API calls it makes are checked as any other."""
    if not request.app[WEB_UI].takes(request):
        return False
    methods, _ = request.app[ROUTES].table.match(request.path)
    return methods is None


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

    async def mount(self, group: str, dags: Sequence[DAG], *, guard: Guard | None = None) -> None:
        flows = self.app[FLOWS]
        async with self.app[TABLE_LOCK]:
            previous = flows.mounted.get(group)
            flows.mounted[group] = Mounted(list(dags), guard)
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


class AppFolder:
    """The user's flows folder as this app serves it (:class:`awel.catalog.FlowFolder`):
    the flow API deploys by writing a file here, and the app reloads the folder at once
    instead of waiting for the watcher, so a deploy answers once its trigger serves."""

    def __init__(self, app: web.Application, directory: Path) -> None:
        self.app = app
        self.directory = directory

    @property
    def path(self) -> Path:
        return self.directory

    async def put(self, file_name: str, text: str | None) -> list[Problem]:
        flows = self.app[FLOWS]
        target = self.directory / file_name
        async with self.app[TABLE_LOCK]:
            before = _problem_keys(flows)
            old = await anyio.to_thread.run_sync(_read_or_none, target)
            await anyio.to_thread.run_sync(_place, target, text)
            table = await anyio.to_thread.run_sync(flows.load_user)
            # The file's own problems, and any it caused another file (a route it took).
            new = [
                p
                for f in flows.user
                for p in f.problems
                if f.path == target or (str(f.path), p.code, p.message) not in before
            ]
            if new:
                await anyio.to_thread.run_sync(_place, target, old)
                table = await anyio.to_thread.run_sync(flows.load_user)
            _swap(self.app, table)
        heap.refreeze()
        return new

    def problems(self) -> dict[str, list[Problem]]:
        return {f.path.name: list(f.problems) for f in self.app[FLOWS].user if f.problems}


def _problem_keys(flows: FlowSet) -> set[tuple[str, str, str]]:
    return {(str(f.path), p.code, p.message) for f in flows.user for p in f.problems}


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _place(path: Path, content: str | bytes | None) -> None:
    """Write ``content`` as ``path`` whole (a reader never sees half a file), or remove it."""
    if content is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # A leading dot: the folder's loader and watcher-triggered reloads skip it.
    staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        staging.write_bytes(data)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


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


async def _flow_variables(app: web.Application) -> AsyncIterator[None]:
    """The stored variables, what flows' ``${key:name}`` references resolve to."""
    provider = StoredVariables()
    previous = install_variables(provider)
    yield
    if installed_variables() is provider:
        install_variables(previous)


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
            current_store(),
            s.data_dir / "agents",
            trusted=s.agent_trusted_sources,
            params=s.agent_params,
            trusted_keys=s.agent_trusted_keys,
        ):
            yield
    finally:
        if installed_mounts() is mounts:
            install_mounts(previous)


async def _user_folder(app: web.Application) -> AsyncIterator[None]:
    """The user's flows folder, where the flow API deploys, while the app runs."""
    directory = app[FLOWS].user_dir
    assert directory is not None
    folder = AppFolder(app, directory)
    previous = install_folder(folder)
    yield
    if installed_folder() is folder:
        install_folder(previous)


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
