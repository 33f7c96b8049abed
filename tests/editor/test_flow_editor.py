"""The flow editor (``GET /flows``) in headless Chromium, against the live app.

Debian's ``chromium`` driven by Playwright (no browser download; ``make install`` installs
it). Each step saves a screenshot under ``tests/editor/screenshots/`` (gitignored) so a
person can look at what the test saw.

Chromium is a system package: without it (``make install`` installs it when run as root)
these tests skip, saying so. The page's assets are our build: missing, they fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from playwright import async_api as playwright

from server.editor import CSP, assets_built
from tests.server.conftest import running

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent / "screenshots"
Client = TestClient[web.Request, web.Application]

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is missing (make install installs it)"
    ),
    pytest.mark.timeout(120),
]

HELLO = """\
name: editor.hello
trigger: {}
nodes:
  greet:
    op: awel.format
    params:
      template: "Hello, {{ name }}"
edges:
  - trigger >> greet
"""

STREAMING = """\
name: editor.stream
trigger: {}
nodes:
  items: {op: awel.split}
  up: {op: awel.map, params: {expr: "x | upper"}}
  all: {op: awel.reduce, params: {expr: "a ~ b", initial: ""}}
edges:
  - trigger >> items >> up >> all
"""


def test_the_editors_assets_are_built() -> None:
    # Our build, not the machine's: a missing bundle is a failure, never a skip.
    assert assets_built(), "server/static/editor is not built: `make install` builds it"


@asynccontextmanager
async def editor(tmp_path: Path, **settings: Any) -> AsyncIterator[tuple[Any, Client, list[str]]]:
    """The app, and a browser page on its ``/flows``; the third item collects every URL
    the page asked for."""
    async with (
        running(tmp_path, **settings) as client,
        playwright.async_playwright() as p,
    ):
        browser = await p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            yield page, client, requested
        finally:
            await browser.close()


async def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"))


async def open_editor(page: Any, client: Client, path: str = "/flows") -> None:
    await page.goto(str(client.make_url(path)))
    await page.wait_for_function("() => window.awelEditor && window.awelEditor.view")


async def set_text(page: Any, text: str) -> None:
    """Replace the document, then wait for its validation."""
    before = await validations(page)
    await page.evaluate(
        """(text) => { const v = window.awelEditor.view;
        v.dispatch({changes: {from: 0, to: v.state.doc.length, insert: text}}); }""",
        text,
    )
    await page.wait_for_function(f"() => Number(document.body.dataset.validations || 0) > {before}")


async def validations(page: Any) -> int:
    return int(await page.evaluate("Number(document.body.dataset.validations || 0)"))


async def select_text(page: Any, needle: str) -> None:
    """Select the first occurrence of ``needle`` in the editor, so typing replaces it."""
    await page.evaluate(
        """(needle) => { const v = window.awelEditor.view;
        const at = v.state.doc.toString().indexOf(needle);
        v.dispatch({selection: {anchor: at, head: at + needle.length}}); v.focus(); }""",
        needle,
    )


async def graph_nodes(page: Any) -> list[str]:
    return list(
        await page.eval_on_selector_all("#graph g.node", "gs => gs.map(g => g.dataset.node)")
    )


async def test_edit_break_fix_and_run_a_flow(tmp_path: Path) -> None:
    async with editor(tmp_path) as (page, client, requested):
        resp = await page.goto(str(client.make_url("/flows")))
        assert resp.status == 200
        assert resp.headers["content-security-policy"] == CSP
        await page.wait_for_function("() => window.awelEditor && window.awelEditor.view")
        await set_text(page, HELLO)
        await page.wait_for_selector("#check[data-ok='true']")
        assert await graph_nodes(page) == ["trigger", "greet"]
        await shot(page, "01-open")

        # Break it by typing: the operator's name, on line 5.
        await select_text(page, "awel.format")
        before = await validations(page)
        await page.keyboard.type("awel.formt")
        await page.wait_for_function(f"() => Number(document.body.dataset.validations) > {before}")
        # On a loaded machine a check of a half-typed name may answer first: wait for the
        # one of the whole name.
        await page.wait_for_function(
            """() => [...document.querySelectorAll('#problems li')]
                .some(l => l.textContent.includes("'awel.formt'"))"""
        )
        await page.wait_for_selector("#check[data-ok='false']")
        problems = await page.eval_on_selector_all(
            "#problems li", "ls => ls.map(l => l.textContent)"
        )
        assert problems == [
            "line 5: node 'greet': unknown operator 'awel.formt'; did you mean 'awel.format'?"
        ]
        # The marker sits on line 5 of the editor, under the operator's name.
        marked = await page.evaluate(
            """() => { const v = window.awelEditor.view;
            const m = document.querySelector('.cm-lintRange-error');
            return m && v.state.doc.lineAt(v.posAtDOM(m)).number; }"""
        )
        assert marked == 5
        assert await page.is_visible("#graph g.node.problem[data-node='greet']")
        await shot(page, "02-broken")

        # Fix it, and add a node: the drawing follows.
        await select_text(page, "awel.formt")
        await page.keyboard.type("awel.format")
        await page.wait_for_selector("#check[data-ok='true']")
        await set_text(
            page,
            HELLO.replace(
                "edges:\n  - trigger >> greet\n",
                '  shout:\n    op: awel.map\n    params: {expr: "x | upper"}\n'
                "edges:\n  - trigger >> greet >> shout\n",
            ),
        )
        await page.wait_for_selector("#check[data-ok='true']")
        assert await graph_nodes(page) == ["trigger", "greet", "shout"]
        await shot(page, "03-fixed")

        # A node in the drawing jumps to its YAML.
        await page.click("#graph g.node[data-node='shout']")
        line = await page.evaluate(
            "() => { const v = window.awelEditor.view;"
            " return v.state.doc.lineAt(v.state.selection.main.head).number; }"
        )
        assert line == 8

        # Run it (Ctrl-Enter in the editor): each node's output, then the result.
        await page.fill("#run-input", json.dumps({"name": "Alice"}))
        await page.click(".cm-content")
        await page.keyboard.press("Control+Enter")
        await page.wait_for_selector("#result[data-kind='ok']")
        assert await page.text_content("#result") == "HELLO, ALICE"
        rows = await page.eval_on_selector_all(
            "#run-log .run-node",
            "rs => rs.map(r => [r.dataset.node, r.dataset.state,"
            " r.querySelector('.output').textContent])",
        )
        assert rows == [
            ["trigger", "done", json.dumps({"name": "Alice"}, indent=2)],
            ["greet", "done", "Hello, Alice"],
            ["shout", "done", "HELLO, ALICE"],
        ]
        assert await page.is_visible("#graph g.node.done[data-node='shout']")
        await shot(page, "04-run")

        # Dark mode.
        await page.click("#theme")
        assert await page.evaluate("document.documentElement.dataset.theme") in ("dark", "light")
        await shot(page, "05-theme")
        origin = str(client.make_url("/")).rstrip("/")
    # Nothing but this server was asked for anything.
    assert requested
    assert all(url.startswith(origin + "/") for url in requested), requested


async def test_a_run_streams_items_and_names_the_failing_node(tmp_path: Path) -> None:
    async with editor(tmp_path) as (page, client, _):
        await open_editor(page, client)
        await set_text(page, STREAMING)
        await page.wait_for_selector("#check[data-ok='true']")
        await page.fill("#run-input", '["a", "b"]')
        await page.click("#run")
        await page.wait_for_selector("#result[data-kind='ok']")
        up = await page.text_content("#run-log [data-node='up'] .output")
        assert up == "AB"
        assert await page.text_content("#result") == "AB"
        await shot(page, "06-stream")

        failing = HELLO.replace(
            "edges:\n  - trigger >> greet\n",
            "  parse: {op: awel.json_parse}\nedges:\n  - trigger >> greet >> parse\n",
        )
        await set_text(page, failing)
        await page.fill("#run-input", json.dumps({"name": "Bo"}))
        await page.click("#run")
        await page.wait_for_selector("#result[data-kind='error']")
        assert (await page.text_content("#result") or "").startswith("node 'parse' failed:")
        state = await page.get_attribute("#run-log [data-node='parse']", "data-state")
        assert state == "error"
        assert await page.is_visible("#graph g.node.error[data-node='parse']")
        await shot(page, "07-node-error")


async def test_completion_offers_operators_and_their_params(tmp_path: Path) -> None:
    async with editor(tmp_path) as (page, client, _):
        await open_editor(page, client)
        await set_text(page, HELLO)
        await page.wait_for_function("() => window.awelEditor.catalogue.ops.size > 10")
        await select_text(page, "awel.format")
        await page.keyboard.type("awel.for")
        await page.keyboard.press("Control+Space")
        await page.wait_for_selector(".cm-tooltip-autocomplete")
        options = await page.eval_on_selector_all(
            ".cm-tooltip-autocomplete li", "ls => ls.map(l => l.textContent)"
        )
        assert any(o.startswith("awel.format") for o in options)
        await page.keyboard.press("Escape")
        await select_text(page, "awel.for")
        await page.keyboard.type("awel.format")
        await page.keyboard.press("Escape")
        # A parameter of the node's operator, on a new line of its params block.
        await select_text(page, '      template: "Hello, {{ name }}"')
        await page.keyboard.press("End")
        await page.keyboard.press("Enter")
        await page.keyboard.type("te")
        await page.keyboard.press("Control+Space")
        await page.wait_for_selector(".cm-tooltip-autocomplete")
        options = await page.eval_on_selector_all(
            ".cm-tooltip-autocomplete li", "ls => ls.map(l => l.textContent)"
        )
        assert any(o.startswith("template") for o in options)
        await shot(page, "08-completion")


async def test_the_page_asks_for_the_api_key_and_sends_it(tmp_path: Path) -> None:
    async with editor(tmp_path, api_keys=["s3cret"]) as (page, client, _):
        resp = await page.goto(str(client.make_url("/flows")))
        # The page and its assets are open; the API is not.
        assert resp.status == 200
        await page.wait_for_selector("#key-dialog[open]")
        await shot(page, "09-key")
        await page.fill("#key-input", "s3cret")
        await page.click("#key-save")
        await page.wait_for_selector("#check[data-ok='true']")
        stored = await page.evaluate("localStorage.getItem('awel.apiKey')")
        assert stored == "s3cret"
        api = await client.post("/api/v1/serve/awel/flow/validate", json={"yaml": HELLO})
        assert api.status == 401


async def test_unknown_client_route_serves_the_page(tmp_path: Path) -> None:
    async with running(tmp_path) as client:
        for path in ("/flows", "/flows/", "/flows/some-uid"):
            resp = await client.get(path)
            assert resp.status == 200, path
            assert "AWEL flows" in await resp.text()
            assert resp.headers["X-Frame-Options"] == "DENY"
        asset = await client.get("/flows/static/editor.js")
        assert asset.status == 200


# --- stored flows: the flow CRUD API ----------------------------------------------------------


DEPLOYABLE = """\
name: editor_deployed
trigger:
  http: {endpoint: /editor_deployed, methods: POST, request: {name: {type: str}}}
