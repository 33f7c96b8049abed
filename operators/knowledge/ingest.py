"""Syncing one document: read it, split it, embed the chunks in batches, swap them in.

:func:`sync_document` marks the document RUNNING, reports ``progress`` (0..1) as batches of
chunks are embedded (so ``document/list`` shows a large upload moving), and ends it
FINISHED with its chunk count, or FAILED with the failure's text. The new chunks replace
the old in one transaction at the very end (:meth:`VectorIndex.replace`): until then, and
whatever fails before, the old chunks keep serving.

Reading and splitting run in a worker thread (a PDF is parsed in Python); embedding runs in
the engine's own thread, or on Ray actors while Ray is on in the process (``--ray``). Two
batches are in flight at once, so the model never waits for a progress update to be written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from anyio import to_thread

from awel.errors import AwelError
from operators.storage import (
    FAILED,
    FINISHED,
    RUNNING,
    KnowledgeDocument,
    KnowledgeSpace,
    MetadataStore,
    NewChunk,
)

from ..embed.on_ray import embedder_for_ingest
from ..embed.types import EmbeddingModel
from .arguments import SpaceArguments
from .errors import UnreadableDocument
from .fetch import fetch
from .index import FloatArray, VectorIndex
from .readers import Passage, read_document
from .splitter import Chunk, Splitter

__all__ = ["BATCH", "load_passages", "sync_document"]

log = logging.getLogger("awel.knowledge")

#: Chunks per embedding call: large enough to keep the engine's batches full, small
#: enough that progress moves every second or so on a CPU.
BATCH = 128
#: Least seconds between two progress writes.
PROGRESS_EVERY = 0.5

#: Called with (chunks embedded, chunks in all) as a sync goes (the CLI's progress bar).
Progress = Callable[[int, int], None]


async def load_passages(
    document: KnowledgeDocument, *, allow_private_urls: bool = False
) -> list[Passage]:
    """The text of ``document``: its content (TEXT), its stored file (DOCUMENT), or what its
    address answers (URL, http(s) only)."""
    if document.doc_type == "TEXT":
        return [Passage(document.content, markdown=True)]
    if document.doc_type == "DOCUMENT":
        if not document.file_path:
            raise UnreadableDocument(f"the document '{document.doc_name}' has no stored file")
        path = Path(document.file_path)
        try:
            data = await to_thread.run_sync(path.read_bytes)
        except OSError as exc:
            raise UnreadableDocument(
                f"the stored file of '{document.doc_name}' cannot be read: {exc}"
            ) from exc
        return await to_thread.run_sync(lambda: read_document(document.doc_name or path.name, data))
    fetched = await fetch(document.content, allow_private=allow_private_urls)
    return await to_thread.run_sync(
        lambda: read_document(fetched.url, fetched.data, media_type=fetched.media_type)
    )


async def sync_document(
    store: MetadataStore,
    index: VectorIndex,
    model: EmbeddingModel,
    space: KnowledgeSpace,
    document: KnowledgeDocument,
    *,
    on_progress: Progress | None = None,
    allow_private_urls: bool = False,
) -> KnowledgeDocument:
    """Sync ``document`` now and return it as it ended (FINISHED or FAILED: a failure is
    recorded, not raised). Cancelled, it is left FAILED ("interrupted") and the
    cancellation goes on."""
    await store.documents.set_status(document.id, RUNNING, result="reading", progress=0.0)
    try:
        count = await _sync(store, index, model, space, document, on_progress, allow_private_urls)
    except asyncio.CancelledError:
        await asyncio.shield(
            store.documents.set_status(document.id, FAILED, result="interrupted before it ended")
        )
        raise
    except Exception as exc:
        text = str(exc) if isinstance(exc, AwelError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, AwelError):
            log.exception("syncing document %s of '%s' failed", document.id, space.name)
        await store.documents.set_status(document.id, FAILED, result=text)
    else:
        await store.documents.set_status(
            document.id,
            FINISHED,
            result=f"{count} chunks",
            progress=1.0,
            chunk_count=count,
        )
    return await store.documents.require(document.id)


async def _sync(
    store: MetadataStore,
    index: VectorIndex,
    model: EmbeddingModel,
    space: KnowledgeSpace,
    document: KnowledgeDocument,
    on_progress: Progress | None,
    allow_private_urls: bool,
) -> int:
    settings = SpaceArguments.of(space.context).embedding
    passages = await load_passages(document, allow_private_urls=allow_private_urls)
    splitter = Splitter.for_model(model, settings.chunk_size, settings.chunk_overlap)
    chunks: list[Chunk] = await to_thread.run_sync(splitter.split, passages)
    total = len(chunks)
    await store.documents.set_status(document.id, RUNNING, result=f"embedding {total} chunks")
    # While Ray is on in this process the batches go to its actors (operators/embed/on_ray.py).
    embedder = embedder_for_ingest(model)
    vectors = await _embed(store, embedder, document.id, [c.text for c in chunks], on_progress)
    new = [
        NewChunk(position, chunk.text, {**chunk.meta, "source": document.doc_name})
        for position, chunk in enumerate(chunks)
    ]
    await index.replace(space, document.id, new, vectors)
    return total


async def _embed(
    store: MetadataStore,
    model: EmbeddingModel,
    document_id: int,
    texts: list[str],
    on_progress: Progress | None,
) -> FloatArray:
    total = len(texts)
    if not total:
        return np.empty((0, model.dimension), dtype=np.float32)
    batches = [texts[i : i + BATCH] for i in range(0, total, BATCH)]
    parts: list[FloatArray] = []
    done = 0
    last_write = time.monotonic()
    # The next batch is queued before this one's progress is written, so the engine
    # always has work.
    pending = asyncio.ensure_future(model.embed(batches[0]))
    try:
        for number in range(len(batches)):
            following = (
                asyncio.ensure_future(model.embed(batches[number + 1]))
                if number + 1 < len(batches)
                else None
            )
            try:
                parts.append(await pending)
            except BaseException:
                if following is not None:
                    following.cancel()
                raise
            done += len(batches[number])
            if on_progress is not None:
                on_progress(done, total)
            now = time.monotonic()
            if now - last_write >= PROGRESS_EVERY and done < total:
                last_write = now
                await store.documents.set_status(
                    document_id,
                    RUNNING,
                    result=f"embedded {done} of {total} chunks",
                    progress=0.95 * done / total,  # the swap after is the last 5%
                )
            if following is not None:
                pending = following
    finally:
        if not pending.done():
            pending.cancel()
    return np.concatenate(parts)
