"""The metadata tables, declared once for SQLite, PostgreSQL and MySQL/MariaDB.

Column types are chosen to mean the same on all three: names are bounded ``String`` (MySQL
indexes need a length), text is ``Text``, times carry microseconds (MySQL's ``DATETIME``
drops them unless asked, and ordering by time needs them), and structured values are
``JSON``. :data:`SCHEMA_VERSION` is stored in ``awel_schema``; a change to these tables
bumps it and adds a migration step in :mod:`operators.storage.store`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.types import TypeDecorator

#: The version of the tables below (2: ``datasources.writable``; 3: ``datasources.allow_ddl``).
SCHEMA_VERSION = 3

_Time = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


class _HexBlob(TypeDecorator[bytes]):
    """MySQL's LONGBLOB, sent as hex text and turned back into bytes by ``UNHEX()``.

    aiomysql 0.3 cannot send bytes at all with PyMySQL 1.2 (it imports an escape function
    PyMySQL no longer has); text it sends fine.
    """

    impl = mysql.LONGBLOB
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any]:
        # Replaces the BLOB's own processor, which would wrap the hex text as bytes again.
        def hexed(value: Any) -> Any:
            return None if value is None else bytes(value).hex()

        return hexed

    def bind_expression(self, bindvalue: BindParameter[Any]) -> ColumnElement[Any]:
        return func.unhex(bindvalue)


# LONGBLOB on MySQL: a BLOB holds 64 KiB, too little for a large embedding.
_Blob = LargeBinary().with_variant(_HexBlob(), "mysql", "mariadb")
_LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def now() -> datetime:
    """The time stored in rows: local wall time, as DB-GPT shows it."""
    return datetime.now()


class Base(DeclarativeBase):
    pass


class SchemaRow(Base):
    """One row: the version of the tables in this database."""

    __tablename__ = "awel_schema"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    gmt_modified: Mapped[datetime] = mapped_column(_Time, default=now)


class DatasourceRow(Base):
    """A database people chat with. ``db_pwd`` holds the password encrypted, never clear;
    ``writable`` lets the SQL editor run writes there, ``allow_ddl`` also drops and replaces
    (both off unless set)."""

    __tablename__ = "datasources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    db_type: Mapped[str] = mapped_column(String(64))
    db_name: Mapped[str] = mapped_column(String(255), unique=True)
    db_path: Mapped[str] = mapped_column(Text, default="")
    db_host: Mapped[str] = mapped_column(String(255), default="")
    db_port: Mapped[int] = mapped_column(Integer, default=0)
    db_user: Mapped[str] = mapped_column(String(255), default="")
    db_pwd: Mapped[str] = mapped_column(Text, default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    sys_code: Mapped[str | None] = mapped_column(String(128), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    user_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    ext_config: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    writable: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    allow_ddl: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    gmt_created: Mapped[datetime] = mapped_column(_Time, default=now)
    gmt_modified: Mapped[datetime] = mapped_column(_Time, default=now)


class ConversationRow(Base):
    """One conversation; its messages are rows of :class:`MessageRow`."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conv_uid: Mapped[str] = mapped_column(String(128), unique=True)
    user_name: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    sys_code: Mapped[str | None] = mapped_column(String(128), nullable=True)
    app_code: Mapped[str | None] = mapped_column(String(255), nullable=True)
    chat_mode: Mapped[str] = mapped_column(String(64), default="chat_normal")
    summary: Mapped[str] = mapped_column(Text, default="")
    select_param: Mapped[str | None] = mapped_column(Text, nullable=True)
    model_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    gmt_created: Mapped[datetime] = mapped_column(_Time, default=now)
    gmt_modified: Mapped[datetime] = mapped_column(_Time, default=now, index=True)