nodes:
  greet: {op: awel.format, params: {template: "v1 {{ name }}"}}
edges:
  - trigger >> greet
"""


async def test_save_deploy_call_and_roll_back(tmp_path: Path) -> None:
    async with editor(tmp_path) as (page, client, _):
        await open_editor(page, client)
        await set_text(page, DEPLOYABLE)
        await page.wait_for_selector("#check[data-ok='true']")
        await page.click(".cm-content")
        await page.keyboard.press("Control+s")
        await page.wait_for_function("() => window.awelEditor.flow && window.awelEditor.flow.uid")
        uid = await page.evaluate("window.awelEditor.flow.uid")
        assert re.search(f"/flows/{re.escape(uid)}$", page.url)
        await page.wait_for_selector(f"#flow-list button[data-uid='{uid}']")
        await shot(page, "10-saved")

        await page.click("#deploy")
        await page.wait_for_selector("#status[data-kind='ok']:text-matches('^deployed ')")
        await page.fill("#run-input", json.dumps({"name": "Ann"}))
        await page.click("#call-trigger")
        await page.wait_for_selector("#trigger-out[data-status='200']")
        assert "v1 Ann" in (await page.text_content("#trigger-out") or "")
        await shot(page, "11-deployed")

        # A second version, deployed; then back to the first.
        await set_text(page, DEPLOYABLE.replace("v1 {{", "v2 {{"))
        known = len(await page.query_selector_all("#versions option"))
        await page.click("#deploy")
        # The new version listed: the deploy has answered (the save and the first deploy
        # already listed two, so a fixed count would not wait for this one).
        await page.wait_for_function(
            f"() => document.querySelectorAll('#versions option').length > {known}"
        )
        versions = await page.eval_on_selector_all("#versions option", "os => os.map(o => o.value)")
        first = min(versions, key=int)
        await page.select_option("#versions", first)
        await page.click("#rollback")
        await page.wait_for_selector("#status[data-kind='ok']:has-text('rolled back')")
        assert "v1 {{" in await page.evaluate("window.awelEditor.view.state.doc.toString()")
        await shot(page, "12-rolled-back")
