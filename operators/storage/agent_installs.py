"""Who installed which agent (:attr:`MetadataStore.agent_installs`): DB-GPT's ``my_plugin``.

One row per user and agent; the agent's files live once under the data folder whoever
installed them (:mod:`operators.agents.installs`). Its table is declared here, beside its
only repository, so adding it touched no other module's rows (a new table needs no
migration step: ``create_all`` makes it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from .tables import Base, _Time, now
from .tx import Transaction, rows_affected

__all__ = ["DEFAULT_USER", "AgentInstall", "AgentInstallRepository", "AgentInstallRow"]

#: Whose installs a request that names no user reads and writes.
DEFAULT_USER = "default"


class AgentInstallRow(Base):
    """One user's install of one agent (DB-GPT's ``my_plugin`` and dbgpts' ``my``)."""

    __tablename__ = "agent_installs"
    __table_args__ = (UniqueConstraint("user_name", "name", name="uq_agent_install"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_name: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    label: Mapped[str] = mapped_column(String(255), default="")
    version: Mapped[str] = mapped_column(String(64), default="")
    type: Mapped[str] = mapped_column(String(32), default="agent")
    description: Mapped[str] = mapped_column(Text, default="")
    #: Where the package came from: a hub URL, ``upload``, or a folder.
    source: Mapped[str] = mapped_column(Text, default="")
    file_name: Mapped[str] = mapped_column(String(255), default="")
    sys_code: Mapped[str | None] = mapped_column(String(128), nullable=True)
    use_count: Mapped[int] = mapped_column(Integer, default=0)
    succ_count: Mapped[int] = mapped_column(Integer, default=0)
    gmt_created: Mapped[datetime] = mapped_column(_Time, default=now)
    gmt_modified: Mapped[datetime] = mapped_column(_Time, default=now, onupdate=now)


@dataclass(frozen=True, slots=True)
class AgentInstall:
    """A user's install of an agent."""

    id: int
    user_name: str
    name: str
    label: str
    version: str
    type: str
    description: str
    source: str
    file_name: str
    sys_code: str | None
    use_count: int
    succ_count: int
    gmt_created: datetime
    gmt_modified: datetime


class AgentInstallRepository:
    """The installs of one store; every method is one transaction."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def put(
        self,
        user_name: str,
        name: str,
        *,
        label: str,
        version: str,
        description: str,
        source: str,
        file_name: str,
        type: str = "agent",
    ) -> AgentInstall:
        """Install ``name`` for the user, or refresh the install they have."""
        async with self._tx() as s:
            row = await s.scalar(
                select(AgentInstallRow).where(
                    AgentInstallRow.user_name == user_name, AgentInstallRow.name == name
                )
            )
            if row is None:
                row = AgentInstallRow(user_name=user_name, name=name)
                s.add(row)
            row.label, row.version, row.description = label, version, description
            row.source, row.file_name, row.type = source, file_name, type
            row.gmt_modified = now()
            await s.flush()
            return _install(row)

    async def get(self, user_name: str, name: str) -> AgentInstall | None:
        async with self._tx() as s:
            row = await s.scalar(
                select(AgentInstallRow).where(
                    AgentInstallRow.user_name == user_name, AgentInstallRow.name == name
                )
            )
            return None if row is None else _install(row)

    async def list(
        self, *, user_name: str | None = None, name: str | None = None
    ) -> list[AgentInstall]:
        query = select(AgentInstallRow)
        if user_name is not None:
            query = query.where(AgentInstallRow.user_name == user_name)
        if name is not None:
            query = query.where(AgentInstallRow.name == name)
        async with self._tx() as s:
            rows = await s.scalars(query.order_by(AgentInstallRow.id))
            return [_install(r) for r in rows.all()]

    async def delete(self, user_name: str, name: str) -> bool:
        """Forget the user's install (only theirs: DB-GPT deleted every user's)."""
        async with self._tx() as s:
            gone = await s.execute(
                delete(AgentInstallRow).where(
                    AgentInstallRow.user_name == user_name, AgentInstallRow.name == name
                )
            )
            return bool(rows_affected(gone))

    async def users_of(self, name: str) -> int:
        """How many users have ``name`` installed."""
        async with self._tx() as s:
            count = await s.scalar(
                select(func.count())
                .select_from(AgentInstallRow)
                .where(AgentInstallRow.name == name)
            )
            return int(count or 0)


def _install(row: AgentInstallRow) -> AgentInstall:
    return AgentInstall(
        id=row.id,
        user_name=row.user_name,
        name=row.name,
        label=row.label,
        version=row.version,
        type=row.type,
        description=row.description,
        source=row.source,
        file_name=row.file_name,
        sys_code=row.sys_code,
        use_count=row.use_count,
        succ_count=row.succ_count,
        gmt_created=row.gmt_created,
        gmt_modified=row.gmt_modified,
    )
