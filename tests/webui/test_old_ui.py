"""DB-GPT's older web UI (``old_web`` of dbgpt-app) against the live app: every page, a chat
round typed into it, a datasource added through it."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from server.ui_install import InstalledUI

from .conftest import Browser, assert_missing_from_build, browsing

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

#: The older UI's pages (its side bar and home), and the screenshot of each.
PAGES = {
    "/": "old-01-home",
    "/chat": "old-02-chat",
    "/database": "old-03-database",
    "/knowledge": "old-04-knowledge",
    "/models": "old-05-models",
    "/agent": "old-06-agent",
    "/flow": "old-07-flow",
    "/prompt": "old-08-prompt",
    "/app": "old-09-app",
}


async def test_every_page_of_the_older_ui(tmp_path: Path, installed_ui: InstalledUI) -> None:
    assert_missing_from_build(installed_ui, "old")
    async with browsing(tmp_path, installed_ui, "old") as ui:
        failures = {path: await ui.visit(path, shot) for path, shot in PAGES.items()}
        assert not any(failures.values()), failures
        # The pages asked the API, not only for their own files.
        assert "/api/v1/chat/dialogue/list" in ui.seen.every_path

        await chat_round(ui)
        await add_datasource(ui, tmp_path)


QUESTION = "What is the capital of France?"


async def chat_round(ui: Browser) -> None:
    """A question typed on the home page: the model's answer is shown, and stored."""
    await ui.visit("/", "old-10-before-chat")
    # Chat streams the page itself gave up on. The older UI's chat hook aborts its stream
    # when its component unmounts (``useEffect(() => () => controller.abort())``), which the
    # route change it makes after sending can do mid-stream on a loaded machine; a round
    # whose client hung up is not stored, as in DB-GPT (tests/chat/test_dialogue.py).
    aborted: list[str] = []

    def on_failed(request: Any) -> None:
        if request.url.endswith("/api/v1/chat/completions"):
            aborted.append(str(request.failure))

    ui.page.on("requestfailed", on_failed)
    sent = await _ask(ui)
    await ui.page.wait_for_url("**/chat/?**id=*")
    conv = ui.page.url.split("id=")[1].split("&")[0]
    answer, messages = await _stored_answer(ui, conv, aborted)
    if not answer and aborted:
        # As a user whose answer vanished would: ask again, on the chat page, once.
        sent = await _ask(ui)
        answer, messages = await _stored_answer(ui, conv, aborted[1:])
    if not answer:
        # Say what the chat call answered (a stream cut short stores no round).
        try:
            body = (await sent.text())[:500]
        except Exception as error:  # the page may have dropped the body
            body = f"(body not readable: {error})"
        raise AssertionError(
            f"the model's answer was not stored: {messages}; the chat call answered "
            f"{sent.status}: {body}; streams the page aborted: {aborted}"
        )
    first_line = answer.strip().splitlines()[0][:40]
    await ui.page.get_by_text(first_line, exact=False).first.wait_for()
    await ui.screenshot("old-11-chat-answer")
    assert not ui.seen.failures(), ui.seen.failures()


async def _ask(ui: Browser) -> Any:
    """Type the question into the page's chat box and send it; the chat call's response."""
    box = ui.page.locator("textarea:visible").first
    await box.fill(QUESTION)
    async with ui.page.expect_response(
        lambda r: r.url.endswith("/api/v1/chat/completions")
    ) as posted:
        await box.press("Enter")
    return await posted.value


async def _stored_answer(
    ui: Browser, conv: str, aborted: list[str]
) -> tuple[str, list[dict[str, Any]]]:
    """The stored answer of the conversation's last round, waiting for it ("" if none):
    the round is stored once its stream ends; then the page shows the stored answer."""
    messages: list[dict[str, Any]] = []
    for attempt in range(120):
        resp = await ui.client.get(
            "/api/v1/chat/dialogue/messages/history", params={"con_uid": conv}
        )
        messages = (await resp.json())["data"]
        # Wait for the answer's text, not just the round's rows (one run of four, before
        # this wait, read an empty answer; a model that never answers still fails).
        if len(messages) >= 3 and str(messages[-1]["context"]).strip():
            return str(messages[-1]["context"]), messages
        if aborted and attempt >= 6:
            break  # the page hung up: no round is coming
        await ui.page.wait_for_timeout(500)
    return "", messages


async def add_datasource(ui: Browser, tmp_path: Path) -> None:
    """A SQLite file added on the database page is listed by ``GET /api/v1/chat/db/list``."""
    db = tmp_path / "shop.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("create table users (id integer primary key, name text)")
        conn.execute("insert into users (name) values ('Ada'), ('Linus')")
    await ui.visit("/database", "old-12-database")
    page = ui.page
    await page.get_by_role("button", name="Create").click()
    modal = page.locator(".ant-modal:visible")
    await modal.locator("#db_type").click()
    await page.locator(".ant-select-item-option", has_text=re.compile("^sqlite$", re.I)).click()
    await modal.locator("#db_name").fill("shop")
    await modal.locator("#db_path").fill(str(db))
    await modal.locator("#comment").fill("added through the older UI")
    await ui.screenshot("old-13-datasource-form")
    async with page.expect_response(lambda r: "/api/v1/chat/db/add" in r.url) as added:
        await modal.get_by_role("button", name="Save").click()
    answer = await (await added.value).json()
    assert answer["success"] is True, answer
    await modal.wait_for(state="hidden")
    # The type's card now counts one datasource; its drawer lists it.
    await page.locator(".ant-card, div", has_text=re.compile("^Sqlite")).first.click()
    await page.get_by_text(str(db)).first.wait_for()
    await ui.screenshot("old-14-datasource-added")
    listed = (await (await ui.client.get("/api/v1/chat/db/list")).json())["data"]
    assert [(d["db_name"], d["db_type"], d["db_path"]) for d in listed] == [
        ("shop", "sqlite", str(db))
    ]
    assert not ui.seen.failures(), ui.seen.failures()
