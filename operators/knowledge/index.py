"""Where a space's vectors live and how they are searched: one small interface, two kinds.

:class:`VectorIndex` is what ingestion and retrieval use. Chunk text and metadata always
live in the metadata store (``store.chunks``); an index keeps the vectors and answers a
query vector with chunk ids and scores (cosine similarity, higher is closer).

- :class:`ExactIndex` (the default, ``vector_type`` ``Chroma``/``exact``): vectors stored as
  float32 bytes on the chunks' rows, so they are saved with them; loaded lazily into one
  numpy matrix per space on its first search and kept in memory, then searched exactly (a
  matrix-vector product: a few ms at 100k chunks). Updates made through this process patch
  the matrix; a second process writing the same database is not seen until restart.
- :class:`~operators.knowledge.pgvector.PgVectorIndex` (``vector_type`` ``PGVector``): a
  table per space in PostgreSQL with the ``vector`` extension, an HNSW index, filters in SQL.

Every implementation keeps the same promise for :meth:`VectorIndex.replace`: a document's
chunks are swapped in one transaction of the metadata store, so a failure half way leaves
the old chunks (and their vectors) serving.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from operators.storage import KnowledgeSpace, MetadataStore, NewChunk

__all__ = ["ExactIndex", "FloatArray", "Hit", "VectorIndex", "chunk_rows", "unit_rows"]

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Hit:
    """A chunk found for a query, and its cosine similarity to it."""

    chunk_id: int
    document_id: int
    score: float


def unit_rows(vectors: FloatArray) -> FloatArray:
    """``vectors`` as float32 rows of length 1 (zero rows stay zero), so a dot product is
    the cosine similarity."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: FloatArray = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return unit


def chunk_rows(chunks: Sequence[NewChunk], vectors: FloatArray) -> FloatArray:
    """One unit row per chunk, what every index stores; ValueError when the counts differ."""
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    return unit_rows(vectors) if len(chunks) else np.empty((0, 0), np.float32)


class VectorIndex(ABC):
    """A space's vectors: written with their chunks, searched by a query vector."""

    #: The canonical ``vector_type`` this index serves.
    kind: str

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    @abstractmethod
    async def replace(
        self,
        space: KnowledgeSpace,
        document_id: int,
        chunks: Sequence[NewChunk],
        vectors: FloatArray,
    ) -> list[int]:
        """Swap the document's chunks (row ``i`` of ``vectors`` is ``chunks[i]``'s) in one
        transaction; the new chunk ids in order. Until it returns, searches see the old."""

    @abstractmethod
    async def search(
        self,
        space: KnowledgeSpace,
        query: FloatArray,
        *,
        top_k: int,
        score_threshold: float | None = None,
        document_ids: Sequence[int] | None = None,
    ) -> list[Hit]:
        """The ``top_k`` chunks closest to ``query``, best first, scoring at least
        ``score_threshold`` when given, among ``document_ids``' chunks when given."""

    @abstractmethod
    async def drop_document(self, space: KnowledgeSpace, document_id: int) -> None:
        """Forget the document's vectors, after the store deleted its chunk rows."""

    @abstractmethod
    async def drop_space(self, space: KnowledgeSpace) -> None:
        """Forget every vector of the space, after the store deleted its rows."""

    async def aclose(self) -> None:
        """Release what the index holds (connections, memory)."""
        return None


@dataclass
class _Matrix:
    """One space's vectors in memory: row ``i`` is chunk ``ids[i]`` of ``documents[i]``."""

    ids: npt.NDArray[np.int64]
    documents: npt.NDArray[np.int64]
    vectors: FloatArray

    def without(self, document_id: int) -> _Matrix:
        keep = self.documents != document_id
        return _Matrix(self.ids[keep], self.documents[keep], self.vectors[keep])

    def plus(self, ids: Sequence[int], document_id: int, vectors: FloatArray) -> _Matrix:
        if not len(ids):
            return self
        vectors = vectors if len(self.ids) == 0 else np.vstack([self.vectors, vectors])
        return _Matrix(
            np.concatenate([self.ids, np.asarray(ids, dtype=np.int64)]),
            np.concatenate([self.documents, np.full(len(ids), document_id, dtype=np.int64)]),
            vectors,
        )


