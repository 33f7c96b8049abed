"""The knowledge base: spaces, their documents, syncing them, and retrieval, on one store.

A :class:`KnowledgeBase` is what the routes, the RAG flows, the ``knowledge.retrieve``
operator and the CLI use; the server starts one with the store (:func:`knowledge_running`
in :mod:`operators.knowledge.current`) and flows reach it with ``current_knowledge()``.

    kb = current_knowledge()
    space = await kb.create_space("docs")
    doc = await kb.add_document("docs", "intro.md", "DOCUMENT", data=b"# Hi ...")
    await kb.sync(doc.id)                     # or kb.sync_later([doc.id]) and kb.wait()
    hits = await kb.retrieve("docs", "what does it say?", top_k=5)

Spaces pick their index by ``vector_type`` (:func:`index_kind`): DB-GPT's default
``Chroma`` and our ``exact`` are the embedded :class:`ExactIndex`; ``PGVector`` the
:class:`PgVectorIndex` at ``pgvector_url`` (default: the metadata database, when it is
PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anyio import to_thread
from pydantic import ValidationError

from awel.errors import BadRequest
from operators.storage import (
    DOC_TYPES,
    KnowledgeDocument,
    KnowledgeSpace,
    MetadataStore,
)

from ..embed.types import EmbeddingModel
from ..models import ModelSet, NoModel, UnknownModel, current_models
from .arguments import SpaceArguments
from .errors import IndexUnavailable, UnsupportedVectorType
from .fetch import check_url
from .index import ExactIndex, VectorIndex
from .ingest import Progress, sync_document
from .pgvector import PgVectorIndex
from .runner import SyncRunner

__all__ = ["VECTOR_TYPES", "KnowledgeBase", "RetrievedChunk", "index_kind"]

log = logging.getLogger("awel.knowledge")

#: ``vector_type`` values (compared without case) and the index each picks. DB-GPT's UI
#: offers Chroma by default: it gets the embedded exact index.
VECTOR_TYPES = {"chroma": "exact", "exact": "exact", "default": "exact", "pgvector": "pgvector"}


def index_kind(vector_type: str) -> str:
    """``exact`` or ``pgvector`` for a space's ``vector_type``; :class:`UnsupportedVectorType`
    for any other."""
    found = VECTOR_TYPES.get((vector_type or "exact").strip().lower())
    if found is None:
        raise UnsupportedVectorType(vector_type, "Chroma (the embedded index), exact, PGVector")
    return found


@dataclass(frozen=True, slots=True)
class RetrievedChunk:
    """A chunk retrieval found: its text, metadata, document and cosine similarity."""

    chunk_id: int
    document_id: int
    doc_name: str
    position: int
    content: str
    meta_info: dict[str, Any]
    score: float


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class KnowledgeBase:
    """Knowledge spaces on ``store``: the indexes, ingestion and retrieval.

    ``models`` gives the model set embeddings come from (the process's by default);
    ``files_dir`` is where uploaded documents are kept (default ``<data_dir>/knowledge``).
    """

    def __init__(
        self,
        store: MetadataStore,
        *,
        pgvector_url: str | None = None,
        models: Callable[[], ModelSet] = current_models,
        files_dir: Path | None = None,
        allow_private_urls: bool = False,
    ) -> None:
        self.store = store
        #: URL documents may point into the server's own network (see ``fetch``).
        self.allow_private_urls = allow_private_urls
        self.models = models
        self.files_dir = files_dir or store.data_dir / "knowledge"
        self.exact = ExactIndex(store)
        if pgvector_url is None and store.engine.dialect.name == "postgresql":
            pgvector_url = store.engine.url.render_as_string(hide_password=False)
        self.pgvector_url = pgvector_url
        self._pgvector: PgVectorIndex | None = None
        self._pgvector_lock = asyncio.Lock()
        self.runner = SyncRunner(self._sync_one)

    # --- indexes and models ----------------------------------------------------------

    async def index_for(self, space: KnowledgeSpace | str) -> VectorIndex:
        """The index a space (or a ``vector_type``) uses, opened on first use."""
        vector_type = space if isinstance(space, str) else space.vector_type
        if index_kind(vector_type) == "exact":
            return self.exact
        async with self._pgvector_lock:
            if self._pgvector is None:
                if self.pgvector_url is None:
                    raise IndexUnavailable(
                        "PGVector spaces need PostgreSQL with the vector extension: set"
                        " pgvector_url (AWEL_PGVECTOR_URL) or keep the metadata there",
                        param="vector_type",
                    )
                self._pgvector = await PgVectorIndex.open(self.store, self.pgvector_url)
            return self._pgvector

    def embedder(self, space: KnowledgeSpace) -> EmbeddingModel:
        """The model that embeds the space's chunks and questions: the one its arguments
        name, or the default one."""
        name = SpaceArguments.of(space.context).embedding.model
        models = self.models()
        if name:
            try:
                return models.embedder(name)
            except UnknownModel:
                # DB-GPT's spaces name its own models (text2vec-large-chinese); theirs
                # are served by ours rather than refused.
                log.warning("space '%s' names embeddings model '%s', not loaded", space.name, name)
        return models.embedder()

    # --- spaces ----------------------------------------------------------------------

    async def create_space(
        self,
        name: str,
        *,
        vector_type: str = "Chroma",
        domain_type: str = "Normal",
        desc: str = "",
        owner: str | None = None,
        arguments: SpaceArguments | dict[str, Any] | str | None = None,
    ) -> KnowledgeSpace:
        """A new space (:class:`SpaceExists` for a taken name); its arguments are the
        defaults, with the default embeddings model's name filled in, unless given."""
        if not name or not name.strip():
            raise BadRequest("a knowledge space needs a name", param="name")
        await self.index_for(vector_type)  # refuses an unknown or unavailable one now
        parsed = self.parse_arguments(arguments if arguments is not None else {})
        if parsed.embedding.model is None:
            # No model loaded yet: the default is taken when the space is synced.
            with contextlib.suppress(NoModel):
                parsed.embedding.model = self.models().embedder().name
        return await self.store.spaces.add(
            name.strip(),
            vector_type=vector_type,
            domain_type=domain_type,
            desc=desc,
            owner=owner,
            context=parsed.context(),
        )

    async def ensure_space(self, name: str, **kwargs: Any) -> KnowledgeSpace:
        """The space called ``name``, created (with ``kwargs``) when missing."""
        return await self.store.spaces.get(name) or await self.create_space(name, **kwargs)

    @staticmethod
    def parse_arguments(value: SpaceArguments | dict[str, Any] | str) -> SpaceArguments:
        """Space arguments from a model, a dict, or DB-GPT's JSON string;
        :class:`BadRequest` naming ``argument`` when they are not valid."""
        if isinstance(value, SpaceArguments):
            return value
        try:
            data = json.loads(value) if isinstance(value, str) else value
            return SpaceArguments.model_validate(data or {})
        except (ValueError, ValidationError) as exc:
            raise BadRequest(f"the space arguments are not valid: {exc}", param="argument") from exc

    async def save_arguments(
        self, space_name: str, arguments: SpaceArguments | dict[str, Any] | str
    ) -> SpaceArguments:
        """Replace the space's arguments; chunks already made keep their sizes until the
        next sync."""
        space = await self.store.spaces.require(space_name)
        parsed = self.parse_arguments(arguments)
        await self.store.spaces.update(space.id, context=parsed.context())
        return parsed

    async def delete_space(self, name: str) -> bool:
        """Delete the space, its documents, chunks, vectors and stored files; False if
        there was none. Syncs of its documents are waited for first."""
        space = await self.store.spaces.get(name)
        if space is None:
            return False
        documents, _ = await self.store.documents.list(space.id, page_size=1_000_000)
        await self.runner.wait([d.id for d in documents])
        gone = await self.store.spaces.delete(space.id)
        index = await self.index_for(space)
        await index.drop_space(space)
        for document in documents:
            await self._remove_file(document)
        return gone

    # --- documents -------------------------------------------------------------------

    async def add_document(
        self,
        space_name: str,
        doc_name: str,
        doc_type: str,
        *,
        content: str = "",
        data: bytes | None = None,
        source: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> KnowledgeDocument:
        """A new document (status TODO; sync it to make its chunks). TEXT takes
        ``content``, DOCUMENT the file's ``data`` (kept under ``files_dir``), URL an
        http(s) address in ``content`` (checked now, fetched when synced)."""
        space = await self.store.spaces.require(space_name)
        if doc_type not in DOC_TYPES:
            raise BadRequest(
                f"doc_type must be one of {', '.join(DOC_TYPES)}, not '{doc_type}'",
                param="doc_type",
            )
        if not doc_name or not doc_name.strip():
            raise BadRequest("a document needs a name", param="doc_name")
        file_path = None
        if doc_type == "URL":
            content = check_url(content, allow_private=self.allow_private_urls)
        elif doc_type == "DOCUMENT":
            if data is None:
                raise BadRequest("a DOCUMENT needs its file (doc_file)", param="doc_file")
            file_path = await self._keep_file(space, doc_name, data)
        document = None
        try:
            document = await self.store.documents.add(
                space.id,
                doc_name.strip(),
                doc_type,
                content=content,
                file_path=None if file_path is None else str(file_path),
                source=source,
                meta=meta,
            )
        finally:
            if document is None and file_path is not None:
                await to_thread.run_sync(lambda: file_path.unlink(missing_ok=True))
        return document

    async def replace_file(self, document_id: int, data: bytes) -> KnowledgeDocument:
        """Keep ``data`` as a DOCUMENT's new file (the old one is removed); sync it to
        make its chunks anew."""
        document = await self.store.documents.require(document_id)
        if document.doc_type != "DOCUMENT":
            raise BadRequest(f"'{document.doc_name}' is a {document.doc_type}, not a file")
        space = await self.store.spaces.require_id(document.space_id)
        path = await self._keep_file(space, document.doc_name, data)
        updated = await self.store.documents.update(document_id, file_path=str(path))
        await self._remove_file(document)
        return updated

    async def _keep_file(self, space: KnowledgeSpace, doc_name: str, data: bytes) -> Path:
        # A name of our own making: the client's file name never becomes a path.
        safe = _UNSAFE.sub("_", Path(doc_name).name)[-100:] or "document"
        path = self.files_dir / str(space.id) / f"{uuid.uuid4().hex}-{safe}"

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

        await to_thread.run_sync(write)
        return path

    async def _remove_file(self, document: KnowledgeDocument) -> None:
        if document.file_path:
            path = Path(document.file_path)
            await to_thread.run_sync(lambda: path.unlink(missing_ok=True))

    async def delete_document(self, document_id: int) -> bool:
        """Delete the document, its chunks, vectors and stored file; False if there was
        none. A sync of it is waited for first."""
        document = await self.store.documents.get(document_id)
        if document is None:
            return False
        await self.runner.wait([document_id])
        space = await self.store.spaces.require_id(document.space_id)
        gone = await self.store.documents.delete(document_id)
        await (await self.index_for(space)).drop_document(space, document_id)
        await self._remove_file(document)
        return gone

    # --- syncing ---------------------------------------------------------------------

    async def sync(
        self, document_id: int, *, on_progress: Progress | None = None
    ) -> KnowledgeDocument:
        """Sync the document now and return it as it ended (FINISHED, or FAILED with the
        failure's text in ``result``). ``on_progress(done, total)`` follows the embedding;
        with it the sync runs here, else through the runner (a sync already running for
        the document is awaited instead of started twice)."""
        if on_progress is not None:
            return await self._sync_one(document_id, on_progress)
        (task,) = self.runner.start([document_id])
        return await asyncio.shield(task)

    def sync_later(self, document_ids: Sequence[int]) -> list[asyncio.Task[KnowledgeDocument]]:
        """Start syncing the documents in the background; the tasks (await them, or
        :meth:`wait`, to know they ended)."""
        return self.runner.start(document_ids)

    async def wait(self, document_ids: Sequence[int] | None = None) -> None:
        """Return when the running syncs of these documents (all, for None) have ended."""
        await self.runner.wait(document_ids)

    async def _sync_one(
        self, document_id: int, on_progress: Progress | None = None
    ) -> KnowledgeDocument:
        document = await self.store.documents.require(document_id)
        space = await self.store.spaces.require_id(document.space_id)
        index = await self.index_for(space)
        model = self.embedder(space)
        return await sync_document(
            self.store,
            index,
            model,
            space,
            document,
            on_progress=on_progress,
            allow_private_urls=self.allow_private_urls,
        )

    # --- retrieval -------------------------------------------------------------------

    async def retrieve(
        self,
        space_name: str,
        query: str,
        *,
        top_k: int | None = None,
        score_threshold: float | None = None,
        document_ids: Sequence[int] | None = None,
    ) -> list[RetrievedChunk]:
        """The chunks of the space closest to ``query``, best first: at most ``top_k``
        (default: the space's ``topk``), scoring at least ``score_threshold`` (default:
        none; pass the space's ``recall_score`` to apply it), among ``document_ids``."""
        space = await self.store.spaces.require(space_name)
        return await self.retrieve_in(
            space, query, top_k=top_k, score_threshold=score_threshold, document_ids=document_ids
        )

    async def retrieve_in(
        self,
        space: KnowledgeSpace,
        query: str,
        *,
        top_k: int | None = None,
        score_threshold: float | None = None,
        document_ids: Sequence[int] | None = None,
    ) -> list[RetrievedChunk]:
        """:meth:`retrieve` for a space already looked up (the v2 routes go by id)."""
        if not isinstance(query, str) or not query.strip():
            raise BadRequest("retrieval needs a question (query)", param="query")
        k = top_k if top_k is not None else SpaceArguments.of(space.context).embedding.topk
        if k < 1:
            raise BadRequest(f"top_k must be at least 1, not {k}", param="top_k")
        model = self.embedder(space)
        vector = (await model.embed([query]))[0]
        index = await self.index_for(space)
        hits = await index.search(
            space, vector, top_k=k, score_threshold=score_threshold, document_ids=document_ids
        )
        chunks = await self.store.chunks.get_many([h.chunk_id for h in hits])
        return [
            RetrievedChunk(
                chunk_id=h.chunk_id,
                document_id=h.document_id,
                doc_name=c.doc_name,
                position=c.position,
                content=c.content,
                meta_info=c.meta_info,
                score=h.score,
            )
            for h in hits
            # A chunk replaced between the search and this read is gone: skipped.
            if (c := chunks.get(h.chunk_id)) is not None
        ]

    async def aclose(self) -> None:
        """Cancel running syncs, then close the indexes."""
        await self.runner.close()
        await self.exact.aclose()
        if self._pgvector is not None:
            await self._pgvector.aclose()
            self._pgvector = None
