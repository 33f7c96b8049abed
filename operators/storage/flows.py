"""User flows saved through the flow API (:attr:`MetadataStore.flows`): DB-GPT's
``dbgpt_serve_flow``, with every saved version kept.

A flow's source of truth is its YAML text; the row holds it with DB-GPT's ``FlowPanel``
fields around it, and ``revision`` counts its saved versions. Each save that changes the
YAML or the state adds a :class:`FlowVersionRow` in the same transaction, so the history
never misses a version the row went through. ``file_name`` is the flow's file in the
user's flows folder while one exists (a deployed flow, or a file found there): the folder
and the store are one set (:mod:`operators.userflows.folder`). Both tables are declared
here, beside their only repository; new tables need no migration step (``create_all``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text, UniqueConstraint, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from .paging import page_limit, page_offset
from .tables import Base, _LongText, _Time, now
from .tx import Transaction, rows_affected

__all__ = ["FlowRepository", "FlowRow", "FlowVersion", "FlowVersionRow", "StoredFlow"]


class FlowRow(Base):
    """One user flow: its current YAML and DB-GPT's fields about it."""

    __tablename__ = "flows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    label: Mapped[str] = mapped_column(String(255), default="")
    dag_id: Mapped[str] = mapped_column(String(255), default="")
    flow_category: Mapped[str] = mapped_column(String(32), default="common")
    description: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(32), default="initializing")
    error_message: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(64), default="")
    source_url: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[str] = mapped_column(String(32), default="0.1.0")
    define_type: Mapped[str] = mapped_column(String(16), default="json")
    editable: Mapped[bool] = mapped_column(Boolean, default=True)
    user_name: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    sys_code: Mapped[str | None] = mapped_column(String(128), nullable=True)
    yaml: Mapped[str] = mapped_column(_LongText, default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    #: The flow's file in the user's flows folder (no folder part), while it has one.
    file_name: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    variables: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    authors: Mapped[str | None] = mapped_column(String(255), nullable=True)
    gmt_created: Mapped[datetime] = mapped_column(_Time, default=now)
    gmt_modified: Mapped[datetime] = mapped_column(_Time, default=now)


class FlowVersionRow(Base):
    """One saved version of a flow: its YAML and the state it was saved in."""

    __tablename__ = "flow_versions"
    __table_args__ = (UniqueConstraint("uid", "revision", name="uq_flow_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(64), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    yaml: Mapped[str] = mapped_column(_LongText, default="")
    state: Mapped[str] = mapped_column(String(32), default="")
    #: Why this version was saved: ``api``, ``file`` (found changed on disk), ``rollback:N``.
    note: Mapped[str] = mapped_column(String(64), default="")
    gmt_created: Mapped[datetime] = mapped_column(_Time, default=now)


@dataclass(frozen=True, slots=True)
class StoredFlow:
    """A user flow as stored; ``dataclasses.replace`` it and :meth:`FlowRepository.save`."""

    uid: str
    name: str
    yaml: str
    label: str = ""
    dag_id: str = ""
    flow_category: str = "common"
    description: str = ""
    state: str = "initializing"
    error_message: str = ""
    source: str = ""
    source_url: str = ""
    version: str = "0.1.0"
    define_type: str = "json"
    editable: bool = True
    user_name: str | None = None
    sys_code: str | None = None
    revision: int = 0
    file_name: str | None = None
    variables: list[Any] | None = None
    authors: str | None = None
    gmt_created: datetime | None = None
    gmt_modified: datetime | None = None


@dataclass(frozen=True, slots=True)
class FlowVersion:
    """One saved version of a flow."""

    uid: str
    revision: int
    yaml: str
    state: str
    note: str
    gmt_created: datetime


# The row's columns a save writes (the rest are the row's identity or set here).
_WRITTEN = tuple(
    f.name
    for f in fields(StoredFlow)
    if f.name not in ("uid", "revision", "gmt_created", "gmt_modified")
)


class FlowRepository:
    """The flows of one store; every method is one transaction."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def create(self, flow: StoredFlow, *, note: str = "api") -> StoredFlow:
        """Add ``flow`` as revision 1 (its uid must be new: the caller checks)."""
        async with self._tx() as s:
            row = FlowRow(uid=flow.uid, revision=1)
            _write(row, flow)
            s.add(row)
            s.add(_version(row, note))
            await s.flush()
            return _flow(row)

    async def save(self, flow: StoredFlow, *, note: str = "api") -> StoredFlow | None:
        """Write ``flow``'s fields over its row; a changed YAML or state is a new revision
        (kept in ``flow_versions``). None when the flow is gone."""
        async with self._tx() as s:
            row = await s.scalar(select(FlowRow).where(FlowRow.uid == flow.uid))
            if row is None:
                return None
            changed = row.yaml != flow.yaml or row.state != flow.state
            _write(row, flow)
            if changed:
                row.revision += 1
                s.add(_version(row, note))
            await s.flush()
            return _flow(row)

    async def get(self, uid: str) -> StoredFlow | None:
        async with self._tx() as s:
            row = await s.scalar(select(FlowRow).where(FlowRow.uid == uid))
            return None if row is None else _flow(row)

    async def find(
        self, *, name: str | None = None, file_name: str | None = None
    ) -> list[StoredFlow]:
        """The flows with that name, or that file in the flows folder."""
        query = select(FlowRow)
        if name is not None:
            query = query.where(FlowRow.name == name)
        if file_name is not None:
            query = query.where(FlowRow.file_name == file_name)
        async with self._tx() as s:
            return [_flow(r) for r in (await s.scalars(query.order_by(FlowRow.id))).all()]

    async def with_files(self) -> list[StoredFlow]:
        """Every flow that has a file in the flows folder."""
        async with self._tx() as s:
            rows = await s.scalars(select(FlowRow).where(FlowRow.file_name.is_not(None)))
            return [_flow(r) for r in rows.all()]

    async def delete(self, uid: str) -> bool:
        """Forget the flow and its versions."""
        async with self._tx() as s:
            await s.execute(delete(FlowVersionRow).where(FlowVersionRow.uid == uid))
            gone = await s.execute(delete(FlowRow).where(FlowRow.uid == uid))
            return bool(rows_affected(gone))

    async def versions(
        self, uid: str, *, page: int = 1, page_size: int = 20
    ) -> tuple[list[FlowVersion], int]:
        """A page of the flow's versions, newest first, and how many there are."""
        where = FlowVersionRow.uid == uid
        async with self._tx() as s:
            total = await s.scalar(select(func.count()).select_from(FlowVersionRow).where(where))
            rows = await s.scalars(
                select(FlowVersionRow)
                .where(where)
                .order_by(FlowVersionRow.revision.desc())
                .offset(page_offset(page, page_size))
                .limit(page_limit(page_size))
            )
            return [_flow_version(r) for r in rows.all()], int(total or 0)

    async def version(self, uid: str, revision: int) -> FlowVersion | None:
        async with self._tx() as s:
            row = await s.scalar(
                select(FlowVersionRow).where(
                    FlowVersionRow.uid == uid, FlowVersionRow.revision == revision
                )
            )
            return None if row is None else _flow_version(row)

    # Last: inside the class body, `list` names this method from here on.
    async def list(
        self,
        *,
        user_name: str | None = None,
        sys_code: str | None = None,
        name: str | None = None,
        uid: str | None = None,
        categories: tuple[str, ...] = (),
        page: int = 1,
        page_size: int = 20,
    ) -> tuple[list[StoredFlow], int]:
        """A page of flows, newest first, and how many match. ``user_name`` matches that
        user's flows and those nobody owns (files found in the folder)."""
        query = select(FlowRow)
        if user_name is not None:
            query = query.where((FlowRow.user_name == user_name) | FlowRow.user_name.is_(None))
        if sys_code is not None:
            query = query.where(FlowRow.sys_code == sys_code)
        if name is not None:
            query = query.where(FlowRow.name == name)
        if uid is not None:
            query = query.where(FlowRow.uid == uid)
        if categories:
            query = query.where(FlowRow.flow_category.in_(categories))
        async with self._tx() as s:
            total = await s.scalar(select(func.count()).select_from(query.subquery()))
            rows = await s.scalars(
                query.order_by(FlowRow.gmt_modified.desc(), FlowRow.id.desc())
                .offset(page_offset(page, page_size))
                .limit(page_limit(page_size))
            )
            return [_flow(r) for r in rows.all()], int(total or 0)


def _write(row: FlowRow, flow: StoredFlow) -> None:
    for name in _WRITTEN:
        setattr(row, name, getattr(flow, name))
    row.gmt_modified = now()


def _version(row: FlowRow, note: str) -> FlowVersionRow:
    return FlowVersionRow(
        uid=row.uid, revision=row.revision, yaml=row.yaml, state=row.state, note=note
    )


def _flow(row: FlowRow) -> StoredFlow:
    return StoredFlow(
        uid=row.uid,
        name=row.name,
        yaml=row.yaml,
        label=row.label,
        dag_id=row.dag_id,
        flow_category=row.flow_category,
        description=row.description,
        state=row.state,
        error_message=row.error_message,
        source=row.source,
        source_url=row.source_url,
        version=row.version,
        define_type=row.define_type,
        editable=row.editable,
        user_name=row.user_name,
        sys_code=row.sys_code,
        revision=row.revision,
        file_name=row.file_name,
        variables=row.variables,
        authors=row.authors,
        gmt_created=row.gmt_created,
        gmt_modified=row.gmt_modified,
    )


def _flow_version(row: FlowVersionRow) -> FlowVersion:
    return FlowVersion(
        uid=row.uid,
        revision=row.revision,
        yaml=row.yaml,
        state=row.state,
        note=row.note,
        gmt_created=row.gmt_created,
    )
