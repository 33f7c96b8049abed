"""The flow editor in the browser: ``GET /flows`` (and ``/flows/{uid}``) and its assets.

The page is a client of the flow API (``/api/v1/serve/awel/...``): it lists and stores
flows, validates the YAML as it is typed, draws the graph and runs it through the debug
stream. Its script and stylesheet are built from ``editor/`` with esbuild at install time
(``make install``) into ``server/static/editor/`` and shipped in the package, so the page
needs no other host, which its Content-Security-Policy also enforces (``connect-src``,
``script-src`` and the rest are ``'self'``).

The page and its assets are static and hold no secret, so they stay open when API keys
are set (``server.auth``); the API calls they make carry the key the user enters, kept in
the browser's localStorage and sent only to this origin. The policy allows no inline script
and no framing, so neither injected markup nor another site can reach that key.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

#: The page, its client-side routes, and where its assets are served from.
PAGE_PATHS = ("/flows", "/flows/", "/flows/{uid}")
STATIC_PATH = "/flows/static"
#: The bundle ``make install`` builds (gitignored).
ASSETS = Path(__file__).resolve().parent / "static" / "editor"

#: No inline script, nothing from another host, never in a frame. Styles may be inline:
#: CodeMirror writes its own <style> elements, and no untrusted text is ever markup here.
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>AWEL flows</title>
  <link rel="stylesheet" href="/flows/static/editor.css">
  <script defer src="/flows/static/editor.js"></script>
</head>
<body>
  <header>
    <h1>AWEL flows</h1>
    <span id="flow-title" class="title">new flow</span>
    <button id="new-flow" type="button">New</button>
    <button id="save" type="button" title="Ctrl/Cmd-S">Save</button>
    <button id="deploy" type="button">Deploy</button>
    <select id="versions" aria-label="Versions"></select>
    <button id="rollback" type="button">Roll back</button>
    <button id="key-button" type="button">API key</button>
    <button id="theme" type="button" aria-label="Dark mode">◐</button>
  </header>
  <main>
    <nav>
      <h2>Flows</h2>
      <ul id="flow-list"></ul>
    </nav>
    <section id="editor-pane">
      <div id="editor"></div>
      <ul id="problems" aria-live="polite"></ul>
    </section>
    <section id="side">
      <div id="graph-wrap"><svg id="graph" role="img" aria-label="The flow's graph"></svg></div>
      <div id="run-pane">
        <h2>Run</h2>
        <textarea id="run-input" spellcheck="false"
          aria-label="Input (JSON)">{"name": "Alice"}</textarea>
        <div class="row">
          <button id="run" class="primary" type="button" title="Ctrl/Cmd-Enter">Run</button>
          <button id="call-trigger" type="button">Call deployed trigger</button>
        </div>
        <div id="run-log"></div>
        <h2>Result</h2>
        <pre id="result"></pre>
        <pre id="trigger-out"></pre>
      </div>
    </section>
  </main>
  <footer><span id="check"></span><span id="status"></span></footer>
  <dialog id="key-dialog">
    <form method="dialog">
      <p>API key for this server, kept in this browser (localStorage) and sent only to it.</p>
      <p id="key-reason"></p>
      <input id="key-input" type="password" autocomplete="off" aria-label="API key">
      <p>
        <button id="key-save" class="primary">Store</button>
        <button id="key-forget">Forget</button>
        <button id="key-cancel">Cancel</button>
      </p>
    </form>
  </dialog>
</body>
</html>
"""

_MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AWEL flows</title></head>
<body><p>The flow editor's assets are not built. Run <code>make install</code> (it runs
<code>npm ci</code> and esbuild in <code>editor/</code>), then reload this page.</p></body></html>
"""


def assets_built() -> bool:
    return (ASSETS / "editor.js").is_file() and (ASSETS / "editor.css").is_file()


async def editor_page(request: web.Request) -> web.Response:
    """The editor; every client-side route (``/flows/{uid}``) gets the same page."""
    if not assets_built():
        return web.Response(text=_MISSING, content_type="text/html", status=503, headers=HEADERS)
    return web.Response(text=_PAGE, content_type="text/html", headers=HEADERS)


def setup_editor(app: web.Application) -> None:
    """Add the editor page and its assets to ``app``."""
    for path in PAGE_PATHS:
        app.router.add_get(path, editor_page)
    if ASSETS.is_dir():
        # Unbuilt, the page itself says how to build the assets.
        app.router.add_static(STATIC_PATH, ASSETS, name="flow-editor")
