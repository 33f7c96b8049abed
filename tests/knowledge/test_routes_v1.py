"""DB-GPT's v1 knowledge routes over HTTP on the live app, with the real embeddings model:
``/api/v1/knowledge/*`` and the old web UI's ``/knowledge/*``."""

from __future__ import annotations

import asyncio
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
from tests.server.conftest import FLOWS, running

Client = TestClient[web.Request, web.Application]
KNOWLEDGE_FLOWS = [FLOWS / "knowledge" / "v1.py", FLOWS / "knowledge" / "v2.py"]
V1 = "/api/v1/knowledge"

LUNCH = "# Canteen\n\nLunch is served at noon in the canteen on the ground floor."
PARKING = "# Parking\n\nVisitors park in the north car park, behind the library."


@pytest.fixture
async def client(tmp_path: Path, models: ModelSet) -> AsyncIterator[Client]:
    async with running(tmp_path, shipped=KNOWLEDGE_FLOWS) as c:
        yield c


async def ok(resp: Any) -> Any:
    body = await resp.json()
    assert resp.status == 200, body
    assert body["success"] is True, body
    assert "host_name" in body, body
    return body["data"]


async def failed(resp: Any, status: int = 200) -> dict[str, Any]:
    """DB-GPT answers a knowledge failure HTTP 200 with success false (a 400 for a
    request it cannot read)."""
    body: dict[str, Any] = await resp.json()
    assert resp.status == status, body
    assert body["success"] is False and body["data"] is None, body
    assert body["err_msg"], body
    return body


