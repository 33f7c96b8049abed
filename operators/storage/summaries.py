"""The schema summaries of datasources (:attr:`MetadataStore.summaries`); a datasource's
go with it (:meth:`DatasourceRepository.delete
<operators.storage.datasources.DatasourceRepository.delete>`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select

from .records import TableSummary
from .tables import SchemaSummaryRow, now
from .tx import Transaction

__all__ = ["SummaryRepository"]


class SummaryRepository:
    """The schema summaries of one store; every method is one transaction."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def replace(self, db_name: str, summaries: Sequence[TableSummary]) -> None:
        """Swap a datasource's schema summaries for ``summaries``, in one transaction."""
        t = now()
        async with self._tx() as s:
            await s.execute(delete(SchemaSummaryRow).where(SchemaSummaryRow.db_name == db_name))
            await s.flush()
            for item in summaries:
                s.add(
                    SchemaSummaryRow(
                        db_name=db_name,
                        table_name=item.table_name,
                        summary=item.summary,
                        embedder=item.embedder,
                        vector=item.vector,
                        gmt_created=t,
                    )
                )

    async def list(self, db_name: str) -> list[TableSummary]:
        async with self._tx() as s:
            rows = (
                await s.scalars(
                    select(SchemaSummaryRow)
                    .where(SchemaSummaryRow.db_name == db_name)
                    .order_by(SchemaSummaryRow.table_name)
                )
            ).all()
            return [
                TableSummary(r.db_name, r.table_name, r.summary, r.embedder, r.vector) for r in rows
            ]
