"""The chunks of knowledge documents (:attr:`MetadataStore.chunks`): their text, metadata
and, for the default index, their vectors (float32 bytes).

A document's chunks are replaced whole (:meth:`ChunkRepository.replace`): the old ones
serve until the transaction that writes the new ones commits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import delete, func, select

from .paging import page_limit, page_offset
from .records import KnowledgeChunk, NewChunk
from .tables import KnowledgeChunkRow, KnowledgeDocumentRow, now
from .tx import Transaction

__all__ = ["BeforeCommit", "ChunkRepository", "SpaceVectors"]

#: Called with the new chunks' ids (in the order given) inside the replacing transaction,
#: just before it commits: an index kept elsewhere writes its vectors then, and a failure
#: there rolls the chunks back too.
BeforeCommit = Callable[[list[int]], Awaitable[None]]

#: A space's stored vectors: (chunk id, document id, float32 bytes) per chunk, by id.
SpaceVectors = list[tuple[int, int, bytes]]


class ChunkRepository:
    """The knowledge chunks of one store; every method is one transaction."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def replace(
        self,
        space_id: int,
        document_id: int,
        chunks: Sequence[NewChunk],
        *,
        before_commit: BeforeCommit | None = None,
    ) -> list[int]:
        """Swap the document's chunks for ``chunks`` in one transaction; their new ids, in
        the order given. Until it commits, readers see the old chunks."""
        t = now()
        async with self._tx() as s:
            await s.execute(
                delete(KnowledgeChunkRow).where(KnowledgeChunkRow.document_id == document_id)
            )
            rows = [
                KnowledgeChunkRow(
                    document_id=document_id,
                    space_id=space_id,
                    position=c.position,
                    content=c.content,
                    meta_info=c.meta_info,
                    vector=c.vector,
                    gmt_created=t,
                )
                for c in chunks
            ]
            s.add_all(rows)
            await s.flush()
            ids = [r.id for r in rows]
            if before_commit is not None:
                await before_commit(ids)
            return ids

    async def list(
        self, document_id: int, *, page: int = 1, page_size: int = 20
    ) -> tuple[list[KnowledgeChunk], int]:
        """A page (1-based) of the document's chunks in order, and how many it has."""
        where = KnowledgeChunkRow.document_id == document_id
        query = (
            select(KnowledgeChunkRow, KnowledgeDocumentRow.doc_name)
            .join(KnowledgeDocumentRow, KnowledgeDocumentRow.id == KnowledgeChunkRow.document_id)
            .where(where)
            .order_by(KnowledgeChunkRow.position, KnowledgeChunkRow.id)
            .offset(page_offset(page, page_size))
            .limit(page_limit(page_size))
        )
        async with self._tx() as s:
            total = await s.scalar(select(func.count(KnowledgeChunkRow.id)).where(where)) or 0
            rows = (await s.execute(query)).all()
            return [_chunk(row, name) for row, name in rows], total

    async def get_many(self, ids: Sequence[int]) -> dict[int, KnowledgeChunk]:
        """The chunks with these ids that still exist, by id."""
        if not ids:
            return {}
        query = (
            select(KnowledgeChunkRow, KnowledgeDocumentRow.doc_name)
            .join(KnowledgeDocumentRow, KnowledgeDocumentRow.id == KnowledgeChunkRow.document_id)
            .where(KnowledgeChunkRow.id.in_(list(ids)))
        )
        async with self._tx() as s:
            return {row.id: _chunk(row, name) for row, name in (await s.execute(query)).all()}

    async def vectors(self, space_id: int) -> SpaceVectors:
        """Every stored vector of the space (chunks without one are left out), by id."""
        query = (
            select(KnowledgeChunkRow.id, KnowledgeChunkRow.document_id, KnowledgeChunkRow.vector)
            .where(KnowledgeChunkRow.space_id == space_id, KnowledgeChunkRow.vector.is_not(None))
            .order_by(KnowledgeChunkRow.id)
        )
        async with self._tx() as s:
            return [(i, d, bytes(v or b"")) for i, d, v in (await s.execute(query)).all()]

    async def count(self, *, space_id: int | None = None, document_id: int | None = None) -> int:
        where = []
        if space_id is not None:
            where.append(KnowledgeChunkRow.space_id == space_id)
        if document_id is not None:
            where.append(KnowledgeChunkRow.document_id == document_id)
        async with self._tx() as s:
            return await s.scalar(select(func.count(KnowledgeChunkRow.id)).where(*where)) or 0


def _chunk(row: KnowledgeChunkRow, doc_name: str) -> KnowledgeChunk:
    return KnowledgeChunk(
        id=row.id,
        document_id=row.document_id,
        doc_name=doc_name,
        position=row.position,
        content=row.content,
        meta_info=dict(row.meta_info or {}),
    )
