"""The vector index interface, one set of tests for both kinds: the embedded exact index
(on each metadata database) and pgvector (a PostgreSQL with the vector extension)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from operators.knowledge import ExactIndex, PgVectorIndex, VectorIndex
from operators.knowledge.index import FloatArray, unit_rows
from operators.storage import KnowledgeSpace, MetadataStore, NewChunk, open_store
from tests.knowledge.conftest import pgvector_database
from tests.storage.databases import scratch_database

DIM = 16


@pytest.fixture(params=["exact-sqlite", "exact-postgresql", "exact-mysql", "pgvector"])
async def index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorIndex]:
    kind: str = request.param
    if kind == "pgvector":
        folder: Path = request.getfixturevalue("pgserver_dir")
        async with (
            pgvector_database(folder) as pg_url,
            open_store(None, data_dir=tmp_path) as store,
        ):
            pg = await PgVectorIndex.open(store, pg_url)
            yield pg
            await pg.aclose()
        return
    backend = kind.removeprefix("exact-")
    if backend == "sqlite":
        async with open_store(None, data_dir=tmp_path) as store:
            yield ExactIndex(store)
        return
    async with scratch_database(backend) as url, open_store(url, data_dir=tmp_path) as store:
        yield ExactIndex(store)


def vectors(seed: int, n: int) -> FloatArray:
    return unit_rows(np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32))


async def space_with_docs(store: MetadataStore, name: str = "s") -> tuple[KnowledgeSpace, int, int]:
    space = await store.spaces.add(name)
    a = await store.documents.add(space.id, "a", "TEXT")
    b = await store.documents.add(space.id, "b", "TEXT")
    return space, a.id, b.id


def chunks(n: int, prefix: str) -> list[NewChunk]:
    return [NewChunk(i, f"{prefix} {i}", {"i": i}) for i in range(n)]


async def test_search_ranks_by_cosine_filters_and_thresholds(index: VectorIndex) -> None:
    space, a, b = await space_with_docs(index.store)
    va, vb = vectors(1, 20), vectors(2, 10)
    ids_a = await index.replace(space, a, chunks(20, "a"), va)
    ids_b = await index.replace(space, b, chunks(10, "b"), vb * 3)  # length does not count
    assert len(ids_a) == 20 and len(ids_b) == 10

    query = vb[4] + 0.05 * va[0]
    hits = await index.search(space, query, top_k=5)
    assert len(hits) == 5 and hits[0].chunk_id == ids_b[4] and hits[0].document_id == b
    expected = np.vstack([va, vb]) @ unit_rows(query)[0]
    assert hits[0].score == pytest.approx(float(expected.max()), abs=1e-4)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    only_a = await index.search(space, query, top_k=3, document_ids=[a])
    assert len(only_a) == 3 and {h.document_id for h in only_a} == {a}
    assert only_a[0].chunk_id == ids_a[int(np.argmax(va @ unit_rows(query)[0]))]

    strict = await index.search(space, query, top_k=30, score_threshold=0.5)
    assert [h.chunk_id for h in strict] == [ids_b[4]]
    assert await index.search(space, query, top_k=5, document_ids=[]) == []


async def test_replacing_a_document_swaps_its_vectors_and_keeps_the_others(
    index: VectorIndex,
) -> None:
    space, a, b = await space_with_docs(index.store)
    await index.replace(space, a, chunks(5, "a"), vectors(1, 5))
    await index.search(space, vectors(9, 1)[0], top_k=1)  # loaded (the exact index)
    kept = await index.replace(space, b, chunks(3, "b"), vectors(2, 3))
    new = vectors(3, 2)
    fresh = await index.replace(space, a, chunks(2, "a2"), new)

    hits = await index.search(space, new[1], top_k=10)
    assert {h.chunk_id for h in hits} == {*fresh, *kept}
    assert hits[0].chunk_id == fresh[1] and hits[0].score == pytest.approx(1.0, abs=1e-4)

    await index.replace(space, a, [], np.empty((0, DIM), np.float32))
    assert {h.document_id for h in await index.search(space, new[1], top_k=10)} == {b}


async def test_a_failed_replace_leaves_the_old_chunks_serving(
    index: VectorIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    space, a, _ = await space_with_docs(index.store)
    old = vectors(1, 4)
    old_ids = await index.replace(space, a, chunks(4, "old"), old)
    await index.search(space, old[0], top_k=1)

    with pytest.raises(ValueError, match="2 chunks but 3 vectors"):
        await index.replace(space, a, chunks(2, "new"), vectors(2, 3))

    real = index.store.chunks.replace

    async def failing_commit(
        space_id: int, document_id: int, new: list[NewChunk], **kw: object
    ) -> list[int]:
        async def boom(ids: list[int]) -> None:
            raise OSError("disk full")

        return await real(space_id, document_id, new, before_commit=boom)

    monkeypatch.setattr(index.store.chunks, "replace", failing_commit)
    with pytest.raises(OSError, match="disk full"):
        await index.replace(space, a, chunks(3, "new"), vectors(2, 3))
    monkeypatch.undo()

    hits = await index.search(space, old[2], top_k=4)
    assert {h.chunk_id for h in hits} == set(old_ids) and hits[0].chunk_id == old_ids[2]
    listed, total = await index.store.chunks.list(a)
    assert total == 4 and listed[0].content == "old 0"


async def test_dropping_documents_and_spaces(index: VectorIndex) -> None:
    space, a, b = await space_with_docs(index.store)
    other, c, _ = await space_with_docs(index.store, "other")
    await index.replace(space, a, chunks(3, "a"), vectors(1, 3))
    await index.replace(space, b, chunks(3, "b"), vectors(2, 3))
    await index.replace(other, c, chunks(2, "c"), vectors(3, 2))
    q = vectors(4, 1)[0]

    # The knowledge base deletes the rows first, then tells the index.
    await index.store.documents.delete(a)
    await index.drop_document(space, a)
    assert {h.document_id for h in await index.search(space, q, top_k=10)} == {b}
    await index.drop_space(space)
    await index.store.spaces.delete(space.id)
    assert await index.search(space, q, top_k=10) == []
    assert len(await index.search(other, q, top_k=10)) == 2


async def test_vectors_are_persisted_and_found_by_a_new_index(index: VectorIndex) -> None:
    space, a, _ = await space_with_docs(index.store)
    v = vectors(1, 6)
    ids = await index.replace(space, a, chunks(6, "a"), v)
    if isinstance(index, ExactIndex):
        again: VectorIndex = ExactIndex(index.store)
    else:
        assert isinstance(index, PgVectorIndex)
        again = PgVectorIndex(index.store, index.engine)
    hits = await again.search(space, v[3], top_k=1)
    assert hits[0].chunk_id == ids[3] and hits[0].score == pytest.approx(1.0, abs=1e-4)
