"""Knowledge spaces (:attr:`MetadataStore.spaces`); a space's documents and chunks go with
it (``ON DELETE CASCADE``, and deleted explicitly where foreign keys are off)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from .errors import SpaceExists, UnknownSpace, UnknownSpaceId
from .paging import page_limit, page_offset
from .records import KnowledgeSpace
from .tables import KnowledgeChunkRow, KnowledgeDocumentRow, KnowledgeSpaceRow, now
from .tx import Transaction, rows_affected

__all__ = ["SpaceRepository"]

# What update() may change; the name and id stay (documents name their space by id).
_EDITABLE = ("vector_type", "domain_type", "desc", "owner", "context")


class SpaceRepository:
    """The knowledge spaces of one store; every method is one transaction."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def add(
        self,
        name: str,
        *,
        vector_type: str = "Chroma",
        domain_type: str = "Normal",
        desc: str = "",
        owner: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> KnowledgeSpace:
        """Store a new space; :class:`SpaceExists` for a name already taken."""
        t = now()
        row = KnowledgeSpaceRow(
            name=name,
            vector_type=vector_type,
            domain_type=domain_type,
            desc=desc,
            owner=owner,
            context=context or {},
            gmt_created=t,
            gmt_modified=t,
        )
        try:
            async with self._tx() as s:
                if await s.scalar(
                    select(KnowledgeSpaceRow.id).where(KnowledgeSpaceRow.name == name)
                ):
                    raise SpaceExists(name)
                s.add(row)
                await s.flush()
                return _space(row)
        except IntegrityError:
            raise SpaceExists(name) from None

    async def get(self, name: str) -> KnowledgeSpace | None:
        async with self._tx() as s:
            row = await s.scalar(select(KnowledgeSpaceRow).where(KnowledgeSpaceRow.name == name))
            return None if row is None else _space(row)

    async def get_by_id(self, space_id: int) -> KnowledgeSpace | None:
        async with self._tx() as s:
            row = await s.get(KnowledgeSpaceRow, space_id)
            return None if row is None else _space(row)

    async def require(self, name: str, *, field: str = "space") -> KnowledgeSpace:
        """The space called ``name``, or :class:`UnknownSpace` naming it and ``field``."""
        found = await self.get(name)
        if found is None:
            raise UnknownSpace(name, field=field)
        return found

    async def require_id(self, space_id: int) -> KnowledgeSpace:
        """The space with id ``space_id``, or :class:`UnknownSpaceId` (a missing resource)."""
        found = await self.get_by_id(space_id)
        if found is None:
            raise UnknownSpaceId(str(space_id), field="space_id")
        return found

    async def list(
        self,
        *,
        name: str | None = None,
        vector_type: str | None = None,
        domain_type: str | None = None,
        owner: str | None = None,
        page: int | None = None,
        page_size: int = 20,
    ) -> tuple[list[KnowledgeSpace], int]:
        """Spaces matching every filter given (newest first, as DB-GPT lists them), each
        with its document count, and how many match in all. ``page`` (1-based) pages."""
        where = []
        if name:
            where.append(KnowledgeSpaceRow.name == name)
        if vector_type:
            where.append(KnowledgeSpaceRow.vector_type == vector_type)
        if domain_type:
            where.append(KnowledgeSpaceRow.domain_type == domain_type)
        if owner:
            where.append(KnowledgeSpaceRow.owner == owner)
        docs = (
            select(func.count(KnowledgeDocumentRow.id))
            .where(KnowledgeDocumentRow.space_id == KnowledgeSpaceRow.id)
            .scalar_subquery()
        )
        query = select(KnowledgeSpaceRow, docs).where(*where).order_by(KnowledgeSpaceRow.id.desc())
        if page is not None:
            query = query.offset(page_offset(page, page_size)).limit(page_limit(page_size))
        async with self._tx() as s:
            total = await s.scalar(select(func.count(KnowledgeSpaceRow.id)).where(*where)) or 0
            rows = (await s.execute(query)).all()
            return [_space(row, count) for row, count in rows], total

    async def update(self, space_id: int, **fields: Any) -> KnowledgeSpace:
        """Change the fields given (``vector_type``, ``domain_type``, ``desc``, ``owner``,
        ``context``); :class:`UnknownSpaceId` when there is no such space."""
        unknown = sorted(set(fields) - set(_EDITABLE))
        if unknown:
            raise TypeError(f"a space's {', '.join(unknown)} cannot be changed")
        async with self._tx() as s:
            row = await s.get(KnowledgeSpaceRow, space_id)
            if row is None:
                raise UnknownSpaceId(str(space_id), field="space_id")
            for key, value in fields.items():
                setattr(row, key, value)
            row.gmt_modified = now()
            await s.flush()
            return _space(row)

    async def delete(self, space_id: int) -> bool:
        """Delete the space, its documents and their chunks; False if there was none."""
        async with self._tx() as s:
            await s.execute(delete(KnowledgeChunkRow).where(KnowledgeChunkRow.space_id == space_id))
            await s.execute(
                delete(KnowledgeDocumentRow).where(KnowledgeDocumentRow.space_id == space_id)
            )
            gone = await s.execute(
                delete(KnowledgeSpaceRow).where(KnowledgeSpaceRow.id == space_id)
            )
            return bool(rows_affected(gone))


def _space(row: KnowledgeSpaceRow, docs: int = 0) -> KnowledgeSpace:
    return KnowledgeSpace(
        id=row.id,
        name=row.name,
        vector_type=row.vector_type,
        domain_type=row.domain_type,
        desc=row.desc or "",
        owner=row.owner,
        context=dict(row.context or {}),
        gmt_created=row.gmt_created,
        gmt_modified=row.gmt_modified,
        docs=int(docs or 0),
    )
