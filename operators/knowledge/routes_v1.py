"""DB-GPT's v1 knowledge API (``/api/v1/knowledge/*``, and the old web UI's ``/knowledge/*``):
one async function per route, answers in DB-GPT 0.8.2's shapes (:mod:`.views`).

Spaces are named in the path; a document or chunk asked for through a space must belong to
it. Syncs run in the background (``document/list`` shows their status and progress); the
space's arguments size the chunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from awel.errors import BadRequest
from operators.storage import DOC_TYPES, KnowledgeDocument, KnowledgeSpace, UnknownDocument

from .arguments import SpaceArguments
from .current import current_knowledge
from .errors import UnknownDocumentName
from .readers import READABLE_SUFFIXES, kind_of
from .requests import (
    ArgumentSave,
    ChunkQuery,
    DocumentAdd,
    DocumentQuery,
    DocumentSync,
    DocumentUpload,
    RecallTest,
    SpaceName,
    SpaceRequest,
    SyncItem,
    check_space_name,
)
from .views import chunk_v1, document_v1, retrieved, space_v1

#: DB-GPT's web UI asks for a "VectorStore": the server's configured one, here the
#: embedded index DB-GPT's UI calls Chroma.
DEFAULT_VECTOR_TYPE = "Chroma"
#: Every document of a space, for the filters the store does not have.
_ALL = 1_000_000


def vector_type_of(value: str | None) -> str:
    """The ``vector_type`` to store for what a client sent."""
    if not value or value.strip().lower() == "vectorstore":
        return DEFAULT_VECTOR_TYPE
    return value.strip()


async def space_of(name: str) -> KnowledgeSpace:
    """The space a path names; :class:`UnknownSpace` naming ``space_name``."""
    return await current_knowledge().store.spaces.require(name, field="space_name")


async def document_in(
    space: KnowledgeSpace, document_id: int, field: str = "document_id"
) -> KnowledgeDocument:
    """The space's document with that id; :class:`UnknownDocument` when it has none."""
    document = await current_knowledge().store.documents.get(document_id)
    if document is None or document.space_id != space.id:
        raise UnknownDocument(document_id, field=field)
    return document


# --- spaces --------------------------------------------------------------------------


async def space_add(body: SpaceRequest) -> list[Any]:
    await current_knowledge().create_space(
        check_space_name(body.name),
        vector_type=vector_type_of(body.vector_type),
        domain_type=body.domain_type or "Normal",
        desc=body.desc or "",
        owner=body.owner,
    )
    return []


async def space_list(body: SpaceRequest) -> list[dict[str, Any]]:
    spaces, _ = await current_knowledge().store.spaces.list(
        name=body.name or None,
        vector_type=body.vector_type or None,
        owner=body.owner or None,
    )
    return [space_v1(s) for s in spaces if body.id is None or s.id == body.id]


async def space_delete(body: SpaceRequest) -> bool:
    name = (body.name or "").strip()
    if not name:
        raise BadRequest("name the space to delete", param="name")
    kb = current_knowledge()
    await kb.store.spaces.require(name, field="name")
    return await kb.delete_space(name)


_CONFIG = {
    "storage": [
        {
            "name": "VectorStore",
            "desc": "Vector Store",
            "domain_types": [{"name": "Normal", "desc": "Normal"}],
        }
    ]
}


async def space_config(_: None) -> dict[str, Any]:
    """The kinds of space this server makes: vector stores only (no knowledge graph or
    full-text spaces)."""
    return _CONFIG


async def arguments(body: SpaceName) -> dict[str, Any]:
    space = await space_of(body.space_name)
    return SpaceArguments.of(space.context).context()


async def argument_save(body: ArgumentSave) -> dict[str, Any]:
    space = await space_of(body.space_name)
    saved = await current_knowledge().save_arguments(space.name, body.argument)
    return saved.context()


# --- documents -----------------------------------------------------------------------


def _doc_type(value: str | None, allowed: Sequence[str] = DOC_TYPES) -> str:
    kind = (value or "").strip().upper()
    if kind not in allowed:
        raise BadRequest(
            f"doc_type must be one of {', '.join(allowed)}, not '{value}'", param="doc_type"
        )
    return kind


async def document_add(body: DocumentAdd) -> int:
    """A TEXT or URL document; its id. A file is sent to ``document/upload``."""
    space = await space_of(body.space_name)
    kind = _doc_type(body.doc_type, ("TEXT", "URL"))
    document = await current_knowledge().add_document(
        space.name, body.doc_name or "", kind, content=body.content or "", source=body.source
    )
    return document.id


async def document_upload(body: DocumentUpload) -> int:
    """A DOCUMENT from the uploaded file; its id. The name's suffix picks the reader, so a
    name no reader takes is refused now rather than when the document is synced."""
    space = await space_of(body.space_name)
    _doc_type(body.doc_type, ("DOCUMENT",))
    kind_of(body.doc_name)
    document = await current_knowledge().add_document(
        space.name,
        body.doc_name,
        "DOCUMENT",
        data=body.doc_file.data,
        meta={"file_name": body.doc_file.filename[-200:]},
    )
    return document.id