class MessageRow(Base):
    """One message of a conversation, in order (``idx``) and by round (``round_index``)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conv_uid", "idx", name="uq_messages_conv_idx"),
        Index("ix_messages_conv_round", "conv_uid", "round_index"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conv_uid: Mapped[str] = mapped_column(
        String(128), ForeignKey("conversations.conv_uid", ondelete="CASCADE")
    )
    idx: Mapped[int] = mapped_column(Integer)
    round_index: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(_LongText, default="")
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    model_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    gmt_created: Mapped[datetime] = mapped_column(_Time, default=now)


class FileRow(Base):
    """An uploaded file: where its bytes are stored and what it was called."""

    __tablename__ = "uploaded_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    file_id: Mapped[str] = mapped_column(String(64), unique=True)
    bucket: Mapped[str] = mapped_column(String(128), default="dbgpt_app_file")
    file_name: Mapped[str] = mapped_column(String(255))
    storage_path: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(255), default="")
    file_size: Mapped[int] = mapped_column(Integer, default=0)
    file_hash: Mapped[str] = mapped_column(String(128), default="")
    conv_uid: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    user_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    custom_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    gmt_created: Mapped[datetime] = mapped_column(_Time, default=now)


class SchemaSummaryRow(Base):
    """One table's schema summary of a datasource, and its embedding (float32 bytes)."""

    __tablename__ = "schema_summaries"
    __table_args__ = (UniqueConstraint("db_name", "table_name", name="uq_summary_db_table"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    db_name: Mapped[str] = mapped_column(String(255), index=True)
    table_name: Mapped[str] = mapped_column(String(255))
    summary: Mapped[str] = mapped_column(_LongText)
    embedder: Mapped[str | None] = mapped_column(String(255), nullable=True)
    vector: Mapped[bytes | None] = mapped_column(_Blob, nullable=True)
    gmt_created: Mapped[datetime] = mapped_column(_Time, default=now)


class MessageVersionRow(Base):
    """A message's content before an edit replaced it (the SQL and chart editors' history).

    ``edit`` numbers a round's edits from 1; the messages one edit changed share it, so an
    undo restores them together. The row is the message's version ``edit`` (version 1 is what
    the chat stored). A new table, made by ``create_all`` on older databases too, so it needs
    no schema version of its own. It goes with its message (``ON DELETE CASCADE``).
    """

    __tablename__ = "message_versions"
    __table_args__ = (Index("ix_message_versions_round", "conv_uid", "round_index", "edit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    conv_uid: Mapped[str] = mapped_column(String(128))
    round_index: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(32))
    edit: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(_LongText, default="")
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    note: Mapped[str] = mapped_column(String(255), default="")
    gmt_created: Mapped[datetime] = mapped_column(_Time, default=now)


class KnowledgeSpaceRow(Base):
    """A knowledge space: documents retrieved together. ``context`` holds its arguments
    (DB-GPT's ``embedding`` and ``prompt`` settings) as JSON; ``vector_type`` names the
    index its vectors live in. New tables (made by ``create_all`` on older databases too),
    so they need no schema version of their own."""

    __tablename__ = "knowledge_spaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    vector_type: Mapped[str] = mapped_column(String(64), default="Chroma")
    domain_type: Mapped[str] = mapped_column(String(64), default="Normal")
    desc: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    gmt_created: Mapped[datetime] = mapped_column(_Time, default=now)
    gmt_modified: Mapped[datetime] = mapped_column(_Time, default=now)


class KnowledgeDocumentRow(Base):
    """A document of a space: its text (TEXT), the stored file (DOCUMENT) or the address
    (URL), and where its last sync stands (``status``, ``progress`` 0..1, ``result``)."""

    __tablename__ = "knowledge_documents"
    __table_args__ = (UniqueConstraint("space_id", "doc_name", name="uq_knowledge_doc_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    space_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("knowledge_spaces.id", ondelete="CASCADE"), index=True
    )
    doc_name: Mapped[str] = mapped_column(String(255))
    doc_type: Mapped[str] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(_LongText, default="")
    file_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(32), default="TODO")
    result: Mapped[str] = mapped_column(Text, default="")
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    last_sync: Mapped[datetime | None] = mapped_column(_Time, nullable=True)
    gmt_created: Mapped[datetime] = mapped_column(_Time, default=now)
    gmt_modified: Mapped[datetime] = mapped_column(_Time, default=now)


class KnowledgeChunkRow(Base):
    """One chunk of a document, in order (``position``), with its embedding as float32 bytes
    when its space's index keeps vectors here (the default); ``space_id`` is repeated so a
    space's vectors load without a join."""

    __tablename__ = "knowledge_chunks"
    __table_args__ = (Index("ix_knowledge_chunks_doc", "document_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("knowledge_documents.id", ondelete="CASCADE")
    )
    space_id: Mapped[int] = mapped_column(Integer, index=True)
    position: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(_LongText)
    meta_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    vector: Mapped[bytes | None] = mapped_column(_Blob, nullable=True)
    gmt_created: Mapped[datetime] = mapped_column(_Time, default=now)


class AgentHubRow(Base):
    """One agent package a hub offers (DB-GPT's ``plugin_hub``): what its manifest says,
    where it came from (``storage_channel``: git or local, ``storage_url``, the branch in
    ``download_param``), and ``package_dir``, its synced folder relative to the data folder.
    ``installed`` counts the users who installed it. A new table (made by ``create_all`` on
    older databases too), so it needs no schema version of its own."""

    __tablename__ = "agent_hub"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    label: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    type: Mapped[str] = mapped_column(String(64), default="flow")
    version: Mapped[str] = mapped_column(String(64), default="")
    storage_channel: Mapped[str] = mapped_column(String(32))
    storage_url: Mapped[str] = mapped_column(Text)
    download_param: Mapped[str] = mapped_column(Text, default="")
    package_dir: Mapped[str] = mapped_column(Text)
    installed: Mapped[int] = mapped_column(Integer, default=0)
    gmt_created: Mapped[datetime] = mapped_column(_Time, default=now)
    gmt_modified: Mapped[datetime] = mapped_column(_Time, default=now)
