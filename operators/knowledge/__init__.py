"""Knowledge spaces: documents read, split, embedded and indexed, and retrieval over them.

The pieces, bottom first (each module says more):

- records and repositories live in the store: ``store.spaces``, ``store.documents``,
  ``store.chunks`` (:mod:`operators.storage`);
- :mod:`.arguments`: a space's settings (DB-GPT's ``embedding`` and ``prompt`` JSON);
- :mod:`.readers` (text, Markdown, PDF, DOCX, CSV, HTML), :mod:`.fetch` (URL documents,
  http(s) only), :mod:`.splitter` (chunks in the model's tokens);
- :mod:`.index` (:class:`VectorIndex`, the embedded :class:`ExactIndex`) and
  :mod:`.pgvector` (:class:`PgVectorIndex`), chosen per space by ``vector_type``;
- :mod:`.ingest` (one document's sync), :mod:`.runner` (syncs in the background);
- :mod:`.base` (:class:`KnowledgeBase`: what routes, flows and the CLI call),
  :mod:`.current` (the process's one: :func:`current_knowledge`, :func:`knowledge_running`);
- :mod:`.operators` (``knowledge.retrieve`` for flows), :mod:`.cli` (``awel knowledge``).
"""

from __future__ import annotations

from .arguments import EmbeddingArguments, PromptArguments, SpaceArguments
from .base import VECTOR_TYPES, KnowledgeBase, RetrievedChunk, index_kind
from .current import current_knowledge, knowledge_running
from .errors import (
    FetchFailed,
    IndexUnavailable,
    UnreadableDocument,
    UnsupportedVectorType,
    UrlRefused,
)
from .index import ExactIndex, Hit, VectorIndex
from .pgvector import PgVectorIndex

__all__ = [
    "VECTOR_TYPES",
    "EmbeddingArguments",
    "ExactIndex",
    "FetchFailed",
    "Hit",
    "IndexUnavailable",
    "KnowledgeBase",
    "PgVectorIndex",
    "PromptArguments",
    "RetrievedChunk",
    "SpaceArguments",
    "UnreadableDocument",
    "UnsupportedVectorType",
    "UrlRefused",
    "VectorIndex",
    "current_knowledge",
    "index_kind",
    "knowledge_running",
]
