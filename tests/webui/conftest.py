"""DB-GPT's own web UIs in headless Chromium against the live app (tests/webui/).

The UIs are installed as a user installs them (``awel ui install``: pip fetches the
``dbgpt-app`` wheel) into the test data folder (``AWEL_TEST_DATA_DIR/ui``, beside the built
models), once: later runs reuse the install. Only a wheel that cannot be fetched (no
network) skips these tests, saying so; a wheel that fails its checks fails them.

Every request a page makes is recorded; none may answer 404, 405 or 5xx, except the few
files DB-GPT's own builds lack (:data:`MISSING_FROM_BUILD`, checked to be missing), and the
page may throw no script error. Each page's screenshot is saved
under ``tests/webui/screenshots/`` (gitignored).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from playwright import async_api as playwright

from operators.models import ModelSet, using_models
from server.ui_install import (
    DEFAULT_VERSION,
    DownloadFailed,
    InstalledUI,
    fetch_and_install,
    installed_uis,
)
from tests.server.conftest import running
from tests.server.model_api_live import DATA_DIR, require_built

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent / "screenshots"
UI_DIR = DATA_DIR / "ui"
Client = TestClient[web.Request, web.Application]

#: Files DB-GPT's builds ask for but do not hold (DB-GPT answers them 404 too); the tests
#: check they are still missing from the installed build, so a fixed build fails loudly.
MISSING_FROM_BUILD = frozenset({"/images/bg.png", "/pictures/logo.png"})

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is missing (make install installs it)"
)


@pytest.fixture(scope="session")
def installed_ui() -> InstalledUI:
    """DB-GPT's UIs in the test data folder, fetched with pip when missing."""
    for ui in installed_uis(UI_DIR):
        if ui.version == DEFAULT_VERSION and ui.builds == ("old", "new"):
            return ui
    try:
        return fetch_and_install(DEFAULT_VERSION, UI_DIR)
    except DownloadFailed as exc:
        pytest.skip(f"the dbgpt-app wheel cannot be fetched (network?): {exc}")


@dataclass
class Seen:
    """Every response a page got from this server: (method, path, status)."""

    origin: str
    responses: list[tuple[str, str, int]] = field(default_factory=list)
    #: Uncaught script errors of the page (a crashed component).
    errors: list[str] = field(default_factory=list)
    #: Every path asked for since the page opened, across visits.
    every_path: set[str] = field(default_factory=set)

    def record(self, response: Any) -> None:
        url = urlsplit(response.url)
        if f"{url.scheme}://{url.netloc}" != self.origin:
            return  # fonts and images of other hosts: not ours to answer
        self.responses.append((response.request.method, url.path, response.status))
        self.every_path.add(url.path)

    def error(self, error: Any) -> None:
        self.errors.append(str(error)[:300])

    def clear(self) -> None:
        self.responses.clear()
        self.errors.clear()

    def failures(self) -> list[str]:
        """Requests answered 404, 405 or 5xx (but the files the build lacks), and the page's
        script errors."""
        bad = [
            f"{status} {method} {path}"
            for method, path, status in self.responses
            if (status in (404, 405) or status >= 500) and path not in MISSING_FROM_BUILD
        ]
        return bad + [f"script error: {e}" for e in self.errors]


@dataclass
class Browser:
    page: Any
    client: Client
    seen: Seen

    def url(self, path: str) -> str:
        return str(self.client.make_url(path))

    async def visit(self, path: str, shot: str) -> list[str]:
        """Open ``path``, wait for its requests to settle, save a screenshot; the failing
        requests it made."""
        self.seen.clear()
        resp = await self.page.goto(self.url(path), wait_until="networkidle")
        assert resp is not None and resp.status == 200, (path, resp and resp.status)
        await self.page.wait_for_timeout(500)
        await self.screenshot(shot)
        return self.seen.failures()

    async def screenshot(self, name: str) -> None:
        SHOTS.mkdir(exist_ok=True)
        await self.page.screenshot(path=str(SHOTS / f"{name}.png"))


@asynccontextmanager
async def browsing(tmp_path: Path, ui: InstalledUI, which: str) -> AsyncIterator[Browser]:
    """The app with the real default models and DB-GPT's ``which`` UI, and a page on it."""
    require_built("smollm2", "all-minilm-l6-v2")
    models = await anyio.to_thread.run_sync(
        lambda: ModelSet.load(DATA_DIR, names=["smollm2", "all-minilm-l6-v2"])
    )
    async with (
        using_models(models),
        running(tmp_path, ui_dir=ui.path.parent, web_ui=which) as client,
        playwright.async_playwright() as p,
    ):
        browser = await p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            origin = str(client.make_url("/")).rstrip("/")
            seen = Seen(origin)
            page.on("response", seen.record)
            page.on("pageerror", seen.error)
            yield Browser(page, client, seen)
        finally:
            await browser.close()


def assert_missing_from_build(ui: InstalledUI, which: str) -> None:
    for path in MISSING_FROM_BUILD:
        assert not (ui.build(which) / path.lstrip("/")).exists(), (
            f"{path} is in DB-GPT's {which} build now: drop it from MISSING_FROM_BUILD"
        )
