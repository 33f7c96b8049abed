"""Slow and idle clients and the connection cap, on a live server run by the server's own
runner (server/main.py, server/connections.py), over raw sockets where a client misbehaves."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from operators.models import ModelSet

from .model_api_live import FakeLLM, LiveServer, model_api

pytestmark = pytest.mark.timeout(60)

#: The fake model writes one word per this many seconds: a 60-word answer streams for 3 s.
WORD = 0.05
LONG = " ".join(f"w{i}" for i in range(60))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    models = ModelSet([FakeLLM(delay=WORD)], created=1700000000)
    with model_api(
        tmp_path,
        models,
        served=True,
        request_head_timeout=0.5,
        keepalive_timeout=1.0,
        max_connections=6,
        shutdown_timeout=1.0,
    ) as live:
        yield live


async def _connect(live: LiveServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", live.port)


async def _closed_after(reader: asyncio.StreamReader, limit: float) -> float:
    """Seconds until the server closes the connection (reads to EOF)."""
    started = time.monotonic()
    async with asyncio.timeout(limit):
        while await reader.read(4096):
            pass
    return time.monotonic() - started


async def _stream(live: LiveServer, seen: list[float]) -> str:
    """A chat stream of the long answer; the time of each chunk goes to ``seen``."""
    body = {
        "model": "fake-llm",
        "messages": [{"role": "user", "content": LONG}],
        "stream": True,
        "max_tokens": 100,
    }
    text = []
    url = f"{live.url}/api/v1/chat/completions"
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as resp:
        assert resp.status == 200
        async for line in resp.content:
            seen.append(time.monotonic())
            text.append(line.decode())
    return "".join(text)


async def test_a_slow_head_is_closed_while_a_sending_stream_stays_open(
    server: LiveServer,
) -> None:
    seen: list[float] = []
    stream = asyncio.create_task(_stream(server, seen))
    # Headers a byte at a time, never finished: closed at the head deadline (0.5 s), far
    # before the keep-alive timeout would have (1 s) and aiohttp's own default (an hour).
    reader, writer = await _connect(server)
    trickle = asyncio.create_task(_trickle(writer))
    assert 0.4 < await _closed_after(reader, 5) < 0.9
    trickle.cancel()
    await asyncio.gather(trickle, return_exceptions=True)
    writer.close()
    # A connection that sends nothing at all is closed at the deadline too.
    silent, silent_writer = await _connect(server)
    assert 0.4 < await _closed_after(silent, 5) < 0.9
    silent_writer.close()
    text = await stream
    # The stream outlived both deadlines, sending all along, and ended whole.
    assert seen[-1] - seen[0] > 2.0
    assert "w59" in text and text.rstrip().endswith("data: [DONE]")


async def _trickle(writer: asyncio.StreamWriter) -> None:
    """Send a request head a byte every 50 ms, never finishing it."""
    with contextlib.suppress(ConnectionError):
        for byte in b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)


async def test_an_idle_keep_alive_connection_is_closed_after_its_timeout(
    server: LiveServer,
) -> None:
    reader, writer = await _connect(server)
    writer.write(b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    length = int(
        next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[
            1
        ]
    )
    await reader.readexactly(length)
    # Idle now: closed after keepalive_timeout (1 s), not at the head deadline (0.5 s).
    assert 0.8 < await _closed_after(reader, 5) < 1.6
    writer.close()


async def test_the_connection_cap_answers_503_and_frees_with_closing(
    server: LiveServer,
) -> None:
    held = [await _connect(server) for _ in range(6)]
    reader, writer = await _connect(server)
    writer.write(b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 503")
    assert b"Retry-After: 1" in answer
    writer.close()
    for _, w in held:
        w.close()
    # Closed ones no longer count: the server answers again.
    await asyncio.sleep(0.2)
    url = f"{server.url}/api/v1/models"
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 200
