"""The API's documentation over HTTP: ``/openapi.json`` and a Swagger UI at ``/docs``.

The document describes the flows mounted *now* (see :mod:`server.openapi`), so it is made
from the current route table when asked for, and kept until a reload swaps the table.

Swagger UI comes from the ``swagger-ui-bundle`` package and is served from this process:
the machines the server runs on may have no internet, so a page loading it from a CDN would
be blank. The bundled Swagger UI is 4.x, which reads OpenAPI 3.0 (why the document is 3.0.3).
"""

from __future__ import annotations

import html
import tempfile
from pathlib import Path
from string import Template
from typing import Any

from aiohttp import web
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from awel.errors import SpecError

from .auth import configured_keys, document_keys
from .json import dumps
from .openapi import INFRA, build_document
from .routes import RouteTable

OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"
#: Where Swagger UI's files are served from.
STATIC_PATH = "/docs/static"

#: The folder of Swagger UI's files in the installed bundle.
SWAGGER_UI = Path(str(swagger_ui_path))


class _Cached:
    """The last document made, and the route table it was made from."""

    __slots__ = ("body", "table")

    def __init__(self) -> None:
        self.table: RouteTable | None = None
        self.body = b""


OPENAPI_CACHE = web.AppKey("openapi_cache", _Cached)


def setup_docs(app: web.Application) -> None:
    """Add ``/openapi.json``, ``/docs`` and Swagger UI's files to ``app``."""
    app[OPENAPI_CACHE] = _Cached()
    app.router.add_get(OPENAPI_PATH, openapi_json)
    app.router.add_get(DOCS_PATH, docs_page)
    app.router.add_static(STATIC_PATH, SWAGGER_UI, name="swagger-ui")


def _table(app: web.Application) -> RouteTable:
    # Imported here: server.app imports this module to install the routes.
    from .app import ROUTES

    return app[ROUTES].table


def app_document(app: web.Application, table: RouteTable | None = None) -> dict[str, Any]:
    """The OpenAPI document of ``app``: its flows' routes and its own (health, metrics...),
    and the keys they need when the app has any."""
    from .app import SETTINGS

    table = table if table is not None else _table(app)
    own = [
        path
        for resource in app.router.resources()
        if isinstance(path := resource.get_info().get("path"), str) and path in INFRA
    ]
    document = build_document(table.routes, infra=own)
    settings = app[SETTINGS]
    if configured_keys(settings.api_keys, settings.cluster_key):
        document_keys(document)
    return document


async def openapi_json(request: web.Request) -> web.Response:
    """The OpenAPI document of the flows mounted now."""
    app = request.app
    table = _table(app)
    cache = app[OPENAPI_CACHE]
    # Compared by identity: a reload makes a new table, and only a reload changes routes.
    if cache.table is not table:
        cache.body = dumps(app_document(app, table))
        cache.table = table
    return web.Response(
        body=cache.body,
        content_type="application/json",
        # The document follows the flows; a browser must not keep an old one.
        headers={"Cache-Control": "no-cache"},
    )


_PAGE = Template(
    """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>$title</title>
    <link rel="stylesheet" href="$static/swagger-ui.css">
    <link rel="icon" type="image/png" sizes="32x32" href="$static/favicon-32x32.png">
    <style>body { margin: 0; }</style>
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="$static/swagger-ui-bundle.js"></script>
    <script src="$static/swagger-ui-standalone-preset.js"></script>
    <script>
      window.addEventListener("load", function () {
        window.ui = SwaggerUIBundle({
          url: "$spec",
          dom_id: "#swagger-ui",
          deepLinking: true,
          presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
          layout: "StandaloneLayout",
          validatorUrl: null
        });
      });
    </script>
  </body>
</html>
"""
)


def docs_html(title: str = "AWEL API") -> str:
    """The Swagger UI page; every file it loads is served by this server.

    ``validatorUrl: null`` turns off the badge that would ask swagger.io to check the
    document.
    """
    return _PAGE.substitute(title=html.escape(title), static=STATIC_PATH, spec=OPENAPI_PATH)


async def docs_page(request: web.Request) -> web.Response:
    """Swagger UI, reading ``/openapi.json``."""
    return web.Response(text=docs_html(), content_type="text/html")


def flows_document(dags_dir: Path | None = None) -> dict[str, Any]:
    """The document ``awel serve`` would serve: the shipped flows, and ``dags_dir``'s.

    Without ``dags_dir`` only the shipped flows are documented, whatever the settings say,
    so the output does not depend on the folder it runs in. A user flow that fails to load
    raises :class:`~awel.errors.SpecError` with every problem.
    """
    from .app import FLOWS, make_app
    from .settings import Settings

    with tempfile.TemporaryDirectory() as empty:
        folder = dags_dir if dags_dir is not None else Path(empty)
        app = make_app(Settings.load(dags_dir=folder, reload=False))
        problems = [p for f in app[FLOWS].user for p in f.problems]
        if problems:
            raise SpecError(str(folder), problems)
        return app_document(app)
