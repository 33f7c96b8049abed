"""The agent hub's index (:attr:`MetadataStore.agent_hub`): one row per package a hub
offers, replaced source by source when a hub is synced."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select

from .paging import page_limit, page_offset
from .tables import AgentHubRow, now
from .tx import Transaction

__all__ = ["AgentHubRepository", "HubEntry", "NewHubEntry"]

#: The filters :meth:`AgentHubRepository.list` takes (DB-GPT's ``PluginHubFilter``).
FILTERS = (
    "id",
    "name",
    "description",
    "author",
    "email",
    "type",
    "version",
    "storage_channel",
    "storage_url",
)


@dataclass(frozen=True, slots=True)
class NewHubEntry:
    """What a sync learned of one package: its manifest and where its folder lies."""

    name: str
    label: str
    description: str
    author: str
    email: str
    version: str
    #: The package's folder, relative to the data folder.
    package_dir: str
    type: str = "flow"


@dataclass(frozen=True, slots=True)
class HubEntry:
    """One package of the hub's index, as stored."""

    id: int
    name: str
    label: str
    description: str
    author: str
    email: str
    type: str
    version: str
    storage_channel: str
    storage_url: str
    download_param: str
    package_dir: str
    installed: int
    gmt_created: datetime
    gmt_modified: datetime


class AgentHubRepository:
    """The hub index of one store; every method is one transaction."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def replace_source(
        self,
        storage_channel: str,
        storage_url: str,
        download_param: str,
        entries: Sequence[NewHubEntry],
    ) -> list[HubEntry]:
        """Make the index hold exactly ``entries`` for this source: new names are added,
        known ones refreshed (their ``installed`` count kept, and taken over when another
        source offered the name before), and the source's names no longer offered dropped."""
        t = now()
        async with self._tx() as s:
            by_name = {e.name: e for e in entries}
            rows = {
                r.name: r
                for r in await s.scalars(
                    select(AgentHubRow).where(AgentHubRow.name.in_(list(by_name)))
                )
            }
            await s.execute(
                delete(AgentHubRow).where(
                    AgentHubRow.storage_channel == storage_channel,
                    AgentHubRow.storage_url == storage_url,
                    AgentHubRow.name.not_in(list(by_name)),
                )
            )
            for entry in entries:
                row = rows.get(entry.name)
                if row is None:
                    row = AgentHubRow(name=entry.name, installed=0, gmt_created=t)
                    s.add(row)
                    rows[entry.name] = row
                row.label = entry.label
                row.description = entry.description
                row.author = entry.author
                row.email = entry.email
                row.type = entry.type
                row.version = entry.version
                row.storage_channel = storage_channel
                row.storage_url = storage_url
                row.download_param = download_param
                row.package_dir = entry.package_dir
                row.gmt_modified = t
            await s.flush()
            return [_entry(rows[e.name]) for e in entries]

    async def get(self, name: str) -> HubEntry | None:
        async with self._tx() as s:
            row = await s.scalar(select(AgentHubRow).where(AgentHubRow.name == name))
            return None if row is None else _entry(row)

    async def list(
        self,
        *,
        filters: dict[str, object] | None = None,
        page: int | None = None,
        page_size: int = 20,
    ) -> tuple[list[HubEntry], int]:
        """Entries matching every filter given (exact values, DB-GPT's), by name, and how
        many match in all. ``page`` (1-based) pages."""
        where = [
            getattr(AgentHubRow, key) == value
            for key, value in (filters or {}).items()
            if key in FILTERS and value
        ]
        query = select(AgentHubRow).where(*where).order_by(AgentHubRow.name)
        if page is not None:
            query = query.offset(page_offset(page, page_size)).limit(page_limit(page_size))
        async with self._tx() as s:
            total = await s.scalar(select(func.count(AgentHubRow.id)).where(*where)) or 0
            return [_entry(r) for r in await s.scalars(query)], total

    async def count_install(self, name: str, delta: int) -> None:
        """Add ``delta`` to the entry's install count (never below 0); nothing if unknown."""
        async with self._tx() as s:
            row = await s.scalar(select(AgentHubRow).where(AgentHubRow.name == name))
            if row is not None:
                row.installed = max(0, row.installed + delta)


def _entry(row: AgentHubRow) -> HubEntry:
    return HubEntry(
        id=row.id,
        name=row.name,
        label=row.label,
        description=row.description,
        author=row.author,
        email=row.email,
        type=row.type,
        version=row.version,
        storage_channel=row.storage_channel,
        storage_url=row.storage_url,
        download_param=row.download_param,
        package_dir=row.package_dir,
        installed=row.installed,
        gmt_created=row.gmt_created,
        gmt_modified=row.gmt_modified,
    )
