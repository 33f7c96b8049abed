"""The metadata store: the engine, its transactions, the schema, and one repository per
kind of record, over SQLAlchemy's async engine.

The repositories (each in its own module) hold the queries: ``store.conversations``
(a chat round written whole, the listing), ``store.messages``, ``store.datasources``
(passwords encrypted), ``store.summaries`` (schema summaries), ``store.files`` (uploads'
records), ``store.spaces``, ``store.documents`` and ``store.chunks`` (knowledge),
``store.agent_hub`` (the agent hub's index), ``store.agent_installs`` (who installed
which agent), ``store.flows`` (user flows and their versions), ``store.variables``
(flow variables, secrets encrypted), ``store.prompts`` (stored prompt templates),
``store.feedback`` (ratings of chat rounds). Every public method is one transaction. SQLite runs
in WAL mode with ``synchronous=FULL``: a round acknowledged is on disk.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from .agent_hub import AgentHubRepository
from .agent_installs import AgentInstallRepository
from .chunks import ChunkRepository
from .conversations import ConversationRepository
from .datasources import DatasourceRepository
from .documents import DocumentRepository
from .feedback import FeedbackRepository
from .files import FileRepository
from .flows import FlowRepository
from .messages import MessageRepository
from .prompts import PromptRepository
from .secrets import SecretBox, load_keys
from .spaces import SpaceRepository
from .summaries import SummaryRepository
from .tables import SCHEMA_VERSION, Base, SchemaRow
from .variables import VariableRepository

log = logging.getLogger("awel.storage")

#: The metadata database's file in the data folder, when no URL is configured.
DEFAULT_DB_FILE = "awel.db"

# A URL naming a database but no driver gets the async driver this project installs.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "mysql": "mysql+aiomysql",
    "mariadb": "mariadb+aiomysql",
}


def metadata_url(url: str | None, data_dir: Path) -> URL:
    """The async URL of the metadata database (default: SQLite in the data folder)."""
    if not url:
        return make_url(f"sqlite+aiosqlite:///{(data_dir / DEFAULT_DB_FILE).resolve()}")
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is not None:
        parsed = parsed.set(drivername=driver)
    if parsed.get_backend_name() in ("mysql", "mariadb") and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class MetadataStore:
    """The process's metadata database. Open with :meth:`open`; close with :meth:`aclose`."""

    def __init__(
        self,
        engine: AsyncEngine,
        secrets: SecretBox,
        data_dir: Path,
        datasource_roots: Sequence[Path] = (),
    ) -> None:
        self.engine = engine
        self.secrets = secrets
        self.data_dir = data_dir
        #: Where file datasources registered by users may live (empty: anywhere but the
        #: data folder); the datasource routes enforce it.
        self.datasource_roots = tuple(datasource_roots)
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._close_hooks: list[Callable[[], Awaitable[None]]] = []
        self.conversations = ConversationRepository(self._tx)
        self.messages = MessageRepository(self._tx)
        self.datasources = DatasourceRepository(self._tx, secrets)
        self.summaries = SummaryRepository(self._tx)
        self.files = FileRepository(self._tx)
        self.spaces = SpaceRepository(self._tx)
        self.documents = DocumentRepository(self._tx)
        self.chunks = ChunkRepository(self._tx)
        self.agent_hub = AgentHubRepository(self._tx)
        self.agent_installs = AgentInstallRepository(self._tx)
        self.flows = FlowRepository(self._tx)
        self.variables = VariableRepository(self._tx, secrets)
        self.prompts = PromptRepository(self._tx)
        self.feedback = FeedbackRepository(self._tx)

    @classmethod
    async def open(
        cls,
        url: str | None = None,
        *,
        data_dir: Path,
        secret_key: str | None = None,
        datasource_roots: Sequence[Path] = (),
    ) -> MetadataStore:
        """Connect, create the tables that are missing, and check the schema version."""
        # Off the event loop: file I/O, and PBKDF2 when the key is a passphrase.
        secrets = SecretBox(await asyncio.to_thread(load_keys, data_dir, secret_key))
        target = metadata_url(url, data_dir)
        if target.get_backend_name() == "sqlite" and target.database:
            Path(target.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(target, pool_pre_ping=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        store = cls(engine, secrets, data_dir, datasource_roots)
        try:
            await store._create_schema()
        except BaseException:
            await engine.dispose()
            raise
        log.info("metadata store: %s", target.render_as_string(hide_password=True))
        return store

    def on_close(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Call ``hook`` when the store closes (what lives as long as the store: the
        datasources' connection pools)."""
        if hook not in self._close_hooks:
            self._close_hooks.append(hook)

    async def aclose(self) -> None:
        hooks, self._close_hooks = self._close_hooks, []
        for hook in reversed(hooks):
            try:
                await hook()
            except Exception:
                log.exception("a close hook of the metadata store failed")
        await self.engine.dispose()

    async def _create_schema(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        async with self._tx() as s:
            row = await s.get(SchemaRow, 1)
            if row is None:
                s.add(SchemaRow(id=1, version=SCHEMA_VERSION))
            elif row.version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"the metadata database has schema version {row.version}, newer than this"
                    f" awel's {SCHEMA_VERSION}; upgrade awel or use another database"
                )
            elif row.version < SCHEMA_VERSION:
                await self._migrate(s, row.version)
                row.version = SCHEMA_VERSION

    async def _migrate(self, s: AsyncSession, version: int) -> None:
        """Bring tables of schema ``version`` up to :data:`SCHEMA_VERSION`, one step per
        version (new tables were already made by ``create_all``)."""
        if version < 3:
            columns = await s.run_sync(
                lambda sync: {
                    c["name"] for c in inspect(sync.connection()).get_columns("datasources")
                }
            )
            # 2: datasources.writable; 3: datasources.allow_ddl.
            for added in ("writable", "allow_ddl"):
                if added not in columns:
                    await s.execute(
                        text(
                            f"ALTER TABLE datasources ADD COLUMN {added}"
                            " BOOLEAN NOT NULL DEFAULT FALSE"
                        )
                    )

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on exit, rolled back on any error."""
        async with self._sessions() as session, session.begin():
            yield session
