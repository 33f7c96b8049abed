"""Running the server process: logging, the aiohttp runners, graceful shutdown, reload.

One process serves two apps: the webserver (DB-GPT's API, ``port``) and the OpenAI-compatible
model API (``model_api_port``, unless 0). They share one model set, loaded before either
listens and closed after both have stopped, and one in-process model cluster (registry and
worker manager). ``awel start`` runs the same loop for one role of a real cluster
(``server/cluster.py``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from awel.errors import AwelError

from .cluster import ClusterSettings, role_apps, role_context
from .connections import ConnectionLimits, GuardedRunner
from .settings import Settings

log = logging.getLogger("awel.server")

_PROJECT = Path(__file__).resolve().parent.parent


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run(
    settings: Settings, *, role: str = "all-in-one", cluster: ClusterSettings | None = None
) -> None:
    """Serve until SIGINT or SIGTERM, then let in-flight requests finish.

    A client that disconnects cancels its request's flow run (``handler_cancellation``), so
    a model or a query stops working for nobody.
    """
    configure_logging()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        apps = role_apps(role, settings)
    except AwelError as exc:
        log.error("cannot start: %s", exc)
        raise SystemExit(1) from None
    with asyncio.Runner(loop_factory=loop_factory(settings)) as runner:
        try:
            runner.run(serve(settings, apps, role=role, cluster=cluster))
        except AwelError as exc:  # a resource refused to open (an unsafe key file ...)
            log.error("cannot start: %s", exc)
            raise SystemExit(1) from None


def loop_factory(settings: Settings) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when the settings ask for it and it is installed, else asyncio's."""
    if settings.uvloop:
        try:
            import uvloop
        except ImportError:
            log.info("uvloop is not installed: running on asyncio's event loop")
        else:
            log.info("event loop: uvloop")
            return uvloop.new_event_loop
    return None


async def serve(
    settings: Settings,
    apps: list[tuple[web.Application, int]],
    *,
    role: str = "all-in-one",
    cluster: ClusterSettings | None = None,
) -> None:
    """Run ``apps`` on their ports until a stop signal; then stop them both gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    access_log = logging.getLogger("awel.access") if settings.access_log else None
    async with role_context(role, settings, cluster or ClusterSettings()) as announce:
        runners: list[web.AppRunner] = []
        # One count for every port: the cap is on the process's connections.
        limits = connection_limits(settings)
        try:
            for app, port in apps:
                runner = make_runner(app, settings, limits, access_log=access_log)
                await runner.setup()
                runners.append(runner)
                await web.TCPSite(runner, settings.host, port, backlog=settings.backlog).start()
            await announce()
            _log_serving(settings, role)
            await stop.wait()
            log.info("stopping: letting in-flight requests finish")
        finally:
            # Both at once: each waits up to shutdown_timeout for its requests.
            await asyncio.gather(*(r.cleanup() for r in runners), return_exceptions=True)


def connection_limits(settings: Settings) -> ConnectionLimits:
    return ConnectionLimits(
        max_connections=settings.max_connections, head_timeout=settings.request_head_timeout
    )


def make_runner(
    app: web.Application,
    settings: Settings,
    limits: ConnectionLimits,
    *,
    access_log: logging.Logger | None = None,
) -> web.AppRunner:
    """The runner of one app as the server runs it: connections capped and head-timed
    (``server/connections.py``), idle keep-alives closed after ``keepalive_timeout``, and a
    client that leaves cancelling its request's handler."""
    return GuardedRunner(
        app,
        limits=limits,
        access_log=access_log,
        shutdown_timeout=settings.shutdown_timeout,
        handler_cancellation=True,
        keepalive_timeout=settings.keepalive_timeout,
    )


def _log_serving(settings: Settings, role: str = "all-in-one") -> None:
    keyed = bool(settings.api_keys or settings.cluster_key)
    keys = "API keys required" if keyed else "no API key required"
    if role != "all-in-one":
        log.info("%s serving on http://%s:%d (%s)", role, settings.host, settings.port, keys)
        return
    log.info(
        "serving on http://%s:%d (data in %s, user flows in %s; %s)",
        settings.host,
        settings.port,
        settings.data_dir.resolve(),
        settings.user_dags.resolve(),
        keys,
    )
    if settings.model_api_port:
        log.info(
            "model API (OpenAI-compatible) on http://%s:%d/api/v1 (%s)",
            settings.host,
            settings.model_api_port,
            keys,
        )


def _serve_child(settings_json: str) -> None:
    run(Settings.model_validate_json(settings_json))


def run_reloading(settings: Settings) -> None:
    """Run the server in a child process and restart it when project code changes."""
    from watchfiles import PythonFilter, run_process

    configure_logging()
    watched = [_PROJECT / name for name in ("awel", "operators", "flows", "server")]
    log.info("reloading on changes under %s", ", ".join(str(p) for p in watched))
    run_process(
        *[p for p in watched if p.exists()],
        target=_serve_child,
        args=(settings.model_dump_json(),),
        watch_filter=PythonFilter(),
    )
