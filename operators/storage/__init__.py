"""Metadata storage: datasources, conversations and messages, uploaded files, schema summaries.

One :class:`MetadataStore` per process, on SQLAlchemy 2's async engine: SQLite in the data
folder by default (``<data_dir>/awel.db``), PostgreSQL or MySQL/MariaDB by URL (the
``metadata_db`` setting, e.g. ``postgresql://user@host/db``; the async driver is added).
The server opens it at start-up and installs it; flows reach it with :func:`current_store`,
as they reach models with ``operators.models.current_models()``.

    >>> store = current_store()  # doctest: +SKIP
    >>> round_index = await store.conversations.save_round(  # doctest: +SKIP
    ...     conv_uid, "How many users?", '{"sql": "SELECT count(*) FROM users"}',
    ...     view_message="There are 42 users.", chat_mode="chat_with_db_execute",
    ...     user_name="001", select_param="shop", model_name="smollm2",
    ... )
    >>> await store.messages.list(conv_uid)  # doctest: +SKIP
    [Message(role='human', round_index=1, ...), Message(role='ai', ...), Message(role='view', ...)]

The API (every method is async and one transaction; records are frozen dataclasses from
:mod:`operators.storage.records`) is one repository per kind of record, each in its own
module, all on the store's engine:

- ``store.conversations`` (:mod:`.conversations`): ``save_round(conv_uid, user_message,
  assistant_message, *, view_message, chat_mode, user_name, sys_code, app_code,
  select_param, model_name, context) -> round`` (the whole round or nothing; creates the
  conversation on its first round, its summary the first 250 characters of the question),
  ``ensure(conv_uid, ...)``, ``get(conv_uid)``, ``list(user_name=, sys_code=, chat_mode=,
  conv_uid=, page=, page_size=) -> (items, total)``, ``delete(conv_uid)``.
- ``store.messages`` (:mod:`.messages`): ``list(conv_uid, round_index=None)``,
  ``clear(conv_uid)``, ``update(conv_uid, round_index, role, content=, context=)``.
  Messages carry DB-GPT's roles ``human``, ``ai``, ``view``; ``index`` orders them,
  ``round_index`` (1-based) groups them. Edits that keep versions: :mod:`.versions`.
- ``store.datasources`` (:mod:`.datasources`): ``add(Datasource)`` (refuses a duplicate
  name: :class:`DatasourceExists`), ``update(ds, by_id=None)`` (``db_pwd=None`` keeps the
  stored password), ``get(name)``, ``get_by_id(id)``, ``require(name)``
  (:class:`UnknownDatasource` names it), ``list(user_id=, db_name=)``, ``delete(name)``
  (its schema summaries too). Passwords are encrypted at rest (Fernet; key from the
  ``secret_key`` setting, a passphrase salted with ``<data_dir>/secret.salt``, or
  ``<data_dir>/secret.key``); ``Datasource.public()`` is the only form a route answers
  with, the password masked.
- ``store.summaries`` (:mod:`.summaries`): ``replace(db_name, [TableSummary])``,
  ``list(db_name)``.
- ``store.files`` (:mod:`.files`): ``add(StoredFile)``, ``get(file_id)``,
  ``list(conv_uid=)``, ``delete(file_id)``.

- ``store.spaces`` (:mod:`.spaces`): knowledge spaces. ``add(name, vector_type=,
  domain_type=, desc=, owner=, context=)`` (:class:`SpaceExists`), ``get(name)``,
  ``get_by_id(id)``, ``require(name)`` (:class:`UnknownSpace`), ``require_id(id)``
  (:class:`UnknownSpaceId`), ``list(name=, vector_type=, domain_type=, owner=, page=,
  page_size=) -> (items, total)`` (each with its ``docs`` count), ``update(id, **fields)``,
  ``delete(id)`` (its documents and chunks too).
- ``store.documents`` (:mod:`.documents`): ``add(space_id, doc_name, doc_type, content=,
  file_path=, source=, meta=)`` (:class:`DocumentExists`), ``get(id)``, ``require(id)``
  (:class:`UnknownDocument`), ``list(space_id, doc_name=, ids=, status=, page=,
  page_size=) -> (items, total)``, ``set_status(id, status, result=, progress=,
  chunk_count=)``, ``update(id, ...)``, ``delete(id)`` (its chunks too).
- ``store.chunks`` (:mod:`.chunks`): ``replace(space_id, document_id, [NewChunk],
  before_commit=)`` (atomic), ``list(document_id, page=, page_size=)``, ``get_many(ids)``,
  ``vectors(space_id)``, ``count(space_id=, document_id=)``. The knowledge base on top
  (indexes, ingestion, retrieval) is :mod:`operators.knowledge`.
- ``store.agent_hub`` (:mod:`.agent_hub`): the agent hub's index. ``replace_source(channel,
  url, download_param, [NewHubEntry])`` (a sync: the source's entries exactly),
  ``get(name)``, ``list(filters=, page=, page_size=) -> (items, total)``,
  ``count_install(name, delta)``. Syncing and the packages' folders: :mod:`operators.agents`.
- ``store.flows`` (:mod:`.flows`): user flows as the flow API saves them, their YAML and
  every saved version. ``create(StoredFlow)``, ``save(StoredFlow)`` (a changed YAML or
  state is a new revision), ``get(uid)``, ``find(name=, file_name=)``, ``with_files()``,
  ``list(user_name=, sys_code=, name=, uid=, categories=, page=, page_size=) -> (items,
  total)``, ``delete(uid)``, ``versions(uid, page=, page_size=)``, ``version(uid, n)``.
  Deploying and the flows folder: :mod:`operators.userflows`.
- ``store.variables`` (:mod:`.variables`): flow variables. ``add(NewVariable)``
  (:class:`VariableExists`), ``update(id, NewVariable)`` (``value=None`` keeps the stored
  value), ``get(id)``, ``require(id)`` (:class:`UnknownVariable`), ``find(key, name, scope=,
  scope_key=, user_name=, sys_code=)`` (enabled only; the one read that decrypts a
  secret), ``list(key=, scope=, ..., page=, page_size=) -> (items, total)``, ``keys()``,
  ``delete(id)``. Secrets are encrypted at rest like passwords; ``Variable.public()`` masks.

- ``store.prompts`` (:mod:`.prompts`): stored prompt templates (DB-GPT's
  ``prompt_manage``). ``add(NewPrompt)`` (:class:`PromptExists`), ``update(code,
  changes)`` (:class:`UnknownPrompt`), ``get(code)``, ``list(filters, page=, page_size=)
  -> (items, total)``, ``delete(name, sys_code=)``.
- ``store.feedback`` (:mod:`.feedback`): ratings of chat rounds (DB-GPT's
  ``chat_feed_back``), one per round. ``put(NewFeedback)``, ``get(conv_uid, conv_index)``,
  ``of_conversation(conv_uid)``, ``forget(conv_uid)``.

Tests and tools open a store of their own with ``async with open_store(None,
data_dir=tmp) as store:``, which installs it for the block.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from .agent_hub import HubEntry, NewHubEntry
from .errors import (
    DatasourceExists,
    DocumentExists,
    PromptExists,
    SpaceExists,
    StoreNotOpen,
    UnknownDatasource,
    UnknownDatasourceId,
    UnknownDocument,
    UnknownPrompt,
    UnknownSpace,
    UnknownSpaceId,
)
from .feedback import Feedback, NewFeedback
from .prompts import NewPrompt, Prompt
from .records import (
    AI,
    DOC_TYPES,
    FAILED,
    FINISHED,
    HUMAN,
    PASSWORD_MASK,
    RUNNING,
    TODO,
    VIEW,
    Conversation,
    Datasource,
    KnowledgeChunk,
    KnowledgeDocument,
    KnowledgeSpace,
    Message,
    NewChunk,
    NewMessage,
    StoredFile,
    TableSummary,
)
from .secrets import SecretError
from .store import DEFAULT_DB_FILE, MetadataStore, metadata_url

__all__ = [
    "AI",
    "DEFAULT_DB_FILE",
    "DOC_TYPES",
    "FAILED",
    "FINISHED",
    "HUMAN",
    "PASSWORD_MASK",
    "RUNNING",
    "TODO",
    "VIEW",
    "Conversation",
    "Datasource",
    "DatasourceExists",
    "DocumentExists",
    "Feedback",
    "HubEntry",
    "KnowledgeChunk",
    "KnowledgeDocument",
    "KnowledgeSpace",
    "Message",
    "MetadataStore",
    "NewChunk",
    "NewFeedback",
    "NewHubEntry",
    "NewMessage",
    "NewPrompt",
    "Prompt",
    "PromptExists",
    "SecretError",
    "SpaceExists",
    "StoreNotOpen",
    "StoredFile",
    "TableSummary",
    "UnknownDatasource",
    "UnknownDatasourceId",
    "UnknownDocument",
    "UnknownPrompt",
    "UnknownSpace",
    "UnknownSpaceId",
    "current_store",
    "install_store",
    "installed_store",
    "metadata_url",
    "open_store",
]

# The open stores, most recent last: the last one is current. A stack rather than one slot
# because apps (tests, the all-in-one process) may start and stop in any order: the store of
# an app that stopped first must not be put back as current by another's exit.
_open: list[MetadataStore] = []


def current_store() -> MetadataStore:
    """The store installed for this process; :class:`StoreNotOpen` (503) when none is."""
    if not _open:
        raise StoreNotOpen()
    return _open[-1]


def installed_store() -> MetadataStore | None:
    """The store installed for this process, or None."""
    return _open[-1] if _open else None


def install_store(store: MetadataStore | None) -> MetadataStore | None:
    """Make ``store`` the process's only store (None: no store); return the current one."""
    previous = installed_store()
    _open[:] = [store] if store is not None else []
    return previous


@asynccontextmanager
async def open_store(
    url: str | None = None,
    *,
    data_dir: Path,
    secret_key: str | None = None,
    datasource_roots: Sequence[Path] = (),
) -> AsyncIterator[MetadataStore]:
    """Open a store and make it current for the block; then close it, and the store opened
    before it (if still open) is current again."""
    store = await MetadataStore.open(
        url, data_dir=data_dir, secret_key=secret_key, datasource_roots=datasource_roots
    )
    _open.append(store)
    try:
        yield store
    finally:
        if store in _open:
            _open.remove(store)
        await store.aclose()
