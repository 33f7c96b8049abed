"""Stream helpers: telling a stream from a value, and teeing one stream to several consumers.

Streams are async iterators that downstream nodes pull, so back-pressure comes for free.
When two nodes read one stream, the runner tees it: each consumer gets every item, and items
are buffered only as far as the slowest consumer lags behind the fastest.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import anyio

# Whether values of a class are streams. ABCMeta caches its answer per class too, but
# reaching that cache costs a Python-level __instancecheck__ on every call, and this test
# runs several times per flow call. Bounded so that classes made on the fly cannot grow it.
# Hot paths read it directly (`STREAM_CLASSES.get(type(x))`, falling back to is_stream on a
# miss) to save the call.
STREAM_CLASSES: dict[type, bool] = {}


def is_stream(value: Any) -> bool:
    """Whether ``value`` is a stream (an async iterable)."""
    # AsyncIterable's check looks for __aiter__ on the class, so one answer per class holds.
    # (Asking a pydantic model for a missing attribute instead costs an exception: ~1 us.)
    cls = type(value)
    known = STREAM_CLASSES.get(cls)
    if known is None:
        known = isinstance(value, AsyncIterable)
        if len(STREAM_CLASSES) < 4096:
            STREAM_CLASSES[cls] = known
    return known


class _TeeSource:
    __slots__ = ("buffers", "done", "error", "iterator", "lock", "open")

    def __init__(self, source: AsyncIterable[Any], n: int) -> None:
        self.iterator = source.__aiter__()
        self.buffers: list[deque[Any]] = [deque() for _ in range(n)]
        self.lock = anyio.Lock()
        self.done = False
        self.error: BaseException | None = None
        self.open = n

    async def pull(self) -> None:
        try:
            item = await self.iterator.__anext__()
        except StopAsyncIteration:
            self.done = True
            return
        except Exception as exc:
            self.done = True
            self.error = exc
            return
        for buf in self.buffers:
            buf.append(item)

    async def release(self) -> None:
        self.open -= 1
        if self.open == 0 and not self.done:
            aclose = getattr(self.iterator, "aclose", None)
            if aclose is not None:
                await aclose()


async def _branch(src: _TeeSource, i: int) -> AsyncIterator[Any]:
    buf = src.buffers[i]
    try:
        while True:
            if not buf:
                if src.done:
                    if src.error is not None:
                        raise src.error
                    return
                async with src.lock:
                    # Another consumer may have pulled while this one waited for the lock.
                    if not buf and not src.done:
                        await src.pull()
                continue
            yield buf.popleft()
    finally:
        buf.clear()
        src.buffers[i] = deque(maxlen=0)
        await src.release()


def tee(source: AsyncIterable[Any], n: int) -> list[AsyncIterator[Any]]:
    """``n`` independent iterators over the items of ``source``."""
    src = _TeeSource(source, n)
    return [_branch(src, i) for i in range(n)]
