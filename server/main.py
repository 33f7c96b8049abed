"""Running the server process: logging, the aiohttp runner, graceful shutdown, reload."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from aiohttp import web

from awel.errors import AwelError

from .app import make_app
from .settings import Settings

log = logging.getLogger("awel.server")

_PROJECT = Path(__file__).resolve().parent.parent


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM, then let in-flight requests finish.

    A client that disconnects cancels its request's flow run (``handler_cancellation``), so
    a model or a query stops working for nobody.
    """
    configure_logging()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        app = make_app(settings)
    except AwelError as exc:
        log.error("cannot start: %s", exc)
        raise SystemExit(1) from None
    log.info(
        "serving on http://%s:%d (data in %s, user flows in %s)",
        settings.host,
        settings.port,
        settings.data_dir.resolve(),
        settings.user_dags.resolve(),
    )
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        access_log=logging.getLogger("awel.access") if settings.access_log else None,
        shutdown_timeout=settings.shutdown_timeout,
        handler_cancellation=True,
        print=None,
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