async def synced(client: Client, space: str, ids: list[int], prefix: str = V1) -> list[Any]:
    """The documents once their background syncs have ended, as document/list shows them."""
    for _ in range(600):
        page = await ok(await client.post(f"{prefix}/{space}/document/list", json={"doc_ids": ids}))
        if all(d["status"] in (FINISHED, FAILED) for d in page["data"]):
            return list(page["data"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"the syncs of {ids} did not end")


async def test_spaces(client: Client) -> None:
    add = {"name": "handbook", "vector_type": "VectorStore", "desc": "the staff handbook"}
    assert await ok(await client.post(f"{V1}/space/add", json=add)) == []
    other = {"name": "other", "vector_type": "Chroma", "desc": "x", "owner": "ann"}
    assert await ok(await client.post(f"{V1}/space/add", json=other)) == []

    spaces = await ok(await client.post(f"{V1}/space/list", json={}))
    assert [s["name"] for s in spaces] == ["other", "handbook"]
    space = spaces[1]
    assert set(space) == {
        "id", "name", "vector_type", "domain_type", "desc", "context", "owner",
        "gmt_created", "gmt_modified", "docs",
    }  # fmt: skip
    assert space["vector_type"] == "Chroma" and space["domain_type"] == "Normal"
    assert space["docs"] == 0 and space["owner"] is None
    assert json.loads(space["context"])["embedding"]["topk"] == 5
    only = await ok(await client.post(f"{V1}/space/list", json={"owner": "ann"}))
    assert [s["name"] for s in only] == ["other"]
    by_id = await ok(await client.post(f"{V1}/space/list", json={"id": space["id"]}))
    assert [s["name"] for s in by_id] == ["handbook"]

    dup = await failed(await client.post(f"{V1}/space/add", json=add))
    assert "'handbook'" in dup["err_msg"]
    for bad in ["", "a/b", "tab\there", "x" * 101]:
        refused = await failed(await client.post(f"{V1}/space/add", json={"name": bad}), 400)
        assert "name" in refused["err_msg"]
    odd = await failed(
        await client.post(f"{V1}/space/add", json={"name": "g", "vector_type": "Milvus"})
    )
    assert "Milvus" in odd["err_msg"]

    config = await ok(await client.get(f"{V1}/space/config"))
    assert config["storage"][0]["name"] == "VectorStore"
    assert config["storage"][0]["domain_types"] == [{"name": "Normal", "desc": "Normal"}]

    assert await ok(await client.post(f"{V1}/space/delete", json={"name": "other"})) is True
    gone = await failed(await client.post(f"{V1}/space/delete", json={"name": "other"}))
    assert "'other'" in gone["err_msg"]
    assert [s["name"] for s in await ok(await client.post(f"{V1}/space/list", json={}))] == [
        "handbook"
    ]


async def test_arguments(client: Client) -> None:
    await ok(await client.post(f"{V1}/space/add", json={"name": "hb"}))
    args = await ok(await client.post(f"{V1}/hb/arguments"))
    assert set(args) >= {"embedding", "prompt", "summary"}
    assert set(args["embedding"]) >= {
        "topk", "recall_score", "recall_type", "model", "chunk_size", "chunk_overlap",
    }  # fmt: skip
    args["embedding"]["topk"] = "3"  # the web UI sends numbers as strings
    args["prompt"]["scene"] = "You answer from the handbook."
    saved = await ok(
        await client.post(f"{V1}/hb/argument/save", json={"argument": json.dumps(args)})
    )
    assert saved["embedding"]["topk"] == 3
    again = await ok(await client.post(f"{V1}/hb/arguments"))
    assert again["embedding"]["topk"] == 3
    assert again["prompt"]["scene"] == "You answer from the handbook."

    bad = await failed(
        await client.post(f"{V1}/hb/argument/save", json={"argument": "{not json"}), 400
    )
    assert "argument" in bad["err_msg"]
    missing = await failed(await client.post(f"{V1}/nowhere/arguments"))
    assert "'nowhere'" in missing["err_msg"]


async def test_documents_sync_list_chunks_and_recall(client: Client) -> None:
    await ok(await client.post(f"{V1}/space/add", json={"name": "hb"}))
    text = {"doc_name": "canteen", "doc_type": "TEXT", "content": LUNCH, "source": "intranet"}
    lunch = await ok(await client.post(f"{V1}/hb/document/add", json=text))
    assert isinstance(lunch, int)
    dup = await failed(await client.post(f"{V1}/hb/document/add", json=text))
    assert "'canteen'" in dup["err_msg"] and "already" in dup["err_msg"]

    form = aiohttp.FormData()
    form.add_field("doc_name", "parking.md")
    form.add_field("doc_type", "DOCUMENT")
    form.add_field("doc_file", PARKING.encode(), filename="../../etc/parking.md")
    parking = await ok(await client.post(f"{V1}/hb/document/upload", data=form))

    listed = await ok(await client.post(f"{V1}/hb/document/list", json={}))
    assert listed["total"] == 2 and listed["page"] == 1
    assert [d["doc_name"] for d in listed["data"]] == ["parking.md", "canteen"]
    row = listed["data"][0]
    assert row["status"] == "TODO" and row["space"] == "hb" and row["doc_type"] == "DOCUMENT"
    # A stored file's path is never answered.
    assert row["content"] == ""

    assert await ok(await client.post(f"{V1}/hb/document/sync", json={"doc_ids": [lunch]})) == [
        lunch
    ]
    batch = [{"doc_id": parking, "chunk_parameters": {"chunk_strategy": "Automatic"}}]
    tasks = await ok(await client.post(f"{V1}/hb/document/sync_batch", json=batch))
    assert tasks == {"tasks": [parking]}
    docs = await synced(client, "hb", [lunch, parking])
    assert {d["status"] for d in docs} == {FINISHED}
    assert all(d["chunk_size"] >= 1 and d["last_sync"] for d in docs)

    by_name = await ok(await client.post(f"{V1}/hb/document/list", json={"doc_name": "park"}))
    assert [d["doc_name"] for d in by_name["data"]] == ["parking.md"]
    done = await ok(await client.post(f"{V1}/hb/document/list", json={"status": "FINISHED"}))
    assert done["total"] == 2
    paged = await ok(await client.post(f"{V1}/hb/document/list", json={"page": 2, "page_size": 1}))
    assert paged["total"] == 2 and paged["page"] == 2 and len(paged["data"]) == 1

    chunks = await ok(await client.post(f"{V1}/hb/chunk/list", json={"document_id": lunch}))
    assert chunks["total"] >= 1 and chunks["page"] == 1
    chunk = chunks["data"][0]
    assert {"id", "document_id", "doc_name", "content", "meta_info"} <= set(chunk)
    assert chunk["document_id"] == lunch and "noon" in chunk["content"]
    assert json.loads(chunk["meta_info"])["source"] == "canteen"

    hits = await ok(
        await client.post(
            f"{V1}/hb/recall_test", json={"question": "when is lunch?", "recall_top_k": 1}
        )
    )
    assert len(hits) == 1 and "noon" in hits[0]["content"]
    assert hits[0]["metadata"]["source"] == "canteen" and hits[0]["score"] > 0.3
    empty = await failed(await client.post(f"{V1}/hb/recall_test", json={"question": " "}), 400)
    assert "question" in empty["err_msg"]

    strategies = await ok(await client.get(f"{V1}/document/chunkstrategies"))
    assert strategies[0]["strategy"] == "CHUNK_BY_SIZE"
    assert "pdf" in strategies[0]["suffix"] and "md" in strategies[0]["suffix"]
    assert {p["param_name"] for p in strategies[0]["parameters"]} == {
        "chunk_size",
        "chunk_overlap",
    }

    assert (
        await ok(await client.post(f"{V1}/hb/document/delete", json={"doc_name": "canteen"}))
        is True
    )
    gone = await failed(await client.post(f"{V1}/hb/document/delete", json={"doc_name": "canteen"}))
    assert "'canteen'" in gone["err_msg"]
    left = await ok(await client.post(f"{V1}/hb/document/list", json={}))
    assert [d["doc_name"] for d in left["data"]] == ["parking.md"]
    assert (await ok(await client.post(f"{V1}/space/list", json={"name": "hb"})))[0]["docs"] == 1


async def test_document_failures(client: Client) -> None:
    await ok(await client.post(f"{V1}/space/add", json={"name": "hb"}))
    await ok(await client.post(f"{V1}/space/add", json={"name": "other"}))
    for url in ["file:///etc/passwd", "ftp://example.org/x.txt", "/etc/passwd"]:
        body = {"doc_name": url, "doc_type": "URL", "content": url}
        refused = await failed(await client.post(f"{V1}/hb/document/add", json=body))
        assert refused["err_code"] and "http" in refused["err_msg"]
    kinds = await failed(
        await client.post(
            f"{V1}/hb/document/add", json={"doc_name": "x", "doc_type": "EXCEL", "content": "x"}
        ),
        400,
    )
    assert "doc_type" in kinds["err_msg"]
    nameless = await failed(
        await client.post(f"{V1}/hb/document/add", json={"doc_type": "TEXT", "content": "x"}),
        400,
    )
    assert "name" in nameless["err_msg"]
    nowhere = await failed(
        await client.post(
            f"{V1}/nowhere/document/add", json={"doc_name": "x", "doc_type": "TEXT", "content": "y"}
        )
    )
    assert "'nowhere'" in nowhere["err_msg"]

    # A file no reader takes is refused when it is uploaded, not when it is synced.
    form = aiohttp.FormData()
    form.add_field("doc_name", "tool.exe")
    form.add_field("doc_type", "DOCUMENT")
    form.add_field("doc_file", b"MZ\x00\x00", filename="tool.exe")
    odd = await failed(await client.post(f"{V1}/hb/document/upload", data=form))
    assert "'tool.exe'" in odd["err_msg"]
    no_file = aiohttp.FormData()
    no_file.add_field("doc_name", "a.md")
    no_file.add_field("doc_type", "DOCUMENT")
    assert (
        "doc_file"
        in (await failed(await client.post(f"{V1}/hb/document/upload", data=no_file), 400))[
            "err_msg"
        ]
    )

    # A PDF that is not one: the sync fails and says why in the document's result.
    broken = aiohttp.FormData()
    broken.add_field("doc_name", "broken.pdf")
    broken.add_field("doc_type", "DOCUMENT")
    broken.add_field("doc_file", b"not a pdf at all", filename="broken.pdf")
    bad = await ok(await client.post(f"{V1}/hb/document/upload", data=broken))
    await ok(await client.post(f"{V1}/hb/document/sync", json={"doc_ids": [bad]}))
    (doc,) = await synced(client, "hb", [bad])
    assert doc["status"] == FAILED and doc["result"]

    # Documents of another space are not reached through this one.
    text = {"doc_name": "t", "doc_type": "TEXT", "content": LUNCH}
    theirs = await ok(await client.post(f"{V1}/other/document/add", json=text))
    elsewhere: list[tuple[str, Any]] = [
        ("document/sync", {"doc_ids": [theirs]}),
        ("document/sync_batch", [{"doc_id": theirs}]),
        ("chunk/list", {"document_id": theirs}),
    ]
    for path, body in elsewhere:
        refused = await failed(await client.post(f"{V1}/hb/{path}", json=body))
        assert str(theirs) in refused["err_msg"]
    empty = await failed(await client.post(f"{V1}/hb/document/sync", json={"doc_ids": []}), 400)
    assert "doc_ids" in empty["err_msg"]
    shapes: list[Any] = [{"doc_id": 1}, [{"doc": 1}], [{"doc_id": 2**64}]]
    for body in shapes:
        shape = await failed(await client.post(f"{V1}/hb/document/sync_batch", json=body), 400)
        assert "body" in shape["err_msg"]
    no_doc = await failed(await client.post(f"{V1}/hb/chunk/list", json={}), 400)
    assert "document_id" in no_doc["err_msg"]


async def test_the_old_web_ui_paths(client: Client) -> None:
    assert await ok(await client.post("/knowledge/space/add", json={"name": "old"})) == []
    spaces = await ok(await client.post("/knowledge/space/list", json={}))
    assert [s["name"] for s in spaces] == ["old"]
    text = {"doc_name": "canteen", "doc_type": "TEXT", "content": LUNCH}
    doc = await ok(await client.post("/knowledge/old/document/add", json=text))
    await ok(await client.post("/knowledge/old/document/sync", json={"doc_ids": [doc]}))
    (row,) = await synced(client, "old", [doc], prefix="/knowledge")
    assert row["status"] == FINISHED
    # The same store behind both paths.
    both = await ok(await client.post(f"{V1}/old/document/list", json={}))
    assert [d["id"] for d in both["data"]] == [doc]
    assert (await ok(await client.get("/knowledge/space/config")))["storage"]
    assert await ok(await client.get("/knowledge/document/chunkstrategies"))
    assert await ok(await client.post("/knowledge/old/arguments"))
    missing = await failed(await client.post("/knowledge/nowhere/document/list", json={}))
    assert "'nowhere'" in missing["err_msg"]
    assert await ok(await client.post("/knowledge/space/delete", json={"name": "old"})) is True
