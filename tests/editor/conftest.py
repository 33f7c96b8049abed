"""The editor's tests: the live server over the shop schema on SQLite and PostgreSQL, with
chat rounds stored the way the chat scenes store them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from operators.datasource import close_connectors
from operators.storage import Datasource, current_store
from tests.datasource.conftest import db_config, fill_server_db, make_sqlite, server_datasource
from tests.server.conftest import running
from tests.storage.databases import scratch_database

Client = TestClient[web.Request, web.Application]

#: The question and answer of a chat_with_db_execute round over the shop.
QUESTION = "How much did each user spend?"
OLD_SQL = (
    "SELECT u.name, SUM(o.total) AS spent FROM users u JOIN orders o ON o.user_id = u.id"
    " GROUP BY u.name ORDER BY u.name"
)
NEW_SQL = "SELECT name FROM users ORDER BY id"


@asynccontextmanager
async def shop_datasource(kind: str, tmp_path: Path, name: str) -> AsyncIterator[Datasource]:
    """The shop schema on ``kind`` as a datasource called ``name`` (not stored)."""
    try:
        if kind == "sqlite":
            path = make_sqlite(tmp_path / f"{name}.sqlite")
            yield Datasource(db_type="sqlite", db_name=name, db_path=str(path))
        else:
            async with scratch_database(kind) as url:
                await fill_server_db(url, kind)
                ds = server_datasource(url, kind)
                yield ds
                await close_connectors()
    finally:
        await close_connectors()


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def shop(kind: str, tmp_path: Path) -> AsyncIterator[Datasource]:
    async with shop_datasource(kind, tmp_path, "shop") as ds:
        yield ds


@asynccontextmanager
async def serving(
    tmp_path: Path, *datasources: Datasource, writable: bool = False
) -> AsyncIterator[Client]:
    """The live server with ``datasources`` added through ``db/add``."""
    async with running(tmp_path) as client:
        for ds in datasources:
            resp = await client.post("/api/v1/chat/db/add", json=db_config(ds, writable=writable))
            body = await resp.json()
            assert body["success"], body
        yield client


async def save_sql_round(
    conv_uid: str, db_name: str, sql: str = OLD_SQL, display_type: str = "response_bar_chart"
) -> int:
    """A chat_with_db_execute round as the chat stores it: question, JSON answer, view."""
    answer = {
        "thoughts": "Sum each user's orders.",
        "sql": sql,
        "display_type": display_type,
        "direct_response": "",
    }
    markup = f'<chart-view content="{{&quot;type&quot;: &quot;{display_type}&quot;}}" />'
    view = f"Sum each user's orders.\n{markup}"
    return await current_store().conversations.save_round(
        conv_uid,
        QUESTION,
        json.dumps(answer),
        view_message=view,
        chat_mode="chat_with_db_execute",
        select_param=db_name,
        context={"param_type": "DB Select", "param_value": db_name},
    )


async def ok(resp: Any) -> Any:
    body = await resp.json()
    assert resp.status == 200, body
    assert body["success"] is True, body
    assert "host_name" in body
    return body["data"]


async def failed(resp: Any, *words: str) -> str:
    """A DB-GPT failure envelope (HTTP 200) whose message has every one of ``words``."""
    body = await resp.json()
    assert resp.status == 200, body
    assert body["success"] is False and body["data"] is None, body
    message = str(body["err_msg"])
    for word in words:
        assert word in message, (word, message)
    return message