class ExactIndex(VectorIndex):
    """Exact cosine search over each space's vectors, kept beside the chunks."""

    kind = "exact"

    def __init__(self, store: MetadataStore) -> None:
        super().__init__(store)
        self._spaces: dict[int, _Matrix] = {}
        # One lock per space: a lazy load and a patch of the same space never interleave.
        self._locks: dict[int, asyncio.Lock] = {}

    def _lock(self, space_id: int) -> asyncio.Lock:
        return self._locks.setdefault(space_id, asyncio.Lock())

    async def _matrix(self, space_id: int) -> _Matrix:
        found = self._spaces.get(space_id)
        if found is not None:
            return found
        async with self._lock(space_id):
            found = self._spaces.get(space_id)
            if found is None:
                found = self._spaces[space_id] = await self._load(space_id)
            return found

    async def _load(self, space_id: int) -> _Matrix:
        rows = await self.store.chunks.vectors(space_id)
        if not rows:
            return _Matrix(
                np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, 0), np.float32)
            )
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        documents = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32)
        return _Matrix(ids, documents, vectors.reshape(len(rows), -1).copy())

    async def replace(
        self,
        space: KnowledgeSpace,
        document_id: int,
        chunks: Sequence[NewChunk],
        vectors: FloatArray,
    ) -> list[int]:
        rows = chunk_rows(chunks, vectors)
        stored = [
            NewChunk(c.position, c.content, c.meta_info, rows[i].tobytes())
            for i, c in enumerate(chunks)
        ]
        ids = await self.store.chunks.replace(space.id, document_id, stored)
        async with self._lock(space.id):
            loaded = self._spaces.get(space.id)
            if loaded is not None:
                # Patched after the commit: a search in between saw the old chunks, whose
                # rows it may no longer find (retrieval skips chunks that are gone).
                self._spaces[space.id] = loaded.without(document_id).plus(ids, document_id, rows)
        return ids

    async def search(
        self,
        space: KnowledgeSpace,
        query: FloatArray,
        *,
        top_k: int,
        score_threshold: float | None = None,
        document_ids: Sequence[int] | None = None,
    ) -> list[Hit]:
        matrix = await self._matrix(space.id)
        if len(matrix.ids) == 0 or top_k < 1:
            return []
        q = unit_rows(query)[0]
        if q.shape[0] != matrix.vectors.shape[1]:
            raise ValueError(
                f"the query has {q.shape[0]} dimensions; the space's vectors have"
                f" {matrix.vectors.shape[1]} (was it embedded with another model?)"
            )
        # The product runs in numpy's BLAS, releasing the GIL; at 100k x 384 it is a few ms,
        # short enough for the event loop.
        scores = matrix.vectors @ q
        if document_ids is not None:
            scores = np.where(np.isin(matrix.documents, list(document_ids)), scores, -np.inf)
        k = min(top_k, len(scores))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        floor = -np.inf if score_threshold is None else score_threshold
        return [
            Hit(int(matrix.ids[i]), int(matrix.documents[i]), float(scores[i]))
            for i in best
            if np.isfinite(scores[i]) and scores[i] >= floor
        ]

    async def drop_document(self, space: KnowledgeSpace, document_id: int) -> None:
        async with self._lock(space.id):
            loaded = self._spaces.get(space.id)
            if loaded is not None:
                self._spaces[space.id] = loaded.without(document_id)

    async def drop_space(self, space: KnowledgeSpace) -> None:
        async with self._lock(space.id):
            self._spaces.pop(space.id, None)

    async def aclose(self) -> None:
        self._spaces.clear()
