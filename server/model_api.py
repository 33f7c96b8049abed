"""The OpenAI-compatible model API (DB-GPT's API server, port 8100) as an app of its own.

Its routes are the flows in ``flows/model_api``, mounted by the same :func:`make_app` as
the webserver's; this module adds what only this API has: OpenAI's error shape for its own
404 and 405, and the model set's lifecycle when the app runs alone (``awel serve`` loads one
set for both apps).
API keys are checked by every app alike (:mod:`server.auth`).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import anyio.to_thread
from aiohttp import web

from operators.admission import QueueLimits
from operators.models import ModelSet, installed_models, using_models

from .app import SETTINGS, make_app
from .errors import ErrorStyle
from .flows import MODEL_API, flow_files
from .settings import Settings


def make_model_app(settings: Settings | None = None) -> web.Application:
    """Build the model API app: the model API's flows, no user flows.

    With ``settings.api_keys`` every route but health and the docs needs one of them, as on
    every app (:mod:`server.auth`). When it starts and no model set is installed, it loads
    the settings' models and closes them when it stops.
    """
    settings = settings or Settings()
    app = make_app(
        settings,
        shipped=flow_files(MODEL_API, recursive=False),
        user_flows=False,
        error_style=ErrorStyle.OPENAI,
        web_ui=False,
    )
    app.cleanup_ctx.append(_model_set)
    return app


async def load_models(settings: Settings) -> ModelSet:
    """The settings' models, loaded off the event loop (a model takes seconds), their
    queues bounded as the settings say."""
    load = functools.partial(
        ModelSet.load, settings.data_dir, names=settings.models, device=settings.device
    )
    models = await anyio.to_thread.run_sync(load)
    models.limit_queues(queue_limits(settings))
    return models


def queue_limits(settings: Settings) -> QueueLimits:
    return QueueLimits(max_queued=settings.max_queued_requests, max_wait=settings.max_queue_wait)


async def _model_set(app: web.Application) -> AsyncIterator[None]:
    if installed_models() is not None:
        # Someone else (awel serve, a test) owns the process's set.
        yield
        return
    async with using_models(await load_models(app[SETTINGS])):
        yield
