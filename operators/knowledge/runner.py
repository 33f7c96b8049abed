"""Document syncs in the background, each awaitable by whoever started it or waits later.

DB-GPT's v2 sync starts its work without awaiting it, so a client cannot tell when a
document is ready; here :meth:`SyncRunner.start` hands back the tasks, and
:meth:`SyncRunner.wait` waits for any document's sync, whoever started it. A document
already syncing is not synced twice at once: starting it again returns the running task.
:meth:`SyncRunner.close` (the app stopping) cancels what is left, leaving those documents
FAILED ("interrupted") rather than RUNNING forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from functools import partial
from typing import Any

from operators.storage import KnowledgeDocument

__all__ = ["SyncRunner"]

log = logging.getLogger("awel.knowledge")

#: Syncs one document and returns it as it ended.
SyncOne = Callable[[int], Coroutine[Any, Any, KnowledgeDocument]]


class SyncRunner:
    """The syncs running in this process, by document id."""

    def __init__(self, sync_one: SyncOne) -> None:
        self._sync_one = sync_one
        self._tasks: dict[int, asyncio.Task[KnowledgeDocument]] = {}
        self._closed = False

    def start(self, document_ids: Iterable[int]) -> list[asyncio.Task[KnowledgeDocument]]:
        """Sync each document in a task of its own (the running one, for a document already
        syncing); the tasks, in the order given. A failure is recorded on the document;
        the task's result is the document as its sync ended."""
        if self._closed:
            raise RuntimeError("the knowledge sync runner is closed")
        loop = asyncio.get_running_loop()
        tasks = []
        for document_id in document_ids:
            task = self._tasks.get(document_id)
            if task is None or task.done():
                task = loop.create_task(
                    self._sync_one(document_id), name=f"awel-knowledge-sync-{document_id}"
                )
                self._tasks[document_id] = task
                task.add_done_callback(partial(self._finished, document_id))
            tasks.append(task)
        return tasks

    def _finished(self, document_id: int, task: asyncio.Task[KnowledgeDocument]) -> None:
        if self._tasks.get(document_id) is task:
            del self._tasks[document_id]
        if not task.cancelled() and task.exception() is not None:
            # sync_document records failures itself; this is one it could not record.
            log.error("syncing document %s failed", document_id, exc_info=task.exception())

    def running(self) -> list[int]:
        """The documents syncing now."""
        return [d for d, t in self._tasks.items() if not t.done()]

    async def wait(self, document_ids: Iterable[int] | None = None) -> None:
        """Return when the syncs of these documents (all, for None) that are running now
        have ended; their failures are on the documents, not raised here."""
        wanted = self._tasks if document_ids is None else set(document_ids)
        tasks = [t for d, t in list(self._tasks.items()) if d in wanted]
        if tasks:
            # Shielded: a waiter that is cancelled (a client hanging up) stops waiting; the
            # syncs it waited for go on (gather alone would cancel them with it).
            await asyncio.shield(asyncio.gather(*tasks, return_exceptions=True))

    async def close(self) -> None:
        """Cancel the syncs still running and wait until they have stopped."""
        self._closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
