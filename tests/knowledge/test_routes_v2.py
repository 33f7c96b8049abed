"""DB-GPT's serve-module knowledge routes (``/api/v2/serve/knowledge/*``) over HTTP on the
live app, with the real embeddings model, in the shapes ``dbgpt-client`` reads."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from operators.models import ModelSet
from operators.storage import FAILED, FINISHED
from tests.knowledge.test_routes_v1 import KNOWLEDGE_FLOWS, LUNCH, PARKING
from tests.knowledge.test_routes_v1 import ok as ok_v1
from tests.server.conftest import running

Client = TestClient[web.Request, web.Application]
V2 = "/api/v2/serve/knowledge"


@pytest.fixture
async def client(tmp_path: Path, models: ModelSet) -> AsyncIterator[Client]:
    async with running(tmp_path, shipped=KNOWLEDGE_FLOWS) as c:
        yield c


async def ok(resp: Any) -> Any:
    body = await resp.json()
    assert resp.status == 200, body
    assert body["success"] is True, body
    assert "host_name" not in body, body
    return body["data"]


async def failed(resp: Any, status: int) -> dict[str, Any]:
    body: dict[str, Any] = await resp.json()
    assert resp.status == status, body
    assert body["success"] is False and body["err_msg"], body
    return body


async def test_spaces_crud_and_paging(client: Client) -> None:
    made = []
    for n in range(3):
        body = {"name": f"s{n}", "vector_type": "Chroma", "desc": f"space {n}"}
        made.append(await ok(await client.post(f"{V2}/spaces", json=body)))
    first = made[0]
    # The fields dbgpt-client's SpaceModel reads, as the types it wants.
    assert isinstance(first["id"], int) and first["name"] == "s0"
    assert first["owner"] == "" and isinstance(first["context"], str)
    assert json.loads(first["context"])["embedding"]["topk"] == 5

    page = await ok(await client.get(f"{V2}/spaces", params={"page": 1, "page_size": 2}))
    assert set(page) == {"items", "total_count", "total_pages", "page", "page_size"}
    assert page["total_count"] == 3 and page["total_pages"] == 2
    assert page["page"] == 1 and page["page_size"] == 2
    assert [s["name"] for s in page["items"]] == ["s2", "s1"]
    last = await ok(await client.get(f"{V2}/spaces", params={"page": 2, "page_size": 2}))
    assert [s["name"] for s in last["items"]] == ["s0"]
    assert (await ok(await client.get(f"{V2}/spaces")))["page_size"] == 20

    one = await ok(await client.get(f"{V2}/spaces/{first['id']}"))
    assert one["name"] == "s0" and one["docs"] == 0

    context = json.loads(first["context"])
    context["embedding"]["topk"] = 2
    update = {"id": first["id"], "desc": "changed", "context": json.dumps(context)}
    changed = await ok(await client.put(f"{V2}/spaces", json=update))
    assert changed["desc"] == "changed"
    assert json.loads(changed["context"])["embedding"]["topk"] == 2
    by_name = await ok(await client.put(f"{V2}/spaces", json={"name": "s1", "owner": "ann"}))
    assert by_name["owner"] == "ann"
    renamed = await failed(
        await client.put(f"{V2}/spaces", json={"id": first["id"], "name": "other"}), 400
    )
    assert "name" in renamed["err_msg"]
    moved = await failed(
        await client.put(f"{V2}/spaces", json={"id": first["id"], "vector_type": "PGVector"}), 400
    )
    assert "vector_type" in moved["err_msg"]

    dup = await failed(await client.post(f"{V2}/spaces", json={"name": "s0"}), 400)
    assert "'s0'" in dup["err_msg"]
    assert "name" in (await failed(await client.post(f"{V2}/spaces", json={}), 400))["err_msg"]

    gone = await ok(await client.delete(f"{V2}/spaces/{first['id']}"))
    assert gone["name"] == "s0"
    for method in ("get", "delete"):
        missing = await failed(await getattr(client, method)(f"{V2}/spaces/{first['id']}"), 404)
        assert str(first["id"]) in missing["err_msg"]
    bad_id = await failed(await client.get(f"{V2}/spaces/x"), 400)
    assert "space_id" in bad_id["err_msg"]
    huge = await failed(await client.get(f"{V2}/spaces/{2**64}"), 400)
    assert "space_id" in huge["err_msg"]


async def test_documents_sync_and_retrieve(client: Client) -> None:
    space = await ok(await client.post(f"{V2}/spaces", json={"name": "hb"}))
    sid = str(space["id"])

    text = aiohttp.FormData()
    for key, value in {"doc_name": "canteen", "doc_type": "TEXT", "space_id": sid}.items():
        text.add_field(key, value)
    text.add_field("content", LUNCH)
    lunch = await ok(await client.post(f"{V2}/documents", data=text))
    # dbgpt-client's DocumentModel: an int id, the space's id as text.
    assert isinstance(lunch["id"], int) and lunch["space_id"] == sid
    assert lunch["status"] == "TODO" and lunch["content"] == LUNCH

    upload = aiohttp.FormData()
    for key, value in {"doc_name": "parking.md", "doc_type": "DOCUMENT", "space_id": sid}.items():
        upload.add_field(key, value)
    upload.add_field("doc_file", PARKING.encode(), filename="/tmp/../parking.md")
    parking = await ok(await client.post(f"{V2}/documents", data=upload))
    assert parking["content"] == "" and parking["doc_type"] == "DOCUMENT"

    # dbgpt-client sends the fields as query parameters, doc_file as the text of its
    # model's default (no file) and its unset fields empty.
    query = {
        "id": "",
        "doc_name": "note",
        "doc_type": "TEXT",
        "content": "A short note.",
        "doc_file": "annotation=NoneType required=False default=None json_schema_extra={}",
        "doc_source": "",
        "space_id": sid,
    }
    note = await ok(await client.post(f"{V2}/documents", params=query))
    assert note["doc_name"] == "note"

    # Every space's documents, newest first, a page at a time; one; one deleted.
    listed_v2 = await ok(await client.get(f"{V2}/documents"))
    assert [d["id"] for d in listed_v2["items"]] == [note["id"], parking["id"], lunch["id"]]
    assert listed_v2["total_count"] == 3
    other = await ok(await client.post(f"{V2}/spaces", json={"name": "other"}))
    mine = await ok(await client.get(f"{V2}/documents", params={"space_id": other["id"]}))
    assert mine["items"] == [] and mine["total_count"] == 0
    assert await ok(await client.get(f"{V2}/documents/{note['id']}")) == note
    gone = await ok(await client.delete(f"{V2}/documents/{note['id']}"))
    assert gone["id"] == note["id"]
    await failed(await client.get(f"{V2}/documents/{note['id']}"), 400)

    # Sync waits: the answer comes once the documents are indexed.
    synced = await ok(
        await client.post(f"{V2}/documents/sync", json=[{"doc_id": lunch["id"], "space_id": sid}])
    )
    assert synced == [lunch["id"]]
    assert await ok(await client.post(f"{V2}/documents/{parking['id']}/sync")) == [parking["id"]]
    listed = await ok_v1(
        await client.post("/api/v1/knowledge/hb/document/list", json={"doc_ids": [lunch["id"]]})
    )
    assert listed["data"][0]["status"] == FINISHED

    hits = await ok(
        await client.post(
            f"{V2}/spaces/{sid}/retrieve", json={"query": "where do visitors park?", "top_k": 1}
        )
    )
    assert len(hits) == 1 and "north car park" in hits[0]["content"]
    assert hits[0]["metadata"]["source"] == "parking.md" and hits[0]["score"] > 0
    picky = await ok(
        await client.post(
            f"{V2}/spaces/{sid}/retrieve", json={"query": "lunch", "score_threshold": 0.99}
        )
    )
    assert picky == []


async def test_document_failures(client: Client) -> None:
    space = await ok(await client.post(f"{V2}/spaces", json={"name": "hb"}))
    sid = str(space["id"])

    def form(**fields: str) -> aiohttp.FormData:
        data = aiohttp.FormData()
        for key, value in fields.items():
            data.add_field(key, value)
        return data

    nowhere = await failed(
        await client.post(
            f"{V2}/documents",
            data=form(doc_name="x", doc_type="TEXT", space_id="999", content="y"),
        ),
        404,
    )
    assert "999" in nowhere["err_msg"]
    not_id = await failed(
        await client.post(
            f"{V2}/documents", data=form(doc_name="x", doc_type="TEXT", space_id="hb")
        ),
        400,
    )
    assert "space_id" in not_id["err_msg"]
    no_file = await failed(
        await client.post(
            f"{V2}/documents", data=form(doc_name="x.md", doc_type="DOCUMENT", space_id=sid)
        ),
        400,
    )
    assert "doc_file" in no_file["err_msg"]
    local = await failed(
        await client.post(
            f"{V2}/documents",
            data=form(doc_name="p", doc_type="URL", space_id=sid, content="file:///etc/passwd"),
        ),
        400,
    )
    assert "http" in local["err_msg"]
    text = form(doc_name="t", doc_type="TEXT", space_id=sid, content="x")
    await ok(await client.post(f"{V2}/documents", data=text))
    again = form(doc_name="t", doc_type="TEXT", space_id=sid, content="x")
    dup = await failed(await client.post(f"{V2}/documents", data=again), 400)
    assert "'t'" in dup["err_msg"]

    broken = aiohttp.FormData()
    for key, value in {"doc_name": "broken.docx", "doc_type": "DOCUMENT", "space_id": sid}.items():
        broken.add_field(key, value)
    broken.add_field("doc_file", b"not a docx", filename="broken.docx")
    doc = await ok(await client.post(f"{V2}/documents", data=broken))
    # The sync ends (FAILED, with the reason on the document); the route answers its id.
    assert await ok(await client.post(f"{V2}/documents/{doc['id']}/sync", json={})) == [doc["id"]]
    listed = await ok_v1(
        await client.post("/api/v1/knowledge/hb/document/list", json={"doc_ids": [doc["id"]]})
    )
    assert listed["data"][0]["status"] == FAILED and listed["data"][0]["result"]

    missing = await failed(await client.post(f"{V2}/documents/999/sync"), 400)
    assert "999" in missing["err_msg"]
    for body in [{"doc_id": 1}, [], [{"doc_id": "x"}]]:
        shape = await failed(await client.post(f"{V2}/documents/sync", json=body), 400)
        assert "body" in shape["err_msg"]
    no_query = await failed(await client.post(f"{V2}/spaces/{sid}/retrieve", json={}), 400)
    assert "query" in no_query["err_msg"]


async def test_pages_past_the_last_are_refused_not_failed(client: Client) -> None:
    refused = await failed(await client.get(f"{V2}/spaces", params={"page": 2**62}), 400)
    assert "page" in refused["err_msg"]
    await ok(await client.post(f"{V2}/spaces", json={"name": "hb"}))
    far = {"page": 10**9, "page_size": 1000}
    assert (await ok_v1(await client.post("/api/v1/knowledge/hb/document/list", json=far)))[
        "data"
    ] == []
