"""The metadata store: datasources, conversations and their messages, uploaded files, and
the schema summaries of datasources, over SQLAlchemy's async engine.

Every public method is one transaction. A chat round (:meth:`MetadataStore.save_round`) is
written whole or not at all: the conversation row is touched first, which takes its write
lock (a row lock on PostgreSQL and MySQL, the database's write lock on SQLite), so two
rounds of one conversation never interleave their message numbers. SQLite runs in WAL mode
with ``synchronous=FULL``: a round acknowledged is on disk.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event, func, inspect, select, text, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from .errors import DatasourceExists, UnknownDatasource
from .records import (
    AI,
    HUMAN,
    VIEW,
    Conversation,
    Datasource,
    Message,
    NewMessage,
    StoredFile,
    TableSummary,
)
from .secrets import SecretBox, SecretError, load_keys
from .tables import (
    SCHEMA_VERSION,
    Base,
    ConversationRow,
    DatasourceRow,
    FileRow,
    MessageRow,
    SchemaRow,
    SchemaSummaryRow,
    now,
)

log = logging.getLogger("awel.storage")

#: The metadata database's file in the data folder, when no URL is configured.
DEFAULT_DB_FILE = "awel.db"
#: DB-GPT keeps the first 250 characters of the first question as the summary.
SUMMARY_CHARS = 250

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


def _param_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


#: How often a transaction that lost a race (duplicate key, deadlock) is tried.
_ATTEMPTS = 5


def _lost_race(exc: DBAPIError) -> bool:
    """Whether ``exc`` is a transaction losing to a concurrent one, worth trying again."""
    if isinstance(exc, IntegrityError):
        return True
    orig = exc.orig
    args = getattr(orig, "args", ())
    if args and args[0] in (1205, 1213):  # MySQL: lock wait timeout, deadlock
        return True
    if getattr(orig, "sqlstate", None) in ("40001", "40P01"):  # PostgreSQL via asyncpg
        return True
    return "database is locked" in str(orig)


async def _backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, 0.02 * 2**attempt))


def _as_new(message: str | NewMessage, role: str) -> NewMessage:
    return NewMessage(role, message) if isinstance(message, str) else message


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

    # --- conversations ------------------------------------------------------------------

    async def save_round(
        self,
        conv_uid: str,
        user_message: str | NewMessage,
        assistant_message: str | NewMessage,
        *,
        view_message: str | NewMessage | None = None,
        chat_mode: str = "chat_normal",
        user_name: str | None = None,
        sys_code: str | None = None,
        app_code: str | None = None,
        select_param: Any = None,
        model_name: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> int:
        """Store one chat round (the question, the answer, and its rendered view if any) in
        one transaction, creating the conversation on its first round. ``context`` is merged
        into every message's context (DB-GPT keeps ``param_type``, ``param_value`` there).
        Returns the round's index (1-based)."""
        messages = [_as_new(user_message, HUMAN), _as_new(assistant_message, AI)]
        if view_message is not None:
            messages.append(_as_new(view_message, VIEW))
        param = _param_text(select_param)
        for attempt in range(_ATTEMPTS):
            try:
                async with self._tx() as s:
                    return await self._write_round(
                        s,
                        conv_uid,
                        messages,
                        chat_mode=chat_mode,
                        user_name=user_name,
                        sys_code=sys_code,
                        app_code=app_code,
                        select_param=param,
                        model_name=model_name,
                        context=context,
                    )
            except DBAPIError as exc:
                # Two first rounds of one new conversation raced to create it (a duplicate
                # key, or a deadlock on MySQL's gap locks): the loser tries again and finds
                # the row. Nothing of the lost attempt was kept.
                if attempt == _ATTEMPTS - 1 or not _lost_race(exc):
                    raise
                await _backoff(attempt)
        raise AssertionError("unreachable")

    async def _write_round(
        self,
        s: AsyncSession,
        conv_uid: str,
        messages: Sequence[NewMessage],
        *,
        chat_mode: str,
        user_name: str | None,
        sys_code: str | None,
        app_code: str | None,
        select_param: str | None,
        model_name: str | None,
        context: dict[str, Any] | None,
    ) -> int:
        t = now()
        changes: dict[str, Any] = {"gmt_modified": t}
        if select_param is not None:
            changes["select_param"] = select_param
        if model_name is not None:
            changes["model_name"] = model_name
        # The write comes first: it takes the lock that orders concurrent rounds.
        touched = await s.execute(
            update(ConversationRow).where(ConversationRow.conv_uid == conv_uid).values(**changes)
        )
        first_question = messages[0].content
        if getattr(touched, "rowcount", 0) == 0:
            s.add(
                ConversationRow(
                    conv_uid=conv_uid,
                    user_name=user_name,
                    sys_code=sys_code,
                    app_code=app_code,
                    chat_mode=chat_mode or "chat_normal",
                    summary=first_question[:SUMMARY_CHARS],
                    select_param=select_param,
                    model_name=model_name,
                    gmt_created=t,
                    gmt_modified=t,
                )
            )
            await s.flush()
        else:
            # A conversation created empty (by `ensure_conversation`) gets its summary now.
            await s.execute(
                update(ConversationRow)
                .where(ConversationRow.conv_uid == conv_uid, ConversationRow.summary == "")
                .values(summary=first_question[:SUMMARY_CHARS])
            )
        last = (
            await s.execute(
                select(func.max(MessageRow.idx), func.max(MessageRow.round_index)).where(
                    MessageRow.conv_uid == conv_uid
                )
            )
        ).one()
        idx = -1 if last[0] is None else last[0]
        round_index = (last[1] or 0) + 1
        for message in messages:
            idx += 1
            merged = {**(context or {}), **(message.context or {})}
            s.add(
                MessageRow(
                    conv_uid=conv_uid,
                    idx=idx,
                    round_index=round_index,
                    role=message.role,
                    content=message.content,
                    context=merged,
                    model_name=model_name,
                    gmt_created=t,
                )
            )
        await s.flush()
        return round_index

    async def ensure_conversation(
        self,
        conv_uid: str,
        *,
        chat_mode: str = "chat_normal",
        user_name: str | None = None,
        sys_code: str | None = None,
        app_code: str | None = None,
        select_param: Any = None,
        model_name: str | None = None,
    ) -> Conversation:
        """The conversation, created without messages if it does not exist yet (what a
        scene's prepare step needs, e.g. chat_excel recording its file)."""
        param = _param_text(select_param)
        for attempt in range(_ATTEMPTS):
            try:
                async with self._tx() as s:
                    row = await s.scalar(
                        select(ConversationRow).where(ConversationRow.conv_uid == conv_uid)
                    )
                    if row is None:
                        t = now()
                        row = ConversationRow(
                            conv_uid=conv_uid,
                            user_name=user_name,
                            sys_code=sys_code,
                            app_code=app_code,
                            chat_mode=chat_mode or "chat_normal",
                            summary="",
                            select_param=param,
                            model_name=model_name,
                            gmt_created=t,
                            gmt_modified=t,
                        )
                        s.add(row)
                        await s.flush()
                    elif param is not None and row.select_param != param:
                        row.select_param = param
                        row.gmt_modified = now()
                    return _conversation(row, 0)
            except DBAPIError as exc:
                if attempt == _ATTEMPTS - 1 or not _lost_race(exc):
                    raise
                await _backoff(attempt)
        raise AssertionError("unreachable")

    async def get_conversation(self, conv_uid: str) -> Conversation | None:
        async with self._tx() as s:
            row = await s.scalar(
                select(ConversationRow).where(ConversationRow.conv_uid == conv_uid)
            )
            if row is None:
                return None
            count = await s.scalar(
                select(func.count()).select_from(MessageRow).where(MessageRow.conv_uid == conv_uid)
            )
            return _conversation(row, count or 0)

    async def list_conversations(
        self,
        *,
        user_name: str | None = None,
        sys_code: str | None = None,
        chat_mode: str | None = None,
        conv_uid: str | None = None,
        page: int = 1,
        page_size: int = 10,
    ) -> tuple[list[Conversation], int]:
        """One page of conversations, most recently active first, and how many match."""
        where = []
        if user_name:
            where.append(ConversationRow.user_name == user_name)
        if sys_code:
            where.append(ConversationRow.sys_code == sys_code)
        if chat_mode:
            where.append(ConversationRow.chat_mode == chat_mode)
        if conv_uid:
            where.append(ConversationRow.conv_uid == conv_uid)
        page = max(page, 1)
        page_size = max(page_size, 1)
        async with self._tx() as s:
            total = await s.scalar(select(func.count()).select_from(ConversationRow).where(*where))
            rows = (
                await s.scalars(
                    select(ConversationRow)
                    .where(*where)
                    .order_by(ConversationRow.gmt_modified.desc(), ConversationRow.id.desc())
                    .offset((page - 1) * page_size)
                    .limit(page_size)
                )
            ).all()
            return [_conversation(r, 0) for r in rows], total or 0

    async def delete_conversation(self, conv_uid: str) -> bool:
        """Delete the conversation and its messages; False if there was none."""
        async with self._tx() as s:
            await s.execute(delete(MessageRow).where(MessageRow.conv_uid == conv_uid))
            gone = await s.execute(
                delete(ConversationRow).where(ConversationRow.conv_uid == conv_uid)
            )
            return bool(getattr(gone, "rowcount", 0))

    async def clear_messages(self, conv_uid: str) -> int:
        """Delete the conversation's messages, keep the conversation; how many went."""
        async with self._tx() as s:
            gone = await s.execute(delete(MessageRow).where(MessageRow.conv_uid == conv_uid))
            await s.execute(
                update(ConversationRow)
                .where(ConversationRow.conv_uid == conv_uid)
                .values(gmt_modified=now())
            )
            return int(getattr(gone, "rowcount", 0) or 0)

    async def list_messages(
        self, conv_uid: str, *, round_index: int | None = None
    ) -> list[Message]:
        """The conversation's messages in order (one round's, if ``round_index``)."""
        query = select(MessageRow).where(MessageRow.conv_uid == conv_uid)
        if round_index is not None:
            query = query.where(MessageRow.round_index == round_index)
        async with self._tx() as s:
            rows = (await s.scalars(query.order_by(MessageRow.idx))).all()
            return [_message(r) for r in rows]

    async def update_message(
        self,
        conv_uid: str,
        round_index: int,
        role: str,
        *,
        content: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> bool:
        """Rewrite a stored message of a round (the SQL editor saves edited SQL this way)."""
        changes: dict[str, Any] = {}
        if content is not None:
            changes["content"] = content
        if context is not None:
            changes["context"] = context
        if not changes:
            return False
        async with self._tx() as s:
            done = await s.execute(
                update(MessageRow)
                .where(
                    MessageRow.conv_uid == conv_uid,
                    MessageRow.round_index == round_index,
                    MessageRow.role == role,
                )
                .values(**changes)
            )
            return bool(getattr(done, "rowcount", 0))

    # --- datasources --------------------------------------------------------------------

    async def add_datasource(self, ds: Datasource) -> Datasource:
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

    async def update_datasource(self, ds: Datasource, *, by_id: int | None = None) -> Datasource:
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

    async def get_datasource(self, db_name: str) -> Datasource | None:
        async with self._tx() as s:
            row = await s.scalar(select(DatasourceRow).where(DatasourceRow.db_name == db_name))
            return None if row is None else self._datasource(row)

    async def get_datasource_by_id(self, ds_id: int) -> Datasource | None:
        async with self._tx() as s:
            row = await s.get(DatasourceRow, ds_id)
            return None if row is None else self._datasource(row)

    async def require_datasource(self, db_name: str) -> Datasource:
        """The datasource called ``db_name``, or a clear error naming it."""
        found = await self.get_datasource(db_name)
        if found is None:
            raise UnknownDatasource(db_name)
        return found

    async def list_datasources(
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

    async def delete_datasource(self, db_name: str) -> bool:
        """Delete the datasource and its schema summaries; False if there was none."""
        async with self._tx() as s:
            await s.execute(delete(SchemaSummaryRow).where(SchemaSummaryRow.db_name == db_name))
            gone = await s.execute(delete(DatasourceRow).where(DatasourceRow.db_name == db_name))
            return bool(getattr(gone, "rowcount", 0))

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

    # --- schema summaries ---------------------------------------------------------------

    async def replace_summaries(self, db_name: str, summaries: Sequence[TableSummary]) -> None:
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

    async def list_summaries(self, db_name: str) -> list[TableSummary]:
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

    # --- uploaded files -----------------------------------------------------------------

    async def add_file(self, record: StoredFile) -> StoredFile:
        async with self._tx() as s:
            s.add(
                FileRow(
                    file_id=record.file_id,
                    bucket=record.bucket,
                    file_name=record.file_name,
                    storage_path=record.storage_path,
                    content_type=record.content_type,
                    file_size=record.file_size,
                    file_hash=record.file_hash,
                    conv_uid=record.conv_uid,
                    user_name=record.user_name,
                    custom_metadata=record.custom_metadata,
                    gmt_created=record.gmt_created,
                )
            )
        return record

    async def get_file(self, file_id: str) -> StoredFile | None:
        async with self._tx() as s:
            row = await s.scalar(select(FileRow).where(FileRow.file_id == file_id))
            return None if row is None else _file(row)

    async def list_files(self, *, conv_uid: str | None = None) -> list[StoredFile]:
        query = select(FileRow)
        if conv_uid is not None:
            query = query.where(FileRow.conv_uid == conv_uid)
        async with self._tx() as s:
            return [_file(r) for r in (await s.scalars(query.order_by(FileRow.id))).all()]

    async def delete_file(self, file_id: str) -> bool:
        """Forget the file's record (its bytes are the caller's to remove)."""
        async with self._tx() as s:
            gone = await s.execute(delete(FileRow).where(FileRow.file_id == file_id))
            return bool(getattr(gone, "rowcount", 0))


def _conversation(row: ConversationRow, count: int) -> Conversation:
    return Conversation(
        conv_uid=row.conv_uid,
        chat_mode=row.chat_mode,
        summary=row.summary or "",
        user_name=row.user_name,
        sys_code=row.sys_code,
        app_code=row.app_code,
        select_param=row.select_param,
        model_name=row.model_name,
        gmt_created=row.gmt_created,
        gmt_modified=row.gmt_modified,
        message_count=count,
    )


def _message(row: MessageRow) -> Message:
    return Message(
        conv_uid=row.conv_uid,
        index=row.idx,
        round_index=row.round_index,
        role=row.role,
        content=row.content,
        context=dict(row.context or {}),
        model_name=row.model_name,
        gmt_created=row.gmt_created,
    )


def _file(row: FileRow) -> StoredFile:
    return StoredFile(
        file_id=row.file_id,
        file_name=row.file_name,
        storage_path=row.storage_path,
        bucket=row.bucket,
        content_type=row.content_type,
        file_size=row.file_size,
        file_hash=row.file_hash,
        conv_uid=row.conv_uid,
        user_name=row.user_name,
        custom_metadata=dict(row.custom_metadata or {}),
        gmt_created=row.gmt_created,
    )
