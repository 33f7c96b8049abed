"""Writing a flow's stream to the client: framing, batching and keep-alive.

Framing: SSE events (``data: ...`` lines and a blank line) or NUL-delimited JSON chunks.

Batching: a chunk is not written the moment it is made. It is buffered, and the buffer is
written when the producing task next waits (a ``call_soon`` callback runs exactly then), or
when it grows large. A model emitting tokens one at a time waits between tokens, so each
token still leaves at once; a flow that produces many items without waiting sends them in
one write. The client cannot tell the difference, except in speed.

Keep-alive: while nothing is written for ``keepalive`` seconds, a comment line (``: ping``)
keeps proxies from closing the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .json import dumps, dumps_text

#: Past this many buffered bytes the producer waits for the write.
_HIGH_WATER = 64 * 1024


def sse_frame(item: Any) -> bytes:
    """One SSE event carrying ``item`` (text as is, anything else as JSON)."""
    if isinstance(item, bytes):
        return item
    text = item if isinstance(item, str) else dumps_text(item)
    if "\n" not in text and "\r" not in text:
        return b"data: " + text.encode() + b"\n\n"
    # A multi-line payload is several data lines of one event (the SSE format's rule).
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "".join(f"data: {line}\n" for line in lines).encode() + b"\n"


def sse_passthrough(item: Any) -> bytes:
    """Items an operator already framed as SSE (its ``output_format`` is ``"SSE"``)."""
    return item if isinstance(item, bytes) else str(item).encode()


def nul_frame(item: Any) -> bytes:
    """One NUL-terminated JSON chunk (DB-GPT's worker stream)."""
    return dumps(item) + b"\0"


class ChunkWriter:
    """Buffers chunks and writes them when the producer yields the event loop."""

    def __init__(self, response: web.StreamResponse, keepalive: float | None) -> None:
        self._resp = response
        self._loop = asyncio.get_running_loop()
        self._buf: list[bytes] = []
        self._size = 0
        self._scheduled = False
        self._writing: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._active = False
        self._keepalive = keepalive
        self._timer: asyncio.TimerHandle | None = None
        if keepalive:
            self._timer = self._loop.call_later(keepalive, self._ping)

    @property
    def error(self) -> BaseException | None:
        """The error a background write ran into (the client went away, say)."""
        return self._error

    def send(self, chunk: bytes) -> None:
        """Queue a chunk; it leaves when the producer next waits."""
        if self._error is not None:
            raise self._error
        self._buf.append(chunk)
        self._size += len(chunk)
        self._active = True
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._kick)

    @property
    def backlog(self) -> int:
        return self._size

    def _kick(self) -> None:
        self._scheduled = False
        if self._buf and (self._writing is None or self._writing.done()):
            self._writing = self._loop.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._buf:
                data = b"".join(self._buf) if len(self._buf) > 1 else self._buf[0]
                self._buf.clear()
                self._size = 0
                await self._resp.write(data)
        except (ConnectionError, RuntimeError) as exc:
            self._error = exc

    async def flush(self) -> None:
        """Write everything queued, now."""
        writing = self._writing
        if writing is not None and not writing.done():
            await writing
        await self._drain()
        if self._error is not None:
            raise self._error

    def _ping(self) -> None:
        if not self._active and self._error is None:
            self.send(b": ping\n\n")
        self._active = False
        assert self._keepalive is not None
        self._timer = self._loop.call_later(self._keepalive, self._ping)

    async def close(self) -> None:
        """Stop the keep-alive and write what is left."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.flush()

    def abort(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writing is not None and not self._writing.done():
            self._writing.cancel()


Framer = Callable[[Any], bytes]
