"""Admission to a model: a bounded queue in front of its engine, as vLLM's and TGI's servers keep.

A model serves ``slots`` requests at once (a language model's batch rows, an embeddings
model's batch); more wait in a queue of at most ``max_queued`` requests, each for at most
``max_wait`` seconds. Past either limit the caller gets :class:`ModelBusy` at once (the
server answers 429 with ``Retry-After``), so clients back off instead of timing out behind
a queue that only grows.

The queue lives here, on the event loop, rather than in the engine's worker thread: a
waiting request is then a future, and a caller that leaves (its task cancelled, the client
gone) drops out of the queue at once. The engine sees at most ``slots`` requests, so its own
queue stays empty.

The fast path, a free slot and nobody waiting, is a lock and two counters:
:meth:`ModelQueue.enter` hands back a ticket that already holds its slot.

    queue = ModelQueue("smollm2", slots=8, max_queued=64, max_wait=30.0)
    ticket = queue.enter()          # ModelBusy when the queue is full
    try:
        await ticket.wait()         # ModelBusy past max_wait; returns at once with a slot
        ...                         # run the request
    finally:
        ticket.release()            # the slot goes to the next in line
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import math
import threading
import time
from dataclasses import dataclass, field

from awel.errors import AwelError

__all__ = [
    "WAIT_BUCKETS",
    "ModelBusy",
    "ModelQueue",
    "QueueLimits",
    "QueueStats",
    "Ticket",
    "wait_turn",
]

#: Upper bounds of the wait-time histogram, seconds (Prometheus ``le``); the last is +Inf.
WAIT_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Longest ``Retry-After`` advised, seconds.
MAX_RETRY_AFTER = 60


class ModelBusy(AwelError):
    """The model's queue is full, or a request waited in it past the limit (HTTP 429)."""

    code = "model.busy"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, param="model")
        #: Seconds a client should wait before trying again (the ``Retry-After`` header).
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class QueueLimits:
    """How many requests may wait for a model, and for how long (0: no limit on the wait)."""

    max_queued: int = 64
    max_wait: float = 30.0


@dataclass(slots=True)
class QueueStats:
    """What a queue has done since it was made (read by ``/metrics``)."""

    #: Requests that got a slot, at once or after waiting.
    admitted: int = 0
    #: Requests refused because the queue was full.
    refused_full: int = 0
    #: Requests that waited past ``max_wait``.
    refused_timeout: int = 0
    #: Requests whose caller left while they waited.
    dropped: int = 0
    #: Seconds waited by admitted requests, in all.
    wait_sum: float = 0.0
    #: Admitted requests per wait bucket (not cumulative; the last one is +Inf).
    wait_buckets: list[int] = field(default_factory=lambda: [0] * (len(WAIT_BUCKETS) + 1))


class Ticket:
    """One request's place: holding a slot, or waiting for one."""

    __slots__ = ("_future", "_queue", "_since", "admitted", "released")

    def __init__(self, queue: ModelQueue, admitted: bool) -> None:
        self._queue = queue
        self.admitted = admitted
        self.released = False
        self._future: asyncio.Future[None] | None = None
        self._since = time.monotonic()

    async def wait(self) -> None:
        """Return once the ticket holds a slot; :class:`ModelBusy` past the wait limit.

        Cancelled (the caller left), the ticket leaves the queue.
        """
        if self.admitted:
            return
        future = self._future
        assert future is not None, "a waiting ticket has its future"
        limit = self._queue.limits.max_wait
        try:
            if limit > 0:
                remaining = self._since + limit - time.monotonic()
                await asyncio.wait_for(asyncio.shield(future), max(remaining, 0.0))
            else:
                await future
        except TimeoutError:
            if not self._queue._timed_out(self):
                return  # handed a slot as the timer fired: take it
            raise ModelBusy(
                f"model '{self._queue.name}' is busy: the request waited {limit:g} s in its"
                f" queue without a turn; retry later",
                retry_after=self._queue.retry_after(),
            ) from None
        except asyncio.CancelledError:
            self.release()
            raise

    def release(self) -> None:
        """Give the slot back (or leave the queue); the next in line gets it. Idempotent."""
        if not self.released:
            self._queue._release(self)


