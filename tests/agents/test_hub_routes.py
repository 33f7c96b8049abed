"""The agent hub's routes over HTTP on the live app: DB-GPT's ``/api/v1/agent/hub/update``
and ``/api/v1/agent/query``, dbgpts' ``/api/v1/serve/dbgpts/hub/*``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.agents.test_hub import SHIPPED, git, package, repository
from tests.server.conftest import FLOWS, running

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with running(tmp_path, shipped=[FLOWS / "agents" / "hub.py"]) as c:
        yield c


async def ok(resp: Any) -> Any:
    body = await resp.json()
    assert resp.status == 200 and body["success"] is True, body
    return body["data"]


async def test_update_without_a_body_syncs_the_shipped_hub(client: Client) -> None:
    assert await ok(await client.post("/api/v1/agent/hub/update")) is None
    page = await ok(await client.post("/api/v1/agent/query", json={}))
    assert {d["name"] for d in page["datas"]} == SHIPPED
    assert (page["page_index"], page["page_size"], page["total_page"]) == (1, 20, 1)
    assert page["total_row_count"] == 4
    first = page["datas"][0]
    assert set(first) == {
        "id",
        "name",
        "description",
        "author",
        "email",
        "type",
        "version",
        "storage_channel",
        "storage_url",
        "download_param",
        "installed",
        "gmt_created",
    }
    assert first["storage_channel"] == "local" and first["installed"] == 0


async def test_update_from_git_then_query_with_filter_and_paging(
    client: Client, tmp_path: Path
) -> None:
    repo = repository(tmp_path)
    package(repo, "agents/gamma", "gamma", version="9.9")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "gamma")
    body = {"channel": "git", "url": str(repo), "branch": "main"}
    assert await ok(await client.post("/api/v1/agent/hub/update", json=body)) is None
    page = await ok(
        await client.post("/api/v1/agent/query", json={"page_index": 2, "page_size": 2})
    )
    assert [d["name"] for d in page["datas"]] == ["gamma"]
    assert (page["total_page"], page["total_row_count"]) == (2, 3)
    page = await ok(await client.post("/api/v1/agent/query", json={"filter": {"version": "9.9"}}))
    assert [d["name"] for d in page["datas"]] == ["gamma"]

    dbgpts = await ok(
        await client.post(
            "/api/v1/serve/dbgpts/hub/query_page?page=1&page_size=2", json={"name": "beta"}
        )
    )
    assert [i["name"] for i in dbgpts["items"]] == ["beta"]
    assert (dbgpts["total_count"], dbgpts["total_pages"], dbgpts["page"]) == (1, 1, 1)
    assert "gmt_modified" in dbgpts["items"][0]


async def test_source_refresh_syncs_the_configured_hub(client: Client) -> None:
    resp = await client.post("/api/v1/serve/dbgpts/hub/source/refresh")
    assert await ok(resp) is None
    page = await ok(await client.post("/api/v1/serve/dbgpts/hub/query_page", json={}))
    assert page["total_count"] == 4


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"channel": "svn", "url": "x"}, "unknown hub channel"),
        ({"channel": "svn"}, "unknown hub channel"),
        ({"channel": "local", "url": "/no/such/folder"}, "no folder"),
        ({"url": "--upload-pack=touch /tmp/x"}, "command-line option"),
        ({"url": "https://example.com/r.git", "branch": "-b"}, "branch name"),
    ],
)
async def test_refusals_are_answered_as_db_gpt_does(
    client: Client, body: dict[str, str], says: str
) -> None:
    resp = await client.post("/api/v1/agent/hub/update", json=body)
    answer = await resp.json()
    assert resp.status == 200 and answer["success"] is False, answer
    assert answer["err_code"] == "E0020" and says in answer["err_msg"], answer
