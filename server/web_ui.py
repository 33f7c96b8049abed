"""DB-GPT's web UI at ``/``: a Next.js static export installed by ``awel ui install``.

The API keeps precedence: the UI answers only requests no route answers, from the app's
dispatcher (:func:`server.app.dispatch`), and only GET and HEAD outside the API's own
prefixes (``/api/``, ``/v1/``), so an unknown API path is still a JSON 404 and a DB-GPT
client never mistakes a page for an answer.

What a path answers, in order:

1. a file of the build (``/_next/static/...``, ``/favicon.ico``);
2. a page of the export, in either of Next's layouts: ``/chat`` and ``/chat/`` are
   ``chat/index.html`` (``trailingSlash``) or ``chat.html``;
3. a dynamic page: ``/construct/scheduled-tasks/7`` is ``.../[taskId]/index.html``;
4. for a browser asking for a page (``Accept: text/html``), the build's ``index.html``: a
   client-side route the export has no file for;
5. otherwise nothing, and the dispatcher answers its JSON 404.

The build's files are listed once, when the app is made: only a name on that list is ever
served, so no spelling of a path (``..``, encoded slashes, symlinks) reaches another file.
Assets under ``/_next/static/`` carry their content hash in their names and are cached for a
year; pages are revalidated on every load (``no-cache``, with aiohttp's ETag and
Last-Modified), so a new install is seen at once.

The UI's files are not secret, so with API keys set they stay open (``server.auth`` asks
:func:`is_ui_request`); the API calls the UI makes still need a key. DB-GPT's UIs send
none, so on a keyed server they load but their calls are refused (``docs/security.md``).

Without an installed UI (or with ``web_ui = off``), ``/`` answers a small page of our own
linking the API's documentation and the flow editor and saying how to install the UI.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from aiohttp import web

from .ui_install import choose_build

log = logging.getLogger("awel.server")

#: Paths the UI never answers: an unknown route there is the API's 404.
API_PREFIXES = ("/api/", "/v1/")
#: Content types by suffix, fixed here rather than read from the machine's mime.types, which
#: differs between systems (a ``.js`` served as text/plain is refused under nosniff).
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".wasm": "application/wasm",
    ".mp4": "video/mp4",
}
IMMUTABLE = "public, max-age=31536000, immutable"
#: Other files of the build (logos, icons): not content-hashed, so kept an hour.
SHORT = "public, max-age=3600"
#: Pages: always asked again (a 304 when unchanged).
REVALIDATE = "no-cache"
_DYNAMIC = re.compile(r"^\[{1,2}(\.\.\.)?[^/\]]+\]{1,2}$")


@dataclass
class Build:
    """An installed export's files, listed once: relative path -> file."""

    root: Path
    files: dict[str, Path] = field(default_factory=dict)
    #: Page routes (``chat``, ``construct/app``; ``""`` is the home page) -> their file.
    pages: dict[str, Path] = field(default_factory=dict)
    #: Dynamic pages: the route's segments (None where ``[param]``) and the file.
    dynamic: list[tuple[tuple[str | None, ...], Path]] = field(default_factory=list)

    @classmethod
    def scan(cls, root: Path) -> Build:
        build = cls(root.resolve())
        for path in sorted(build.root.rglob("*")):
            # rglob does not follow symlinked folders; a symlinked file is skipped here.
            if path.is_symlink() or not path.is_file():
                continue
            rel = path.relative_to(build.root).as_posix()
            if any(part.startswith(".") for part in rel.split("/")):
                continue
            build.files[rel] = path
            if rel.endswith(".html"):
                build._add_page(rel, path)
        # The most specific first: fewer parameters win.
        build.dynamic.sort(key=lambda d: sum(s is None for s in d[0]))
        return build

    def _add_page(self, rel: str, path: Path) -> None:
        if rel == "index.html":
            route = ""
        elif rel.endswith("/index.html"):
            route = rel.removesuffix("/index.html")
        else:
            route = rel.removesuffix(".html")
        segments = route.split("/") if route else []
        if any(_DYNAMIC.match(s) for s in segments):
            pattern = tuple(None if _DYNAMIC.match(s) else s for s in segments)
            self.dynamic.append((pattern, path))
        else:
            # Both layouts in one export: the folder's index.html wins.
            self.pages.setdefault(route, path)

    def find(self, path: str) -> tuple[Path, bool] | None:
        """The file ``path`` names and whether it is a page, or None."""
        segments = _segments(path)
        if segments is None:
            return None
        rel = "/".join(segments)
        if rel in self.files and not path.endswith("/"):
            return self.files[rel], rel.endswith(".html")
        if rel in self.pages:
            return self.pages[rel], True
        for pattern, file in self.dynamic:
            if len(pattern) == len(segments) and all(
                p is None or p == s for p, s in zip(pattern, segments, strict=True)
            ):
                return file, True
        return None

    @property
    def index(self) -> Path | None:
        return self.pages.get("")


