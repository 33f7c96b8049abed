"""API keys: once any is configured, every route of the app needs one.

The keys are ``settings.api_keys`` plus ``settings.cluster_key`` (the key a model cluster's
processes send each other). A request carries one as ``Authorization: Bearer <key>``
(DB-GPT's clients, the OpenAI SDKs) or ``X-Api-Key: <key>``. Keys in the query string are
not read: they would end up in access logs and proxies' histories.

Only probes and the API's own documentation stay open. Which they are is decided by the
aiohttp resource the request was routed to, not by comparing path strings, so no spelling
of a path (``/docs/../metrics``, ``/health/``, encoded slashes) reaches a closed route
through an open one. With no key configured :func:`key_checker` is never installed: open
servers pay nothing per request.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .errors import ErrorStyle, error_response

#: The routes anyone may call when keys are set: health probes (the webserver's, the
#: controller's, which workers and load balancers poll, and the flow serve module's), the
#: API's documentation and the flow editor's static page (server/editor.py: it asks for the
#: key the API then needs). The flow serve module's /test_auth is not: it checks the key.
OPEN_PATHS = frozenset(
    {
        "/health",
        "/api/health",
        "/api/v1/serve/awel/health",
        "/api/v2/serve/awel/health",
        "/docs",
        "/openapi.json",
        "/flows",
        "/flows/",
        "/flows/{uid}",
    }
)
#: The dispatcher's resource (server.app): flows without an aiohttp route of their own, and
#: the web UI (server.web_ui) for what no flow answers.
CATCH_ALL = "/{tail}"
#: Swagger UI's own files, served under /docs/, and the flow editor's.
OPEN_PREFIXES = ("/docs/", "/flows/static/")

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def configured_keys(api_keys: Sequence[str], cluster_key: str | None) -> list[str]:
    """Every key the app accepts (none: the app is open)."""
    return [*api_keys, cluster_key] if cluster_key else list(api_keys)


def key_checker(
    keys: Sequence[str],
    style_of: Callable[[web.Request], ErrorStyle],
    is_public: Callable[[web.Request], bool] | None = None,
) -> Middleware:
    """A middleware answering 401 (in ``style_of(request)``'s shape) unless the request
    carries one of ``keys`` or is routed to an open resource.

    ``is_public`` says which requests to the catch-all no flow answers are the web UI's
    (``server.web_ui``): its static files, open like the flow editor's.
    """
    if not keys:
        raise ValueError("key_checker needs at least one key")
    digests = [_digest(k) for k in keys]

    @web.middleware
    async def check_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
        # CORS preflights carry no credentials, by the browser's rules; no flow can
        # declare OPTIONS, so this lets nothing run.
        if request.method == "OPTIONS" or _is_open(request):
            return await handler(request)
        if is_public is not None and _is_catch_all(request) and is_public(request):
            return await handler(request)
        given = key_of(request)
        if given is not None and _matches(_digest(given), digests):
            return await handler(request)
        if given is None:
            message = (
                "this server requires an API key; send it as the header"
                " 'Authorization: Bearer <key>' (or 'X-Api-Key: <key>')"
            )
        else:
            message = "the API key is not valid"
        return error_response(
            style_of(request),
            401,
            message,
            code="invalid_api_key",
            err_code="401",
            headers=_CHALLENGE,
        )

    return check_api_key


def document_keys(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (OpenAPI) saying that every operation but the open ones needs a key,
    so Swagger UI offers to send one ("Authorize") with its requests."""
    document.setdefault("components", {})["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
    }
    document["security"] = [{"bearer": []}, {"apiKey": []}]
    for path, item in document.get("paths", {}).items():
        if path in OPEN_PATHS:
            for operation in item.values():
                operation["security"] = []
    return document


def _is_open(request: web.Request) -> bool:
    resource = request.match_info.route.resource
    if resource is None:
        # aiohttp's own 404/405 answers: not a route of ours.
        return False
    canonical = resource.canonical
    # The catch-all's canonical form is its pattern ('/{tail}'), so user flows that reuse an
    # open path through it are never open; a static resource's is its prefix.
    return canonical in OPEN_PATHS or (canonical + "/").startswith(OPEN_PREFIXES)


def _is_catch_all(request: web.Request) -> bool:
    resource = request.match_info.route.resource
    return resource is not None and resource.canonical == CATCH_ALL


def key_of(request: web.Request) -> str | None:
    """The key the request carries, if any."""
    headers = request.headers
    auth = headers.get("Authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token:
            return token
    return headers.get("X-Api-Key") or None


def _digest(key: str) -> bytes:
    # Compared as digests, so the time taken does not even depend on the keys' lengths.
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


def _matches(given: bytes, known: Sequence[bytes]) -> bool:
    # Every key is compared, each in constant time, so timing tells nothing about them.
    ok = False
    for key in known:
        ok |= hmac.compare_digest(given, key)
    return ok
