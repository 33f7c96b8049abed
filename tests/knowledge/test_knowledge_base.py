"""The knowledge base end to end with the real embeddings model: spaces, syncing documents
of each kind, progress, failures that keep the old chunks, retrieval and its operator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import ValidationError

from awel import DAG, InputOperator, InputSource, NodeError, registry
from awel.errors import BadRequest
from operators.knowledge import (
    IndexUnavailable,
    KnowledgeBase,
    SpaceArguments,
    UnsupportedVectorType,
    UrlRefused,
    current_knowledge,
    knowledge_running,
)
from operators.knowledge import ingest as ingest_module
from operators.knowledge.operators import KnowledgeRetrieve
from operators.models import ModelSet
from operators.storage import FAILED, FINISHED, RUNNING, MetadataStore, SpaceExists, UnknownSpace
from tests.catalogue.conftest import run_one
from tests.knowledge.documents import docx, pdf

HANDBOOK = """# Holidays

Every employee has twenty-five days of paid holiday a year. Unused days expire in March.

# Expenses

Train tickets are refunded in second class. Keep every receipt and submit it within a month.

# Equipment

Laptops are replaced every four years. A broken screen is repaired by the IT desk.
"""


def exists(path: str) -> bool:
    return Path(path).exists()


async def test_a_space_is_created_with_the_default_model_and_refuses_what_it_cannot_serve(
    kb: KnowledgeBase,
) -> None:
    space = await kb.create_space("hr", desc="people matters", owner="ann")
    arguments = SpaceArguments.of(space.context)
    assert arguments.embedding.model == "all-minilm-l6-v2" and arguments.embedding.topk == 5
    with pytest.raises(SpaceExists):
        await kb.create_space("hr")
    with pytest.raises(UnsupportedVectorType) as exc:
        await kb.create_space("x", vector_type="Milvus")
    assert exc.value.param == "vector_type"
    # The store is SQLite and no pgvector URL is set.
    with pytest.raises(IndexUnavailable, match="pgvector_url"):
        await kb.create_space("y", vector_type="PGVector")
    with pytest.raises(BadRequest):
        await kb.create_space(" ")

    saved = await kb.save_arguments(
        "hr", '{"embedding": {"topk": "3", "chunk_size": 64}, "prompt": {"scene": "HR"}, "x": 1}'
    )
    assert saved.embedding.topk == 3
    stored = (await kb.store.spaces.require("hr")).context
    assert stored["embedding"]["chunk_size"] == 64 and stored["x"] == 1
    with pytest.raises(BadRequest) as bad:
        await kb.save_arguments("hr", "{not json")
    assert bad.value.param == "argument"


async def test_documents_of_each_kind_are_synced_and_retrieved(kb: KnowledgeBase) -> None:
    await kb.create_space("hr")
    text = await kb.add_document("hr", "handbook", "TEXT", content=HANDBOOK)
    upload = await kb.add_document(
        "hr", "parking.pdf", "DOCUMENT", data=pdf(["Visitors park in the north lot."])
    )
    word = await kb.add_document(
        "hr", "wifi.docx", "DOCUMENT", data=docx("Wifi", ["The guest wifi password is tulip."])
    )
    assert upload.file_path and exists(upload.file_path)
    assert upload.file_path.startswith(str(kb.files_dir))

    tasks = kb.sync_later([text.id, upload.id, word.id])
    assert len(tasks) == 3
    await kb.wait()
    for document in [text, upload, word]:
        done = await kb.store.documents.require(document.id)
        assert (done.status, done.progress) == (FINISHED, 1.0), done.result
        assert done.chunk_count >= 1 and done.result == f"{done.chunk_count} chunks"

    found = await kb.retrieve("hr", "how many holiday days do I get?", top_k=2)
    assert found[0].doc_name == "handbook" and "twenty-five days" in found[0].content
    assert found[0].meta_info["heading"] == "Holidays" and found[0].score > found[1].score
    found = await kb.retrieve("hr", "where do visitors park their car?", top_k=1)
    assert found[0].doc_name == "parking.pdf" and found[0].meta_info["page"] == 1
    found = await kb.retrieve("hr", "guest wifi password", top_k=1)
    assert found[0].doc_name == "wifi.docx"
    only = await kb.retrieve("hr", "holiday", top_k=5, document_ids=[word.id])
    assert {c.doc_name for c in only} == {"wifi.docx"}
    assert await kb.retrieve("hr", "holiday", score_threshold=0.99) == []
    with pytest.raises(BadRequest):
        await kb.retrieve("hr", "  ")

    chunks, total = await kb.store.chunks.list(text.id)
    assert total == len(chunks) >= 1 and chunks[0].meta_info["source"] == "handbook"


async def test_a_failed_resync_leaves_the_old_chunks_serving(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    await kb.create_space("hr")
    doc = await kb.add_document("hr", "handbook", "TEXT", content=HANDBOOK)
    assert (await kb.sync(doc.id)).status == FINISHED
    before, _ = await kb.store.chunks.list(doc.id)

    await kb.store.documents.update(doc.id, content="Completely new text about parking.")

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the model crashed")

    monkeypatch.setattr(ingest_module, "_embed", broken)
    failed = await kb.sync(doc.id)
    assert failed.status == FAILED and "RuntimeError: the model crashed" in failed.result
    after, _ = await kb.store.chunks.list(doc.id)
    assert after == before
    found = await kb.retrieve("hr", "train tickets refund", top_k=1)
    assert "second class" in found[0].content


async def test_a_large_document_reports_progress_while_it_is_embedded(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_module, "BATCH", 4)
    monkeypatch.setattr(ingest_module, "PROGRESS_EVERY", 0.0)
    await kb.create_space("big", arguments={"embedding": {"chunk_size": 20, "chunk_overlap": 0}})
    body = "\n\n".join(
        f"Paragraph {n} describes topic number {n} in a few words." for n in range(40)
    )
    doc = await kb.add_document("big", "big.txt", "TEXT", content=body)
    seen: list[float] = []
    real = kb.store.documents.set_status

    async def spy(document_id: int, status: str, **kwargs: object) -> None:
        await real(document_id, status, **kwargs)  # type: ignore[arg-type]
        if status == RUNNING:
            seen.append((await kb.store.documents.require(document_id)).progress)

    monkeypatch.setattr(kb.store.documents, "set_status", spy)
    calls: list[tuple[int, int]] = []
    done = await kb.sync(doc.id, on_progress=lambda n, total: calls.append((n, total)))
    assert done.status == FINISHED and done.chunk_count == calls[-1][1] >= 20
    assert [n for n, _ in calls] == sorted(n for n, _ in calls)
    assert len([p for p in seen if 0 < p < 1]) >= 3 and seen == sorted(seen)


@pytest.fixture
async def site() -> AsyncIterator[TestServer]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(
            text="<html><body><h1>Canteen</h1><p>Lunch is served from noon.</p></body></html>",
            content_type="text/html",
        )

    async def local(request: web.Request) -> web.Response:
        raise web.HTTPFound("file:///etc/passwd")

    async def gone(request: web.Request) -> web.Response:
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/canteen", page)
    app.router.add_get("/local", local)
    app.router.add_get("/gone", gone)
    server = TestServer(app)
    await server.start_server()
    yield server
    await server.close()


async def test_url_documents_are_fetched_over_http_only(
    kb: KnowledgeBase, site: TestServer
) -> None:
    await kb.create_space("web")
    for url in ["file:///etc/passwd", "ftp://x.org/a.txt", "/etc/passwd", "http://"]:
        with pytest.raises(UrlRefused) as exc:
            await kb.add_document("web", url, "URL", content=url)
        assert exc.value.code == "knowledge.url_refused"

    # The test's site is on loopback, which a server refuses unless told otherwise.
    kb.allow_private_urls = True
    page = await kb.add_document("web", "canteen", "URL", content=str(site.make_url("/canteen")))
    assert (await kb.sync(page.id)).status == FINISHED
    found = await kb.retrieve("web", "when is lunch?", top_k=1)
    assert found[0].doc_name == "canteen" and "noon" in found[0].content

    redirect = await kb.add_document("web", "local", "URL", content=str(site.make_url("/local")))
    failed = await kb.sync(redirect.id)
    assert failed.status == FAILED and "file:///etc/passwd" in failed.result
    gone = await kb.add_document("web", "gone", "URL", content=str(site.make_url("/gone")))
    assert "HTTP 404" in (await kb.sync(gone.id)).result


async def test_url_documents_may_not_reach_the_servers_own_network(
    kb: KnowledgeBase, site: TestServer
) -> None:
    await kb.create_space("web")
    for url in [
        str(site.make_url("/canteen")),
        "http://127.0.0.1:5670/api/v1/chat/db/list",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
    ]:
        with pytest.raises(UrlRefused, match="server's own network"):
            await kb.add_document("web", url, "URL", content=url)
    # A name is checked when it resolves, so a DNS answer cannot change after the check.
    named = await kb.add_document(
        "web", "named", "URL", content=f"http://localhost:{site.port}/canteen"
    )
    failed = await kb.sync(named.id)
    assert failed.status == FAILED and "resolves into the server's own network" in failed.result
    assert await kb.store.chunks.count() == 0


async def test_documents_and_spaces_are_deleted_with_their_chunks_and_files(
    kb: KnowledgeBase,
) -> None:
    await kb.create_space("hr")
    doc = await kb.add_document("hr", "notes.md", "DOCUMENT", data=b"# Notes\n\nParking is free.")
    other = await kb.add_document("hr", "more.txt", "DOCUMENT", data=b"Coffee is free too.")
    await kb.sync(doc.id)
    await kb.sync(other.id)
    assert doc.file_path is not None and other.file_path is not None
    assert await kb.delete_document(doc.id)
    assert not exists(doc.file_path) and not await kb.delete_document(doc.id)
    assert {c.doc_name for c in await kb.retrieve("hr", "parking", top_k=5)} == {"more.txt"}
    assert await kb.delete_space("hr")
    assert not exists(other.file_path) and not await kb.delete_space("hr")
    assert await kb.store.chunks.count() == 0


async def test_pgvector_spaces_sync_and_retrieve(
    sqlite_store: MetadataStore, models: ModelSet, pgvector_url: str
) -> None:
    kb = KnowledgeBase(sqlite_store, pgvector_url=pgvector_url, models=lambda: models)
    try:
        await kb.create_space("pg", vector_type="PGVector")
        doc = await kb.add_document("pg", "handbook", "TEXT", content=HANDBOOK)
        assert (await kb.sync(doc.id)).status == FINISHED
        found = await kb.retrieve("pg", "is a broken laptop screen repaired?", top_k=1)
        assert "IT desk" in found[0].content and found[0].doc_name == "handbook"
        assert await kb.delete_space("pg")
    finally:
        await kb.aclose()


async def test_the_retrieve_operator_and_the_running_knowledge_base(
    sqlite_store: MetadataStore, models: ModelSet
) -> None:
    await sqlite_store.spaces.add("hr", context={"embedding": {"chunk_size": 40}})
    doc = await sqlite_store.documents.add(1, "handbook", "TEXT", content=HANDBOOK)
    await sqlite_store.documents.set_status(doc.id, RUNNING)
    async with knowledge_running(sqlite_store) as kb:
        assert current_knowledge() is kb
        assert (await kb.store.documents.require(doc.id)).status == FAILED  # interrupted
        await kb.sync(doc.id)
        with DAG("rag"):
            question: InputOperator[str] = InputOperator(InputSource.from_callable())
            found = KnowledgeRetrieve(space="hr", top_k=2)
            question >> found
        chunks = await found.call("what happens to unused holiday days?")
        # The space's recall_score (0.3) is the operator's default threshold.
        assert 1 <= len(chunks) <= 2 and "expire in March" in chunks[0].content
        assert all(c.score >= 0.3 for c in chunks)
    with pytest.raises(RuntimeError, match="no knowledge base"):
        current_knowledge()
    assert KnowledgeRetrieve.Params.model_json_schema()["properties"]["space"]["description"]


async def test_knowledge_retrieve_is_built_by_name_as_yaml_flows_do(
    sqlite_store: MetadataStore, models: ModelSet
) -> None:
    async with knowledge_running(sqlite_store) as kb:
        await kb.create_space("hr")
        doc = await kb.add_document("hr", "handbook", "TEXT", content=HANDBOOK)
        await kb.sync(doc.id)
        found = await run_one(
            "knowledge.retrieve", {"space": "hr", "top_k": 1, "score_threshold": 0.0}, "receipts"
        )
        assert [c.doc_name for c in found] == ["handbook"]
        with pytest.raises(ValidationError) as exc:
            registry.build("knowledge.retrieve", {"space": "hr", "topk": 3})
        assert "topk" in str(exc.value)
        with pytest.raises(NodeError) as missing:
            await run_one("knowledge.retrieve", {"space": "nope"}, "x")
        assert isinstance(missing.value.__cause__, UnknownSpace)
