"""Datasources, their passwords encrypted at rest (:attr:`MetadataStore.datasources`)."""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from .errors import DatasourceExists, UnknownDatasource
from .records import Datasource
from .secrets import SecretBox, SecretError
from .tables import DatasourceRow, SchemaSummaryRow, now
from .tx import Transaction, rows_affected

__all__ = ["DatasourceRepository"]

log = logging.getLogger("awel.storage")


class DatasourceRepository:
    """The datasources of one store; every method is one transaction."""

    def __init__(self, tx: Transaction, secrets: SecretBox) -> None:
        self._tx = tx
        self.secrets = secrets

    async def add(self, ds: Datasource) -> Datasource:
        """Store a new datasource (its password encrypted); refuses a duplicate name."""
        t = now()
        row = DatasourceRow(
            db_type=ds.db_type,
            db_name=ds.db_name,
            db_path=ds.db_path,
            db_host=ds.db_host,
            db_port=ds.db_port,
            db_user=ds.db_user,
            db_pwd=self.secrets.encrypt(ds.password),
            comment=ds.comment,
            sys_code=ds.sys_code,
            user_id=ds.user_id,
            user_name=ds.user_name,
            ext_config=ds.ext_config,
            writable=ds.writable,
            allow_ddl=ds.allow_ddl,
            gmt_created=t,
            gmt_modified=t,
        )
        try:
            async with self._tx() as s:
                if await s.scalar(
                    select(DatasourceRow.id).where(DatasourceRow.db_name == ds.db_name)
                ):
                    raise DatasourceExists(ds.db_name)
                s.add(row)
                await s.flush()
                return self._datasource(row)
        except IntegrityError:
            raise DatasourceExists(ds.db_name) from None

    async def update(self, ds: Datasource, *, by_id: int | None = None) -> Datasource:
        """Update the datasource named ``ds.db_name`` (or with id ``by_id``, which may rename
        it). ``ds.db_pwd`` None keeps the stored password."""
        try:
            async with self._tx() as s:
                key = DatasourceRow.id == by_id if by_id is not None else None
                if key is None:
                    key = DatasourceRow.db_name == ds.db_name
                row = await s.scalar(select(DatasourceRow).where(key))
                if row is None:
                    what = str(by_id) if by_id is not None else ds.db_name
                    raise UnknownDatasource(what, field="id" if by_id is not None else "db_name")
                if row.db_name != ds.db_name and await s.scalar(
                    select(DatasourceRow.id).where(DatasourceRow.db_name == ds.db_name)
                ):
                    raise DatasourceExists(ds.db_name)
                row.db_type = ds.db_type
                row.db_name = ds.db_name
                row.db_path = ds.db_path
                row.db_host = ds.db_host
                row.db_port = ds.db_port
                row.db_user = ds.db_user
                if ds.db_pwd is not None:
                    row.db_pwd = self.secrets.encrypt(ds.db_pwd)
                row.comment = ds.comment
                if ds.sys_code is not None:
                    row.sys_code = ds.sys_code
                if ds.user_id is not None:
                    row.user_id = ds.user_id
                if ds.user_name is not None:
                    row.user_name = ds.user_name
                if ds.ext_config is not None:
                    row.ext_config = ds.ext_config
                row.writable = ds.writable
                row.allow_ddl = ds.allow_ddl
                row.gmt_modified = now()
                await s.flush()
                return self._datasource(row)
        except IntegrityError:
            raise DatasourceExists(ds.db_name) from None

    async def get(self, db_name: str) -> Datasource | None:
        async with self._tx() as s:
            row = await s.scalar(select(DatasourceRow).where(DatasourceRow.db_name == db_name))
            return None if row is None else self._datasource(row)

    async def get_by_id(self, ds_id: int) -> Datasource | None:
        async with self._tx() as s:
            row = await s.get(DatasourceRow, ds_id)
            return None if row is None else self._datasource(row)

    async def require(self, db_name: str) -> Datasource:
        """The datasource called ``db_name``, or a clear error naming it."""
        found = await self.get(db_name)
        if found is None:
            raise UnknownDatasource(db_name)
        return found

    async def list(
        self, *, user_id: str | None = None, db_name: str | None = None
    ) -> list[Datasource]:
        """Datasources in the order they were added. With ``user_id``: that user's and
        those of nobody in particular (DB-GPT's visibility rule)."""
        query = select(DatasourceRow)
        if user_id:
            query = query.where(
                (DatasourceRow.user_id == user_id)
                | (DatasourceRow.user_id.is_(None))
                | (DatasourceRow.user_id == "")
            )
        if db_name:
            query = query.where(DatasourceRow.db_name == db_name)
        async with self._tx() as s:
            rows = (await s.scalars(query.order_by(DatasourceRow.id))).all()
            return [self._datasource(r) for r in rows]

    async def delete(self, db_name: str) -> bool:
        """Delete the datasource and its schema summaries; False if there was none."""
        async with self._tx() as s:
            await s.execute(delete(SchemaSummaryRow).where(SchemaSummaryRow.db_name == db_name))
            gone = await s.execute(delete(DatasourceRow).where(DatasourceRow.db_name == db_name))
            return bool(rows_affected(gone))

    def _datasource(self, row: DatasourceRow) -> Datasource:
        try:
            password = self.secrets.decrypt(row.db_pwd, what=f"the password of '{row.db_name}'")
        except SecretError:
            log.warning("the password of datasource '%s' cannot be decrypted", row.db_name)
            password = ""
        return Datasource(
            id=row.id,
            db_type=row.db_type,
            db_name=row.db_name,
            db_path=row.db_path or "",
            db_host=row.db_host or "",
            db_port=row.db_port or 0,
            db_user=row.db_user or "",
            db_pwd=password,
            comment=row.comment or "",
            sys_code=row.sys_code,
            user_id=row.user_id,
            user_name=row.user_name,
            ext_config=row.ext_config,
            writable=bool(row.writable),
            allow_ddl=bool(row.allow_ddl),
            gmt_created=row.gmt_created,
            gmt_modified=row.gmt_modified,
        )
