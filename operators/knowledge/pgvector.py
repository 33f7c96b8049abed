"""The pgvector index: a space's vectors in PostgreSQL with the ``vector`` extension.

For deployments that outgrow one process: every server process sees the same vectors, and
the HNSW index keeps search fast past what fits in memory. Each space gets a table of its
own, ``awel_kvec_<space id>`` (chunk id, document id, ``vector(dim)``), made on the first
write with an HNSW index over cosine distance, so the index never mixes spaces and a
document filter (in SQL) rarely starves it; filtered searches also turn on pgvector 0.8's
iterative scan, which keeps reading the index until ``top_k`` rows pass the filter.

The chunks' text stays in the metadata store. A sync writes the vectors inside the
metadata transaction that swaps the chunks, just before it commits (``before_commit``):
a failure writing vectors rolls the chunks back. When the metadata database is this same
PostgreSQL the two are still two transactions; the window between the two commits is the
only place a crash leaves vectors without chunks, which retrieval skips.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from operators.storage import KnowledgeSpace, MetadataStore, NewChunk

from .errors import IndexUnavailable
from .index import FloatArray, Hit, VectorIndex, chunk_rows, unit_rows

__all__ = ["PgVectorIndex"]

log = logging.getLogger("awel.knowledge")


def _register(dbapi_connection: Any, _record: Any) -> None:
    # Vectors travel as pgvector's binary format, straight from numpy arrays.
    from pgvector.asyncpg import register_vector

    dbapi_connection.run_async(register_vector)


class PgVectorIndex(VectorIndex):
    """Search with pgvector's HNSW index, one table per space. Open with :meth:`open`."""

    kind = "pgvector"

    def __init__(self, store: MetadataStore, engine: AsyncEngine) -> None:
        super().__init__(store)
        self.engine = engine
        self._tables: set[int] = set()

    @classmethod
    async def open(cls, store: MetadataStore, url: str) -> PgVectorIndex:
        """Connect to the PostgreSQL at ``url`` and make sure it has the ``vector``
        extension (creating it needs a role allowed to); :class:`IndexUnavailable` says
        what is wrong."""
        target = make_url(url)
        if target.get_backend_name() != "postgresql":
            raise IndexUnavailable(
                f"pgvector needs a PostgreSQL URL, not '{target.get_backend_name()}'",
                param="vector_type",
            )
        target = target.set(drivername="postgresql+asyncpg")
        setup = create_async_engine(target, isolation_level="AUTOCOMMIT")
        try:
            async with setup.connect() as conn:
                await conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        except (DBAPIError, OSError) as exc:
            shown = target.render_as_string(hide_password=True)
            raise IndexUnavailable(
                f"the pgvector database {shown} cannot be used: {exc}; it needs the vector"
                " extension (CREATE EXTENSION vector, as a role allowed to)",
                param="vector_type",
            ) from exc
        finally:
            await setup.dispose()
        engine = create_async_engine(target, pool_pre_ping=True)
        event.listen(engine.sync_engine, "connect", _register)
        return cls(store, engine)

    @staticmethod
    def table(space_id: int) -> str:
        """The name of the space's table (ids are integers: safe to put in SQL)."""
        return f"awel_kvec_{int(space_id)}"

    async def _ensure(self, space_id: int, dimension: int) -> None:
        if space_id in self._tables:
            return
        name = self.table(space_id)
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    f"CREATE TABLE IF NOT EXISTS {name} (chunk_id BIGINT PRIMARY KEY,"
                    f" document_id BIGINT NOT NULL, embedding vector({int(dimension)}) NOT NULL)"
                )
            )
            await conn.execute(
                text(f"CREATE INDEX IF NOT EXISTS {name}_doc ON {name} (document_id)")
            )
            await conn.execute(
                text(
                    f"CREATE INDEX IF NOT EXISTS {name}_hnsw ON {name}"
                    " USING hnsw (embedding vector_cosine_ops)"
                )
            )
        self._tables.add(space_id)

    async def _exists(self, space_id: int) -> bool:
        if space_id in self._tables:
            return True
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                text("SELECT to_regclass(:name) IS NOT NULL"), {"name": self.table(space_id)}
            )
        if found:
            self._tables.add(space_id)
        return bool(found)

    async def replace(
        self,
        space: KnowledgeSpace,
        document_id: int,
        chunks: Sequence[NewChunk],
        vectors: FloatArray,
    ) -> list[int]:
        rows = chunk_rows(chunks, vectors)
        if len(chunks):
            await self._ensure(space.id, rows.shape[1])
        name = self.table(space.id)

        async def write_vectors(ids: list[int]) -> None:
            if not len(chunks) and not await self._exists(space.id):
                return
            async with self.engine.begin() as conn:
                await conn.execute(
                    text(f"DELETE FROM {name} WHERE document_id = :d"), {"d": document_id}
                )
                if ids:
                    await conn.execute(
                        text(
                            f"INSERT INTO {name} (chunk_id, document_id, embedding)"
                            " VALUES (:c, :d, :e)"
                        ),
                        [{"c": i, "d": document_id, "e": rows[n]} for n, i in enumerate(ids)],
                    )

        # Text and metadata in the store, without vectors: they live here.
        stored = [NewChunk(c.position, c.content, c.meta_info, None) for c in chunks]
        return await self.store.chunks.replace(
            space.id, document_id, stored, before_commit=write_vectors
        )

    async def search(
        self,
        space: KnowledgeSpace,
        query: FloatArray,
        *,
        top_k: int,
        score_threshold: float | None = None,
        document_ids: Sequence[int] | None = None,
    ) -> list[Hit]:
        if top_k < 1 or not await self._exists(space.id):
            return []
        q = unit_rows(query)[0]
        name = self.table(space.id)
        where = "WHERE document_id = ANY(:docs)" if document_ids is not None else ""
        params: dict[str, Any] = {"q": q, "k": int(top_k)}
        if document_ids is not None:
            params["docs"] = [int(d) for d in document_ids]
        sql = (
            f"SELECT chunk_id, document_id, 1 - (embedding <=> :q) AS score FROM {name}"
            f" {where} ORDER BY embedding <=> :q LIMIT :k"
        )
        if score_threshold is not None:
            sql = f"SELECT * FROM ({sql}) AS best WHERE score >= :floor"
            params["floor"] = float(score_threshold)
        async with self.engine.begin() as conn:
            if document_ids is not None:
                # Without it, HNSW returns its first candidates and the filter may leave
                # fewer than top_k; relaxed order is re-sorted by the ORDER BY above.
                await conn.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
            rows = (await conn.execute(text(sql), params)).all()
        ranked = sorted(rows, key=lambda r: -float(r[2]))
        return [Hit(int(c), int(d), float(s)) for c, d, s in ranked]

    async def drop_document(self, space: KnowledgeSpace, document_id: int) -> None:
        if not await self._exists(space.id):
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                text(f"DELETE FROM {self.table(space.id)} WHERE document_id = :d"),
                {"d": document_id},
            )

    async def drop_space(self, space: KnowledgeSpace) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE IF EXISTS {self.table(space.id)}"))
        self._tables.discard(space.id)

    async def aclose(self) -> None:
        await self.engine.dispose()