def _segments(path: str) -> list[str] | None:
    """The path's segments, or None when one could name something outside the build."""
    parts = [p for p in path.split("/") if p]
    for part in parts:
        if part.startswith(".") or "\\" in part or "\x00" in part or ":" in part:
            return None
    return parts


class WebUI:
    """What the app answers at ``/`` and for paths no route takes: a build, or our page."""

    def __init__(self, build: Build | None, note: str, *, landing: bool = True) -> None:
        self.build = build
        self.note = note
        #: Whether ``/`` answers our own page when no build is served.
        self.landing = landing

    @classmethod
    def none(cls) -> WebUI:
        """Nothing at all: an app that is only an API (the model API's port)."""
        return cls(None, "", landing=False)

    @classmethod
    def load(cls, ui_dir: Path, wanted: str | None) -> WebUI:
        """The build ``wanted`` (``old``, ``new``, ``off``, None: whichever is installed)."""
        folder, note = choose_build(ui_dir, wanted)
        log.info("%s", note)
        return cls(Build.scan(folder) if folder is not None else None, note)

    def takes(self, request: web.Request) -> bool:
        """Whether the UI may answer ``request``: a GET or HEAD outside the API, anywhere
        when a build is served, else only ``/`` (our page)."""
        if request.method not in ("GET", "HEAD"):
            return False
        if self.build is None:
            return self.landing and request.path == "/"
        return not request.path.startswith(API_PREFIXES)

    async def answer(self, request: web.Request) -> web.StreamResponse | None:
        """The UI's answer to a request no route took, or None (the caller's 404)."""
        if not self.takes(request):
            return None
        if self.build is None:
            return web.Response(
                text=landing_page(self.note), content_type="text/html", headers=_HEADERS
            )
        found = self.build.find(request.path)
        if found is None and _wants_page(request):
            index = self.build.index
            found = (index, True) if index is not None else None
        if found is None:
            return None
        file, page = found
        return _file_response(file, page, request.path)


def _wants_page(request: web.Request) -> bool:
    # A browser navigating asks for text/html; scripts, styles and XHRs do not, so a
    # missing asset or API call stays a 404 instead of a page that breaks its parser.
    return "text/html" in request.headers.get("Accept", "")


_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


def _file_response(file: Path, page: bool, path: str) -> web.FileResponse:
    if page:
        cache = REVALIDATE
    elif path.startswith("/_next/static/"):
        cache = IMMUTABLE
    else:
        cache = SHORT
    ctype = CONTENT_TYPES.get(PurePosixPath(file.name).suffix.lower(), "application/octet-stream")
    headers = {**_HEADERS, "Content-Type": ctype, "Cache-Control": cache}
    return web.FileResponse(file, headers=headers)


_LANDING = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>awel</title>
  <style>
    body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto;
           padding: 0 1rem; }}
    code, pre {{ background: #f3f3f3; padding: 0 .25rem; }}
    pre {{ padding: .5rem; }}
  </style>
</head>
<body>
  <h1>awel</h1>
  <p>This server speaks DB-GPT's API.</p>
  <ul>
    <li><a href="/docs">API documentation</a> (Swagger UI; <a href="/openapi.json">OpenAPI</a>)</li>
    <li><a href="/flows">Flow editor</a></li>
  </ul>
  <h2>DB-GPT's web UI</h2>
  <p>{note}.</p>
  <p>To serve DB-GPT's own web UI here, install it from its <code>dbgpt-app</code> wheel and
  restart the server:</p>
  <pre>awel ui install
awel serve</pre>
  <p><code>awel serve --web-ui old|new|off</code> picks the older or the newer UI.</p>
</body>
</html>
"""


def landing_page(note: str) -> str:
    """Our own page at ``/`` when no DB-GPT UI is served."""
    return _LANDING.format(note=html.escape(note))


WEB_UI = web.AppKey("web_ui", WebUI)
