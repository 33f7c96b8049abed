"""Client connections: a cap on how many are open, and a deadline for each request head.

aiohttp closes an idle keep-alive connection after ``keepalive_timeout`` (the setting of the
same name), and that is all it does about slow clients: a connection that sends its headers
a byte at a time, or nothing, is otherwise kept (its default keep-alive is an hour), and
nothing bounds how many connections a process holds. Two things are added here, in a
:class:`~aiohttp.web_protocol.RequestHandler` subclass, since aiohttp offers no hook for
either:

- **Request head deadline** (``request_head_timeout``), as nginx's ``client_header_timeout``:
  the clock starts when a connection opens, and again when the first byte of a later request
  arrives on an idle keep-alive connection; a connection whose request line and headers are
  not all in by then is closed. Once a head is complete the clock stops, so a long request
  (an SSE stream sending for minutes) is never cut by it.
- **Connection cap** (``max_connections``, over every port of the process): a connection
  past it is answered ``503`` with ``Retry-After`` and closed, rather than left to queue,
  so a flood cannot run the process out of file descriptors.

The handler relies on two attributes of aiohttp's (``_request_count``, counted when a request
head has been parsed, and ``_waiter``, set while the connection waits for a head); the tests
in ``tests/server/test_connections.py`` drive a live server and fail if they change.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

__all__ = ["ConnectionLimits", "GuardedRunner", "GuardedServer"]

log = logging.getLogger("awel.server")

#: Seconds a refused connection is kept (reading and dropping what it sends) after its 503,
#: so that closing a socket with unread bytes does not reset the answer away.
_LINGER = 1.0
_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n"
    b"Content-Length: 43\r\n"
    b"\r\n"
    b"too many connections to this server; retry\n"
)


@dataclass(slots=True)
class ConnectionLimits:
    """The limits, and the count of open connections they share (one per process)."""

    #: 0: no cap.
    max_connections: int = 0
    #: Seconds; 0: no deadline.
    head_timeout: float = 0.0
    #: Connections open now (accepted and not refused).
    open: int = 0
    #: Connections refused by the cap, and closed for a late head, since start.
    refused: int = 0
    head_timeouts: int = 0
    _warned: bool = field(default=False, repr=False)


class GuardedHandler(RequestHandler):
    """aiohttp's connection handler with a head deadline and the connection cap."""

    __slots__ = ("_counted", "_head_at", "_head_timer", "_limits")

    def __init__(self, manager: web.Server, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._limits = limits
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_at = 0
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        limits = self._limits
        if limits.max_connections and limits.open >= limits.max_connections:
            self._refuse(transport)
            return
        limits.open += 1
        self._counted = True
        super().connection_made(transport)
        self._arm()

    def _refuse(self, transport: asyncio.BaseTransport) -> None:
        limits = self._limits
        limits.refused += 1
        if not limits._warned:
            limits._warned = True
            log.warning(
                "%d connections are open (max_connections): refusing more with 503",
                limits.open,
            )
        assert isinstance(transport, asyncio.Transport)
        transport.write(_REFUSAL)
        if transport.can_write_eof():
            transport.write_eof()
        self._loop.call_later(_LINGER, transport.close)

    def data_received(self, data: bytes) -> None:
        if not self._counted:
            return  # refused: what it sends is dropped
        heads = self._request_count
        super().data_received(data)
        if self._request_count != heads:
            self._disarm()
        elif data and self._head_timer is None and self._idle():
            # The first bytes of a request on an idle keep-alive connection.
            self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        if self._counted:
            self._counted = False
            self._limits.open -= 1
            if self._limits.open < self._limits.max_connections // 2:
                self._limits._warned = False
        super().connection_lost(exc)

    def _idle(self) -> bool:
        # Waiting for a request head, with no request being handled.
        waiter = self._waiter
        return waiter is not None and not waiter.done()

    def _arm(self) -> None:
        timeout = self._limits.head_timeout
        if timeout > 0:
            self._head_at = self._request_count
            self._head_timer = self._loop.call_later(timeout, self._head_late)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self._request_count == self._head_at and self.transport is not None:
            self._limits.head_timeouts += 1
            log.debug("closing a connection that sent no whole request head in time")
            self.force_close()


class GuardedServer(web.Server):
    """aiohttp's low-level server, making :class:`GuardedHandler` s."""

    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits

    def __call__(self) -> RequestHandler:
        # web.Server keeps the handler's settings in _kwargs and makes a RequestHandler
        # itself; this is that one line with our class.
        return GuardedHandler(self, limits=self.limits, loop=self._loop, **self._kwargs)


class GuardedRunner(web.AppRunner):
    """An :class:`~aiohttp.web.AppRunner` whose server guards its connections."""

    def __init__(self, app: web.Application, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.limits = limits

    async def _make_server(self) -> web.Server:
        # The app's own server (startup has run, the app is frozen), rebuilt as ours with
        # the same handler, request factory and settings.
        made = await super()._make_server()
        return GuardedServer(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=made._loop,
            limits=self.limits,
            **made._kwargs,
        )
