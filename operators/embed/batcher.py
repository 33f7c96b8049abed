"""Dynamic micro-batching: texts from concurrent callers run through the model together.

An encoder on a CPU does far more sentences per second in a batch than one at a time, but a
server receives requests one by one. The batcher gathers whatever callers queued while the
model was busy (up to ``max_batch`` texts), runs them as one batch in a worker thread and
hands each caller its own rows. Nothing waits on a timer: an idle model starts on the first
request at once, so a lone caller pays no added latency, and batches form only under load,
exactly when they pay off.

One drain task runs while there is work and ends when the queue is empty, so no task
outlives the burst that started it (nor the event loop that ran it). Callers cancelled
before their batch starts are dropped from the queue; a batch already in the thread runs to
the end and the cancelled caller's rows are thrown away.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["BatchStats", "MicroBatcher"]

FloatArray = npt.NDArray[np.float32]
#: Turns texts into one row each, in order; runs in the worker thread.
RunBatch = Callable[[list[str]], FloatArray]


@dataclass
class BatchStats:
    """What the model was asked to do, for tests, logs and metrics."""

    #: Model runs: batches handed to the worker thread.
    batches: int = 0
    #: Texts embedded over all batches.
    texts: int = 0
    #: The largest batch so far, in texts.
    largest: int = 0
    #: Requests dropped because their caller was cancelled before the batch started.
    dropped: int = 0
    #: Texts per batch, most recent last (a short history, enough to see batching work).
    recent: deque[int] = field(default_factory=lambda: deque(maxlen=64))

    def record(self, size: int) -> None:
        self.batches += 1
        self.texts += size
        self.largest = max(self.largest, size)
        self.recent.append(size)


@dataclass
class _Request:
    texts: list[str]
    future: asyncio.Future[FloatArray]


class MicroBatcher:
    """Runs ``run`` on batches of texts gathered from concurrent :meth:`submit` calls.

    ``run`` must return one float32 row per text, in the order given; it runs in
    ``executor`` (one thread is right: the model parallelises inside a batch itself).
    """

    def __init__(self, run: RunBatch, *, max_batch: int, executor: Executor | None) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        self._run = run
        self.max_batch = max_batch
        self._executor = executor
        self._queue: deque[_Request] = deque()
        self._drain_task: asyncio.Task[None] | None = None
        self._closed = False
        self.stats = BatchStats()

    async def submit(self, texts: list[str]) -> FloatArray:
        """The rows for ``texts`` (at least one), batched with whatever else is queued.

        More than ``max_batch`` texts are queued as several requests, so one large call
        cannot hold the model longer than one batch at a time before others get a turn.
        """
        if self._closed:
            raise RuntimeError("the embeddings model is closed")
        chunks = [texts[i : i + self.max_batch] for i in range(0, len(texts), self.max_batch)]
        futures = [self._enqueue(chunk) for chunk in chunks]
        try:
            parts = [await future for future in futures]
        finally:
            # On cancellation or failure, the other chunks are not wanted any more: cancel
            # what has not run (the drain drops it) and mark failures seen, so asyncio does
            # not log "exception was never retrieved" for them.
            for future in futures:
                if not future.done():
                    future.cancel()
                elif not future.cancelled():
                    future.exception()
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _enqueue(self, texts: list[str]) -> asyncio.Future[FloatArray]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[FloatArray] = loop.create_future()
        self._queue.append(_Request(texts, future))
        task = self._drain_task
        if task is not None and task.get_loop() is not loop:
            # Left over from an event loop that has ended (tests run one loop per test):
            # its requests can never be answered there, so only this loop's stay queued.
            self._queue = deque(r for r in self._queue if r.future.get_loop() is loop)
            task = None
        if task is None or task.done():
            self._drain_task = loop.create_task(self._drain(), name="awel-embed-batcher")
        return future

    def _take(self) -> list[_Request]:
        """The next batch: queued requests in order, up to ``max_batch`` texts in all."""
        batch: list[_Request] = []
        size = 0
        while self._queue:
            request = self._queue[0]
            if request.future.done():  # its caller was cancelled while it waited
                self._queue.popleft()
                self.stats.dropped += 1
                continue
            if batch and size + len(request.texts) > self.max_batch:
                break
            batch.append(self._queue.popleft())
            size += len(request.texts)
        return batch

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while batch := self._take():
            texts = [text for request in batch for text in request.texts]
            self.stats.record(len(texts))
            try:
                rows = await loop.run_in_executor(self._executor, self._run, texts)
            except asyncio.CancelledError:
                # The loop is shutting down (or aclose cancelled us): nobody gets an answer.
                for request in batch:
                    request.future.cancel()
                for request in self._queue:
                    request.future.cancel()
                self._queue.clear()
                raise
            except Exception as exc:
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(exc)
                continue
            start = 0
            for request in batch:
                end = start + len(request.texts)
                if not request.future.done():
                    request.future.set_result(rows[start:end])
                start = end

    async def aclose(self) -> None:
        """Refuse new work, let queued requests finish, and wait for the drain to end."""
        self._closed = True
        task = self._drain_task
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            await asyncio.shield(task)
        self._drain_task = None
