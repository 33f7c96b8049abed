"""DB-GPT's serve-module knowledge API (``/api/v2/serve/knowledge/*``): one async function
per route, spaces by id, answers shaped for ``dbgpt-client`` (:mod:`.views`).

Syncing here waits for the syncs it started and answers when they have ended (DB-GPT's
v2 sync forgets to await its work); a sync's failure is on the document, not the answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from awel.errors import BadRequest
from operators.storage import KnowledgeSpace

from .current import current_knowledge
from .requests import (
    DocumentId,
    DocumentPage,
    DocumentsForm,
    Retrieve,
    SpaceId,
    SpacePage,
    SpaceServeRequest,
    V2SyncOne,
    check_space_name,
)
from .routes_v1 import sync_items, vector_type_of
from .views import document_v2, paged, retrieved, space_v2


async def _space(space_id: int) -> KnowledgeSpace:
    store = current_knowledge().store
    space = await store.spaces.require_id(space_id)
    # The docs count comes with a listing: one query by name.
    listed, _ = await store.spaces.list(name=space.name)
    return listed[0] if listed else space


async def create_space(body: SpaceServeRequest) -> dict[str, Any]:
    kb = current_knowledge()
    space = await kb.create_space(
        check_space_name(body.name),
        vector_type=vector_type_of(body.vector_type),
        domain_type=body.domain_type or "Normal",
        desc=body.desc or "",
        owner=body.owner,
        arguments=body.context,
    )
    return space_v2(space)


async def update_space(body: SpaceServeRequest) -> dict[str, Any]:
    """Change a space's ``desc``, ``owner``, ``domain_type`` or arguments (``context``),
    found by ``id`` or else by ``name``. Its name and vector store stay: chunks already
    indexed live there."""
    kb = current_knowledge()
    if body.id is not None:
        space = await kb.store.spaces.require_id(body.id)
    elif body.name:
        space = await kb.store.spaces.require(body.name.strip(), field="name")
    else:
        raise BadRequest("name the space to update (id or name)", param="id")
    if body.name and body.name.strip() != space.name:
        raise BadRequest("a space's name cannot be changed", param="name")
    if body.vector_type and vector_type_of(body.vector_type) != space.vector_type:
        raise BadRequest(
            f"a space's vector_type cannot be changed (it is {space.vector_type})",
            param="vector_type",
        )
    fields: dict[str, Any] = {}
    if body.desc is not None:
        fields["desc"] = body.desc
    if body.owner is not None:
        fields["owner"] = body.owner
    if body.domain_type:
        fields["domain_type"] = body.domain_type
    if body.context is not None:
        fields["context"] = kb.parse_arguments(body.context).context()
    if fields:
        await kb.store.spaces.update(space.id, **fields)
    return space_v2(await _space(space.id))


async def list_spaces(query: SpacePage) -> dict[str, Any]:
    spaces, total = await current_knowledge().store.spaces.list(
        page=query.page, page_size=query.page_size
    )
    return paged([space_v2(s) for s in spaces], total, query.page, query.page_size)


async def get_space(query: SpaceId) -> dict[str, Any]:
    return space_v2(await _space(query.space_id))


async def delete_space(query: SpaceId) -> dict[str, Any]:
    """Delete the space, its documents and chunks; the space as it was."""
    space = await _space(query.space_id)
    await current_knowledge().delete_space(space.name)
    return space_v2(space)


async def retrieve(body: Retrieve) -> list[dict[str, Any]]:
    space = await _space(body.space_id)
    hits = await current_knowledge().retrieve_in(
        space, body.query, top_k=body.top_k, score_threshold=body.score_threshold
    )
    return [retrieved(h) for h in hits]


async def create_document(form: DocumentsForm) -> dict[str, Any]:
    """A document from the form: TEXT or URL take ``content``, DOCUMENT ``doc_file``.
    DB-GPT answers the new id; ``dbgpt-client`` reads a document, so the answer is the
    document (its ``id`` among its fields)."""
    kb = current_knowledge()
    space = await kb.store.spaces.require_id(int(form.space_id))
    kind = form.doc_type.strip().upper()
    if kind == "DOCUMENT":
        if form.doc_file is None:
            raise BadRequest("a DOCUMENT needs its file (doc_file)", param="doc_file")
        document = await kb.add_document(
            space.name,
            form.doc_name,
            kind,
            data=form.doc_file.data,
            meta={"file_name": form.doc_file.filename[-200:]},
        )
    else:
        if form.doc_file is not None:
            raise BadRequest(
                f"a {kind} document takes content, not a file; send doc_type DOCUMENT",
                param="doc_file",
            )
        document = await kb.add_document(
            space.name, form.doc_name, kind, content=form.content or ""
        )
    return document_v2(document)


async def list_documents(query: DocumentPage) -> dict[str, Any]:
    """Every space's documents (or ``space_id``'s), newest first, a page at a time."""
    store = current_knowledge().store
    if query.space_id is not None:
        await store.spaces.require_id(query.space_id)
    documents, total = await store.documents.list(
        query.space_id, page=query.page, page_size=query.page_size
    )
    return paged([document_v2(d) for d in documents], total, query.page, query.page_size)


async def get_document(query: DocumentId) -> dict[str, Any]:
    return document_v2(await current_knowledge().store.documents.require(query.document_id))


async def delete_document(query: DocumentId) -> dict[str, Any]:
    """Delete the document with its chunks, vectors and file; the document as it was."""
    kb = current_knowledge()
    document = await kb.store.documents.require(query.document_id)
    await kb.delete_document(document.id)
    return document_v2(document)


async def _sync_all(ids: list[int]) -> list[int]:
    kb = current_knowledge()
    for document_id in ids:
        await kb.store.documents.require(document_id, field="doc_id")
    tasks = kb.sync_later(list(dict.fromkeys(ids)))
    # Shielded: a client that hangs up does not cancel the syncs (gather would).
    await asyncio.shield(asyncio.gather(*tasks, return_exceptions=True))
    return ids


async def sync_documents(raw: Any) -> list[int]:
    """Sync the documents the body lists (``[{doc_id, ...}]``) and answer their ids once
    every sync has ended."""
    items = sync_items(raw.get("body"))
    if not items:
        raise BadRequest("name the documents to sync (body: [{doc_id}])", param="body")
    return await _sync_all([i.doc_id for i in items])


async def sync_document(body: V2SyncOne) -> list[int]:
    """Sync one document and answer ``[its id]`` once the sync has ended."""
    return await _sync_all([body.document_id])
