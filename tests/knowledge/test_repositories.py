"""The knowledge records on SQLite, PostgreSQL and MariaDB: spaces, documents, chunks."""

from __future__ import annotations

import pytest

from operators.storage import (
    FAILED,
    FINISHED,
    RUNNING,
    TODO,
    DocumentExists,
    MetadataStore,
    NewChunk,
    SpaceExists,
    UnknownDocument,
    UnknownSpace,
    UnknownSpaceId,
)


async def test_spaces_are_added_listed_updated_and_deleted(store: MetadataStore) -> None:
    context = {"embedding": {"topk": 3, "chunk_size": 100}, "prompt": {"template": "{context}"}}
    first = await store.spaces.add(
        "handbook", desc="the staff handbook", owner="ann", context=context
    )
    await store.spaces.add("faq", vector_type="PGVector")
    assert first.context == context and first.domain_type == "Normal"
    with pytest.raises(SpaceExists) as exc:
        await store.spaces.add("handbook")
    assert exc.value.param == "name" and "handbook" in str(exc.value)

    await store.documents.add(first.id, "a.md", "TEXT", content="x")
    items, total = await store.spaces.list()
    assert total == 2 and [s.name for s in items] == ["faq", "handbook"]
    assert {s.name: s.docs for s in items} == {"faq": 0, "handbook": 1}
    items, total = await store.spaces.list(name="faq")
    assert total == 1 and items[0].vector_type == "PGVector"
    items, total = await store.spaces.list(page=2, page_size=1)
    assert total == 2 and [s.name for s in items] == ["handbook"]

    changed = await store.spaces.update(first.id, desc="new", context={"embedding": {"topk": 9}})
    assert changed.desc == "new" and changed.context == {"embedding": {"topk": 9}}
    assert (await store.spaces.require("handbook")).desc == "new"
    with pytest.raises(UnknownSpace) as missing:
        await store.spaces.require("nope")
    assert missing.value.code == "knowledge.space_not_found"
    with pytest.raises(UnknownSpaceId):
        await store.spaces.require_id(9999)

    assert await store.spaces.delete(first.id)
    assert not await store.spaces.delete(first.id)
    assert await store.spaces.get("handbook") is None
    assert await store.chunks.count(space_id=first.id) == 0


async def test_documents_are_unique_per_space_paged_and_report_their_sync(
    store: MetadataStore,
) -> None:
    one = await store.spaces.add("one")
    two = await store.spaces.add("two")
    doc = await store.documents.add(one.id, "guide.md", "TEXT", content="hello", source="web")
    assert (doc.status, doc.space, doc.progress, doc.chunk_count) == (TODO, "one", 0.0, 0)
    # The same name in another space is another document.
    await store.documents.add(two.id, "guide.md", "TEXT")
    with pytest.raises(DocumentExists) as exc:
        await store.documents.add(one.id, "guide.md", "URL", content="https://x")
    assert exc.value.param == "doc_name" and "'one'" in str(exc.value)
    with pytest.raises(UnknownSpaceId):
        await store.documents.add(9999, "x", "TEXT")
    for n in range(3):
        await store.documents.add(one.id, f"d{n}.txt", "TEXT")

    items, total = await store.documents.list(one.id, page=1, page_size=2)
    assert total == 4 and [d.doc_name for d in items] == ["d2.txt", "d1.txt"]
    items, total = await store.documents.list(one.id, doc_name="guide.md")
    assert total == 1 and items[0].id == doc.id
    items, total = await store.documents.list(one.id, ids=[doc.id, 12345])
    assert [d.id for d in items] == [doc.id]
    # No space: every space's documents (v2's GET /documents), each with its space's name.
    items, total = await store.documents.list(None, page=1, page_size=10)
    assert total == 5 and {d.space for d in items} == {"one", "two"}
    items, total = await store.documents.list(None, doc_name="guide.md")
    assert total == 2 and sorted(d.space for d in items) == ["one", "two"]

    await store.documents.set_status(doc.id, RUNNING, result="embedding", progress=0.4)
    running = await store.documents.require(doc.id)
    assert (running.status, running.progress, running.result) == (RUNNING, 0.4, "embedding")
    items, total = await store.documents.list(one.id, status=RUNNING)
    assert [d.id for d in items] == [doc.id]
    await store.documents.set_status(doc.id, FINISHED, progress=1.0, chunk_count=7)
    done = await store.documents.require(doc.id)
    assert done.status == FINISHED and done.chunk_count == 7 and done.last_sync is not None

    await store.documents.set_status(doc.id, RUNNING)
    assert await store.documents.fail_all(RUNNING, FAILED, "interrupted") == 1
    assert (await store.documents.require(doc.id)).result == "interrupted"

    with pytest.raises(UnknownDocument):
        await store.documents.require(4242)
    assert await store.documents.delete(doc.id)
    assert await store.documents.get(doc.id) is None


async def test_chunks_are_replaced_whole_or_not_at_all(store: MetadataStore) -> None:
    space = await store.spaces.add("s")
    doc = await store.documents.add(space.id, "d", "TEXT")
    old = await store.chunks.replace(
        space.id, doc.id, [NewChunk(i, f"old {i}", {"page": i}, b"\0" * 8) for i in range(3)]
    )

    async def fail(ids: list[int]) -> None:
        assert len(ids) == 5
        raise RuntimeError("the vector store went away")

    with pytest.raises(RuntimeError):
        await store.chunks.replace(
            space.id, doc.id, [NewChunk(i, f"new {i}") for i in range(5)], before_commit=fail
        )
    items, total = await store.chunks.list(doc.id)
    assert total == 3 and [c.content for c in items] == ["old 0", "old 1", "old 2"]
    assert items[1].meta_info == {"page": 1} and items[1].doc_name == "d"

    new = await store.chunks.replace(space.id, doc.id, [NewChunk(0, "new", {}, b"\1" * 8)])
    assert set(await store.chunks.get_many([*old, *new])) == set(new)
    assert await store.chunks.vectors(space.id) == [(new[0], doc.id, b"\1" * 8)]
    page, total = await store.chunks.list(doc.id, page=2, page_size=1)
    assert (page, total) == ([], 1)
    assert await store.documents.delete(doc.id)
    assert await store.chunks.count(document_id=doc.id) == 0
