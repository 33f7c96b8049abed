"""How spaces, documents, chunks and retrieved chunks are answered on the wire, in DB-GPT
0.8.2's field names (v1: the app's ``SpaceQueryResponse``, ``DocumentResponse``, chunk
rows; v2: the serve module's, shaped for ``dbgpt-client``'s models).

A stored file's path is never answered: a DOCUMENT's ``content`` is empty, as the client
gave none.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from operators.storage import KnowledgeChunk, KnowledgeDocument, KnowledgeSpace

from .base import RetrievedChunk

__all__ = [
    "chunk_v1",
    "document_v1",
    "document_v2",
    "paged",
    "retrieved",
    "space_v1",
    "space_v2",
]


def _time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else None


def _context(space: KnowledgeSpace) -> str:
    # DB-GPT keeps a space's context as JSON text, and its clients read it so.
    return json.dumps(space.context, ensure_ascii=False)


def space_v1(space: KnowledgeSpace) -> dict[str, Any]:
    """A ``space/list`` item."""
    return {
        "id": space.id,
        "name": space.name,
        "vector_type": space.vector_type,
        "domain_type": space.domain_type,
        "desc": space.desc,
        "context": _context(space),
        "owner": space.owner,
        "gmt_created": _time(space.gmt_created),
        "gmt_modified": _time(space.gmt_modified),
        "docs": space.docs,
    }


def space_v2(space: KnowledgeSpace) -> dict[str, Any]:
    """A v2 space. ``dbgpt-client``'s ``SpaceModel`` types ``owner`` and ``desc`` as
    strings, so a missing one is ``""`` rather than null (which it would refuse)."""
    return {
        "id": space.id,
        "name": space.name,
        "vector_type": space.vector_type,
        "domain_type": space.domain_type,
        "desc": space.desc or "",
        "context": _context(space),
        "owner": space.owner or "",
        "user_id": None,
        "user_ids": None,
        "sys_code": None,
        "docs": space.docs,
        "gmt_created": _time(space.gmt_created),
        "gmt_modified": _time(space.gmt_modified),
    }


def _content(document: KnowledgeDocument) -> str:
    return "" if document.doc_type == "DOCUMENT" else document.content


def document_v1(document: KnowledgeDocument) -> dict[str, Any]:
    """A ``document/list`` item: ``status`` TODO, RUNNING, FINISHED or FAILED, ``result``
    the failure's text, ``progress`` (ours) from 0 to 1 while RUNNING, ``chunk_size`` the
    number of chunks (DB-GPT's name for it)."""
    return {
        "id": document.id,
        "doc_name": document.doc_name,
        "doc_type": document.doc_type,
        "content": _content(document),
        "source": document.source,
        "vector_ids": None,
        "space": document.space,
        "status": document.status,
        "last_sync": _time(document.last_sync),
        "result": document.result,
        "summary": None,
        "chunk_size": document.chunk_count,
        "progress": document.progress,
        "questions": None,
        "gmt_created": _time(document.gmt_created),
        "gmt_modified": _time(document.gmt_modified),
    }


def document_v2(document: KnowledgeDocument) -> dict[str, Any]:
    """A v2 document: v1's fields, and ``space_id`` as text (``dbgpt-client``'s
    ``DocumentModel`` types it so)."""
    return {**document_v1(document), "space_id": str(document.space_id)}


def chunk_v1(chunk: KnowledgeChunk, doc_type: str) -> dict[str, Any]:
    """A ``chunk/list`` item; ``meta_info`` is JSON text, as DB-GPT stores it."""
    return {
        "id": chunk.id,
        "document_id": chunk.document_id,
        "doc_name": chunk.doc_name,
        "doc_type": doc_type,
        "content": chunk.content,
        "meta_info": json.dumps(chunk.meta_info, ensure_ascii=False),
        "position": chunk.position,
    }


def retrieved(chunk: RetrievedChunk) -> dict[str, Any]:
    """A chunk retrieval found, as DB-GPT's ``Chunk`` (``recall_test``, v2 ``retrieve``)."""
    return {
        "chunk_id": str(chunk.chunk_id),
        "content": chunk.content,
        "metadata": {
            **chunk.meta_info,
            "source": chunk.doc_name,
            "document_id": chunk.document_id,
            "position": chunk.position,
        },
        "score": chunk.score,
        "summary": "",
        "separator": "\n",
        "retriever": "embedding",
    }


def paged(items: list[Any], total: int, page: int, page_size: int) -> dict[str, Any]:
    """The serve module's page: ``{items, total_count, total_pages, page, page_size}``."""
    return {
        "items": items,
        "total_count": total,
        "total_pages": math.ceil(total / page_size) if total else 0,
        "page": page,
        "page_size": page_size,
    }
