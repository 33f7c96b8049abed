"""What the store hands out and takes in: plain frozen dataclasses, never ORM rows.

A record is detached from any session, so a flow can keep it past the transaction that
read it. :class:`Datasource` carries its password in clear in memory (``repr`` hides it);
:meth:`Datasource.public` is the only form a route may answer with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: What a route shows instead of a stored password.
PASSWORD_MASK = "******"

#: DB-GPT's message roles.
HUMAN = "human"
AI = "ai"
VIEW = "view"


@dataclass(frozen=True, slots=True)
class Datasource:
    """A datasource's settings. ``db_pwd`` None on an update means: keep the stored one."""

    db_type: str
    db_name: str
    db_path: str = ""
    db_host: str = ""
    db_port: int = 0
    db_user: str = ""
    db_pwd: str | None = field(default="", repr=False)
    comment: str = ""
    sys_code: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    ext_config: dict[str, Any] | None = None
    #: Whether the SQL editor may write here (SELECT, CREATE TABLE, INSERT, UPDATE, DELETE,
    #: ALTER TABLE); read-only otherwise.
    writable: bool = False
    #: Whether the editor may also drop or replace objects there (DROP, TRUNCATE, CREATE OR
    #: REPLACE, ALTER TABLE ... DROP); only with ``writable``, off unless set.
    allow_ddl: bool = False
    id: int | None = None
    gmt_created: datetime | None = None
    gmt_modified: datetime | None = None

    @property
    def password(self) -> str:
        return self.db_pwd or ""

    def public(self) -> dict[str, Any]:
        """DB-GPT's ``connect_config`` row, the password masked (empty stays empty)."""
        return {
            "id": self.id,
            "db_type": self.db_type,
            "db_name": self.db_name,
            "db_path": self.db_path,
            "db_host": self.db_host,
            "db_port": self.db_port,
            "db_user": self.db_user,
            "db_pwd": PASSWORD_MASK if self.db_pwd else "",
            "comment": self.comment,
            "sys_code": self.sys_code,
            "user_id": self.user_id,
            "user_name": self.user_name,
            "gmt_created": _time(self.gmt_created),
            "gmt_modified": _time(self.gmt_modified),
            "ext_config": self.ext_config,
        }


def _time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else None


@dataclass(frozen=True, slots=True)
class Conversation:
    """One conversation. ``summary`` is the start of its first question."""

    conv_uid: str
    chat_mode: str
    summary: str
    user_name: str | None
    sys_code: str | None
    app_code: str | None
    select_param: str | None
    model_name: str | None
    gmt_created: datetime
    gmt_modified: datetime
    message_count: int = 0


@dataclass(frozen=True, slots=True)
class Message:
    """One stored message. ``index`` orders a conversation's messages (0-based);
    ``round_index`` is the chat round it belongs to (1-based, as DB-GPT counts)."""

    conv_uid: str
    index: int
    round_index: int
    role: str
    content: str
    context: dict[str, Any]
    model_name: str | None
    gmt_created: datetime


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to store as part of a round."""

    role: str
    content: str
    context: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class StoredFile:
    """An uploaded file's record; its bytes are at ``storage_path``."""

    file_id: str
    file_name: str
    storage_path: str
    bucket: str
    content_type: str
    file_size: int
    file_hash: str
    conv_uid: str | None
    user_name: str | None
    custom_metadata: dict[str, Any]
    gmt_created: datetime


@dataclass(frozen=True, slots=True)
class TableSummary:
    """One table's schema summary, and its embedding when one was made."""

    db_name: str
    table_name: str
    summary: str
    embedder: str | None = None
    vector: bytes | None = None


#: A knowledge document's sync states, as DB-GPT names them.
TODO = "TODO"
RUNNING = "RUNNING"
FINISHED = "FINISHED"
FAILED = "FAILED"
#: Where a knowledge document's text comes from: given inline, an uploaded file, an address.
DOC_TYPES = ("TEXT", "DOCUMENT", "URL")


@dataclass(frozen=True, slots=True)
class KnowledgeSpace:
    """A knowledge space. ``context`` is its arguments as stored (DB-GPT's ``embedding``
    and ``prompt`` settings; :mod:`operators.knowledge.arguments` reads them); ``docs``
    counts its documents where the listing asked for it."""

    id: int
    name: str
    vector_type: str
    domain_type: str
    desc: str
    owner: str | None
    context: dict[str, Any]
    gmt_created: datetime
    gmt_modified: datetime
    docs: int = 0


@dataclass(frozen=True, slots=True)
class KnowledgeDocument:
    """A document of a space. ``content`` is the text (TEXT) or the address (URL);
    ``file_path`` where an uploaded file's bytes are kept (DOCUMENT). ``progress`` runs
    from 0 to 1 while a sync is ``RUNNING``; ``result`` says how the last sync ended
    (the failure's text when ``FAILED``)."""

    id: int
    space_id: int
    space: str
    doc_name: str
    doc_type: str
    content: str
    file_path: str | None
    source: str | None
    status: str
    result: str
    chunk_count: int
    progress: float
    meta: dict[str, Any]
    last_sync: datetime | None
    gmt_created: datetime
    gmt_modified: datetime


@dataclass(frozen=True, slots=True)
class NewChunk:
    """A chunk to store: its place in the document, text, metadata (the page, the heading
    ...) and, for indexes that keep vectors in the metadata database, its vector."""

    position: int
    content: str
    meta_info: dict[str, Any] = field(default_factory=dict)
    vector: bytes | None = None


@dataclass(frozen=True, slots=True)
class KnowledgeChunk:
    """A stored chunk and the name of its document."""

    id: int
    document_id: int
    doc_name: str
    position: int
    content: str
    meta_info: dict[str, Any]