async def document_list(body: DocumentQuery) -> dict[str, Any]:
    """A page of the space's documents: ``doc_name`` matches names holding it (as
    DB-GPT's does), ``doc_ids``, ``doc_type`` and ``status`` exactly."""
    space = await space_of(body.space_name)
    store = current_knowledge().store
    status = (body.status or "").strip().upper() or None
    if body.doc_name or body.doc_type:
        # Filters the store has no query for: over all of the space's documents.
        everything, _ = await store.documents.list(
            space.id, ids=body.doc_ids, status=status, page_size=_ALL
        )
        matching = [
            d
            for d in everything
            if (not body.doc_name or body.doc_name in d.doc_name)
            and (not body.doc_type or d.doc_type == body.doc_type.strip().upper())
        ]
        start = (body.page - 1) * body.page_size
        documents, total = matching[start : start + body.page_size], len(matching)
    else:
        documents, total = await store.documents.list(
            space.id, ids=body.doc_ids, status=status, page=body.page, page_size=body.page_size
        )
    return {"data": [document_v1(d) for d in documents], "total": total, "page": body.page}


async def document_delete(body: DocumentQuery) -> bool:
    space = await space_of(body.space_name)
    if not body.doc_name:
        raise BadRequest("name the document to delete (doc_name)", param="doc_name")
    kb = current_knowledge()
    found, _ = await kb.store.documents.list(space.id, doc_name=body.doc_name, page_size=1)
    if not found:
        raise UnknownDocumentName(space.name, body.doc_name)
    return await kb.delete_document(found[0].id)


async def _start_syncs(space: KnowledgeSpace, ids: Sequence[int], field: str) -> list[int]:
    if not ids:
        raise BadRequest(f"name the documents to sync ({field})", param=field)
    for document_id in ids:
        await document_in(space, document_id, field)
    current_knowledge().sync_later(list(dict.fromkeys(ids)))
    return list(ids)


async def document_sync(body: DocumentSync) -> list[int]:
    """Start syncing the documents; their ids. ``document/list`` shows how each goes."""
    space = await space_of(body.space_name)
    return await _start_syncs(space, body.doc_ids, "doc_ids")


_SYNC_ITEMS = TypeAdapter(list[SyncItem])


def sync_items(raw: Any, field: str = "body") -> list[SyncItem]:
    """A JSON list of ``{doc_id, chunk_parameters ...}``; :class:`BadRequest` otherwise."""
    try:
        return _SYNC_ITEMS.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in (field, *first["loc"]))
        raise BadRequest(
            f"{where}: {first['msg']} (expected a list of {{doc_id, chunk_parameters}})",
            param=field,
        ) from None


async def document_sync_batch(raw: Any) -> dict[str, Any]:
    """Start syncing the documents the body lists; ``{tasks: [their ids]}``."""
    space = await space_of(str(raw.get("space_name", "")))
    items = sync_items(raw.get("body"))
    return {"tasks": await _start_syncs(space, [i.doc_id for i in items], "doc_id")}


async def chunk_list(body: ChunkQuery) -> dict[str, Any]:
    space = await space_of(body.space_name)
    if body.document_id is None:
        raise BadRequest(
            "name the document whose chunks to list (document_id)", param="document_id"
        )
    document = await document_in(space, body.document_id)
    chunks, total = await current_knowledge().store.chunks.list(
        document.id, page=body.page, page_size=body.page_size
    )
    return {
        "data": [chunk_v1(c, document.doc_type) for c in chunks],
        "total": total,
        "page": body.page,
    }


_STRATEGIES = [
    {
        "strategy": "CHUNK_BY_SIZE",
        "name": "Chunk by size",
        "description": "Split into chunks of at most chunk_size tokens of the embeddings"
        " model, keeping headings and paragraphs together where they fit.",
        "parameters": [
            {
                "param_name": "chunk_size",
                "param_type": "int",
                "default_value": 200,
                "description": "Most tokens in a chunk.",
            },
            {
                "param_name": "chunk_overlap",
                "param_type": "int",
                "default_value": 20,
                "description": "Tokens neighbouring chunks may share.",
            },
        ],
        "suffix": sorted(s.lstrip(".") for s in READABLE_SUFFIXES),
        "type": list(DOC_TYPES),
    }
]


async def chunk_strategies(_: None) -> list[dict[str, Any]]:
    """How documents are split: one strategy, sized by the space's arguments."""
    return _STRATEGIES


async def recall_test(body: RecallTest) -> list[dict[str, Any]]:
    """What retrieval finds for ``question``: the best ``recall_top_k`` chunks scoring at
    least the space's ``recall_score`` and ``recall_score_threshold``."""
    space = await space_of(body.space_name)
    if not (body.question or "").strip():
        raise BadRequest("ask a question (question)", param="question")
    floor = SpaceArguments.of(space.context).embedding.recall_score
    if body.recall_score_threshold is not None:
        floor = max(floor, body.recall_score_threshold)
    hits = await current_knowledge().retrieve_in(
        space, body.question or "", top_k=body.recall_top_k, score_threshold=floor
    )
    return [retrieved(h) for h in hits]