class ModelQueue:
    """Admission to one model (see the module). Safe to release from any thread."""

    def __init__(self, name: str, *, slots: int, limits: QueueLimits | None = None) -> None:
        if slots < 1:
            raise ValueError("a model serves at least one request at once")
        self.name = name
        self.slots = slots
        self.limits = limits or QueueLimits()
        self.running = 0
        self._waiting: collections.deque[Ticket] = collections.deque()
        self._lock = threading.Lock()
        self.stats = QueueStats()
        # Seconds a slot is held, smoothed: what Retry-After is estimated from.
        self._hold = 1.0

    @property
    def waiting(self) -> int:
        """Requests in the queue now."""
        return len(self._waiting)

    def oldest_wait(self) -> float:
        """Seconds the request at the head of the queue has waited (0 when none waits)."""
        with self._lock:
            head = self._waiting[0] if self._waiting else None
        return time.monotonic() - head._since if head is not None else 0.0

    def retry_after(self) -> int:
        """Seconds until a slot is likely free for a new request, at least one."""
        estimate = self._hold * (len(self._waiting) + 1) / self.slots
        return max(1, min(MAX_RETRY_AFTER, math.ceil(estimate)))

    def enter(self) -> Ticket:
        """A ticket holding a slot, or waiting for one; :class:`ModelBusy` when full."""
        with self._lock:
            if self.running < self.slots and not self._waiting:
                self.running += 1
                self.stats.admitted += 1
                self.stats.wait_buckets[0] += 1
                return Ticket(self, True)
            if len(self._waiting) >= self.limits.max_queued:
                self.stats.refused_full += 1
                full = True
            else:
                full = False
                ticket = Ticket(self, False)
                ticket._future = asyncio.get_running_loop().create_future()
                self._waiting.append(ticket)
        if full:
            raise ModelBusy(
                f"model '{self.name}' is busy: {self.slots} requests are running and"
                f" {self.limits.max_queued} waiting (max_queued_requests); retry later",
                retry_after=self.retry_after(),
            )
        return ticket

    def _release(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.released:
                return
            ticket.released = True
            if not ticket.admitted:
                # It left the queue (its caller is gone) before its turn.
                self._remove(ticket)
                self.stats.dropped += 1
                return
            held = time.monotonic() - ticket._since
            self._hold += (held - self._hold) * 0.2
            self.running -= 1
            self._hand_on()

    def _hand_on(self) -> None:
        # With the lock held: give free slots to the oldest waiters.
        while self.running < self.slots and self._waiting:
            ticket = self._waiting.popleft()
            future = ticket._future
            assert future is not None
            if future.done():  # its caller was cancelled; wait() releases it
                continue
            waited = time.monotonic() - ticket._since
            ticket.admitted = True
            ticket._since = time.monotonic()
            self.running += 1
            stats = self.stats
            stats.admitted += 1
            stats.wait_sum += waited
            stats.wait_buckets[bisect.bisect_left(WAIT_BUCKETS, waited)] += 1
            try:
                future.get_loop().call_soon_threadsafe(_wake, future)
            except RuntimeError:  # its event loop is closed: nobody waits any more
                ticket.admitted = False
                ticket.released = True
                self.running -= 1

    def _remove(self, ticket: Ticket) -> None:
        with contextlib.suppress(ValueError):  # already handed on, or timed out
            self._waiting.remove(ticket)

    def _timed_out(self, ticket: Ticket) -> bool:
        """Take a ticket whose wait ran out from the queue; False if it got a slot first."""
        with self._lock:
            if ticket.admitted:
                return False
            ticket.released = True
            self._remove(ticket)
            self.stats.refused_timeout += 1
            return True


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def wait_turn(stream: object) -> None:
    """Wait until the model takes the request ``stream`` answers, where the engine queues
    (its stream has ``admitted()``); :class:`ModelBusy` when it will not.

    A route calls it before it sends a stream's headers, so a busy model is still a 429.
    """
    admitted = getattr(stream, "admitted", None)
    if admitted is not None:
        await admitted()
