"""The process's knowledge base: started with the store, reached by flows.

The server opens one with :func:`knowledge_running` after the metadata store and closes it
before the store (which cancels the syncs still running); flows, operators and the CLI
reach it with :func:`current_knowledge`, as they reach the store with ``current_store()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from operators.storage import FAILED, RUNNING, MetadataStore

from .base import KnowledgeBase

__all__ = ["current_knowledge", "knowledge_running"]

# The running knowledge bases, most recent last (apps may stop in any order, as stores do).
_running: list[KnowledgeBase] = []


def current_knowledge() -> KnowledgeBase:
    """The knowledge base of this process's app; RuntimeError when no app started one."""
    if not _running:
        raise RuntimeError("no knowledge base is running (the server starts one)")
    return _running[-1]


@asynccontextmanager
async def knowledge_running(
    store: MetadataStore, *, pgvector_url: str | None = None, allow_private_urls: bool = False
) -> AsyncIterator[KnowledgeBase]:
    """A knowledge base on ``store``, current for the block; closed at its end (and if
    the store closes first). Documents a previous process left RUNNING are marked FAILED
    ("interrupted"), so they can be synced again."""
    await store.documents.fail_all(
        RUNNING, FAILED, "interrupted: the server stopped before the sync ended"
    )
    kb = KnowledgeBase(store, pgvector_url=pgvector_url, allow_private_urls=allow_private_urls)
    # A store closed first (a test's, say) must not be written to by a sync after.
    store.on_close(kb.aclose)
    _running.append(kb)
    try:
        yield kb
    finally:
        _running.remove(kb)
        await kb.aclose()
