"""Knowledge documents (:attr:`MetadataStore.documents`): what each is, and where its last
sync stands. Their chunks are :mod:`.chunks`'."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from .errors import DocumentExists, UnknownDocument, UnknownSpaceId
from .paging import page_limit, page_offset
from .records import DOC_TYPES, FINISHED, RUNNING, TODO, KnowledgeDocument
from .tables import KnowledgeChunkRow, KnowledgeDocumentRow, KnowledgeSpaceRow, now
from .tx import Transaction, rows_affected

__all__ = ["DocumentRepository"]

# Keeps "unset" apart from None, which some fields take as a value.
_UNSET: Any = object()


class DocumentRepository:
    """The knowledge documents of one store; every method is one transaction."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def add(
        self,
        space_id: int,
        doc_name: str,
        doc_type: str,
        *,
        content: str = "",
        file_path: str | None = None,
        source: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> KnowledgeDocument:
        """Store a new document (status TODO); :class:`DocumentExists` when the space has
        one of that name, :class:`UnknownSpaceId` when there is no such space."""
        if doc_type not in DOC_TYPES:
            raise ValueError(f"doc_type must be one of {', '.join(DOC_TYPES)}, not {doc_type!r}")
        t = now()
        row = KnowledgeDocumentRow(
            space_id=space_id,
            doc_name=doc_name,
            doc_type=doc_type,
            content=content,
            file_path=file_path,
            source=source,
            status=TODO,
            result="",
            chunk_count=0,
            progress=0.0,
            meta=meta or {},
            gmt_created=t,
            gmt_modified=t,
        )
        space_name = str(space_id)
        try:
            async with self._tx() as s:
                space = await s.get(KnowledgeSpaceRow, space_id)
                if space is None:
                    raise UnknownSpaceId(str(space_id), field="space_id")
                space_name = space.name
                taken = await s.scalar(
                    select(KnowledgeDocumentRow.id).where(
                        KnowledgeDocumentRow.space_id == space_id,
                        KnowledgeDocumentRow.doc_name == doc_name,
                    )
                )
                if taken:
                    raise DocumentExists(space_name, doc_name)
                s.add(row)
                await s.flush()
                return _document(row, space_name)
        except IntegrityError:
            raise DocumentExists(space_name, doc_name) from None

    async def get(self, document_id: int) -> KnowledgeDocument | None:
        async with self._tx() as s:
            found = (
                await s.execute(
                    select(KnowledgeDocumentRow, KnowledgeSpaceRow.name)
                    .join(KnowledgeSpaceRow, KnowledgeSpaceRow.id == KnowledgeDocumentRow.space_id)
                    .where(KnowledgeDocumentRow.id == document_id)
                )
            ).first()
            return None if found is None else _document(found[0], found[1])

    async def require(self, document_id: int, *, field: str = "document_id") -> KnowledgeDocument:
        """The document with that id, or :class:`UnknownDocument` naming ``field``."""
        found = await self.get(document_id)
        if found is None:
            raise UnknownDocument(document_id, field=field)
        return found

    async def list(
        self,
        space_id: int | None,
        *,
        doc_name: str | None = None,
        ids: Sequence[int] | None = None,
        status: str | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> tuple[list[KnowledgeDocument], int]:
        """A page (1-based; newest first, as DB-GPT lists them) of a space's documents
        (every space's with ``space_id`` None) matching every filter given, and how many
        match in all."""
        where = [] if space_id is None else [KnowledgeDocumentRow.space_id == space_id]
        if doc_name:
            where.append(KnowledgeDocumentRow.doc_name == doc_name)
        if ids is not None:
            where.append(KnowledgeDocumentRow.id.in_(list(ids)))
        if status:
            where.append(KnowledgeDocumentRow.status == status)
        query = (
            select(KnowledgeDocumentRow, KnowledgeSpaceRow.name)
            .join(KnowledgeSpaceRow, KnowledgeSpaceRow.id == KnowledgeDocumentRow.space_id)
            .where(*where)
            .order_by(KnowledgeDocumentRow.id.desc())
            .offset(page_offset(page, page_size))
            .limit(page_limit(page_size))
        )
        async with self._tx() as s:
            total = await s.scalar(select(func.count(KnowledgeDocumentRow.id)).where(*where)) or 0
            rows = (await s.execute(query)).all()
            return [_document(row, name) for row, name in rows], total

    async def set_status(
        self,
        document_id: int,
        status: str,
        *,
        result: str | None = None,
        progress: float | None = None,
        chunk_count: int | None = None,
        last_sync: datetime | None = _UNSET,
    ) -> None:
        """Record where a sync stands: the status, and what else is given. FINISHED sets
        ``last_sync`` to now unless given; RUNNING with no progress starts it at 0."""
        async with self._tx() as s:
            row = await s.get(KnowledgeDocumentRow, document_id)
            if row is None:
                raise UnknownDocument(document_id)
            if progress is None and status == RUNNING and row.status != RUNNING:
                progress = 0.0
            row.status = status
            if result is not None:
                row.result = result
            if progress is not None:
                row.progress = max(0.0, min(1.0, progress))
            if chunk_count is not None:
                row.chunk_count = chunk_count
            if last_sync is not _UNSET:
                row.last_sync = last_sync
            elif status == FINISHED:
                row.last_sync = now()
            row.gmt_modified = now()

    async def fail_all(self, status: str, to: str, result: str) -> int:
        """Move every document in ``status`` to ``to`` with ``result`` (syncs a stopped
        process left RUNNING); how many moved."""
        async with self._tx() as s:
            moved = await s.execute(
                update(KnowledgeDocumentRow)
                .where(KnowledgeDocumentRow.status == status)
                .values(status=to, result=result, gmt_modified=now())
            )
            return rows_affected(moved)

    async def update(self, document_id: int, **fields: Any) -> KnowledgeDocument:
        """Change ``content``, ``source``, ``file_path`` or ``meta``."""
        allowed = {"content", "source", "file_path", "meta"}
        unknown = sorted(set(fields) - allowed)
        if unknown:
            raise TypeError(f"a document's {', '.join(unknown)} cannot be changed here")
        async with self._tx() as s:
            row = await s.get(KnowledgeDocumentRow, document_id)
            if row is None:
                raise UnknownDocument(document_id)
            for key, value in fields.items():
                setattr(row, key, value)
            row.gmt_modified = now()
        return await self.require(document_id)

    async def delete(self, document_id: int) -> bool:
        """Delete the document and its chunks; False if there was none."""
        async with self._tx() as s:
            await s.execute(
                delete(KnowledgeChunkRow).where(KnowledgeChunkRow.document_id == document_id)
            )
            gone = await s.execute(
                delete(KnowledgeDocumentRow).where(KnowledgeDocumentRow.id == document_id)
            )
            return bool(rows_affected(gone))


def _document(row: KnowledgeDocumentRow, space: str) -> KnowledgeDocument:
    return KnowledgeDocument(
        id=row.id,
        space_id=row.space_id,
        space=space,
        doc_name=row.doc_name,
        doc_type=row.doc_type,
        content=row.content or "",
        file_path=row.file_path,
        source=row.source,
        status=row.status,
        result=row.result or "",
        chunk_count=row.chunk_count or 0,
        progress=float(row.progress or 0.0),
        meta=dict(row.meta or {}),
        last_sync=row.last_sync,
        gmt_created=row.gmt_created,
        gmt_modified=row.gmt_modified,
    )
