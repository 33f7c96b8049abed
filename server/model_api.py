"""The OpenAI-compatible model API (DB-GPT's API server, port 8100) as an app of its own.

Its routes are the flows in ``flows/model_api``, mounted by the same :func:`make_app` as
the webserver's; this module adds what only this API has: Bearer API keys, and the model
set's lifecycle when the app runs alone (``awel serve`` loads one set for both apps).
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import AsyncIterator, Sequence

import anyio.to_thread
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from operators.models import ModelSet, installed_models, using_models

from .app import SETTINGS, make_app
from .docs import DOCS_PATH, OPENAPI_PATH
from .errors import ErrorStyle, error_response
from .flows import MODEL_API, flow_files
from .settings import Settings

#: Paths anyone may read when keys are set: probes and the API's own documentation.
_PUBLIC = frozenset({"/health", OPENAPI_PATH, DOCS_PATH})


def make_model_app(settings: Settings | None = None) -> web.Application:
    """Build the model API app: the model API's flows, no user flows.

    With ``settings.api_keys`` every route but health and the docs needs one of them as
    ``Authorization: Bearer <key>`` (or ``X-Api-Key``). When it starts and no model set is
    installed, it loads the settings' models and closes them when it stops.
    """
    settings = settings or Settings()
    app = make_app(
        settings,
        shipped=flow_files(MODEL_API, recursive=False),
        user_flows=False,
        error_style=ErrorStyle.OPENAI,
    )
    if settings.api_keys:
        app.middlewares.append(api_key_checker(settings.api_keys))
    app.cleanup_ctx.append(_model_set)
    return app


async def load_models(settings: Settings) -> ModelSet:
    """The settings' models, loaded off the event loop (a model takes seconds)."""
    load = functools.partial(
        ModelSet.load, settings.data_dir, names=settings.models, device=settings.device
    )
    return await anyio.to_thread.run_sync(load)


async def _model_set(app: web.Application) -> AsyncIterator[None]:
    if installed_models() is not None:
        # Someone else (awel serve, a test) owns the process's set.
        yield
        return
    async with using_models(await load_models(app[SETTINGS])):
        yield


def api_key_checker(keys: Sequence[str]) -> Middleware:
    """A middleware answering 401 (OpenAI's shape) unless the request carries a key."""
    known = [k.encode() for k in keys]

    @web.middleware
    async def check_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        # CORS preflights carry no credentials, by the browser's rules.
        if request.method == "OPTIONS" or path in _PUBLIC or path.startswith(DOCS_PATH + "/"):
            return await handler(request)
        given = _key_of(request)
        if given is None:
            message = "no API key given; send it as the header 'Authorization: Bearer <key>'"
        elif _matches(given.encode(), known):
            return await handler(request)
        else:
            message = "the API key is not valid"
        return error_response(ErrorStyle.OPENAI, 401, message, code="invalid_api_key")

    return check_api_key


def _key_of(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    # llama.cpp's servers accept this header too; so do some clients' configs.
    return request.headers.get("X-Api-Key") or None


def _matches(given: bytes, known: Sequence[bytes]) -> bool:
    # Every key is compared, in constant time each, so timing tells nothing about them.
    ok = False
    for key in known:
        ok |= hmac.compare_digest(given, key)
    return ok
