"""A model's bounded queue on the live servers, with the real small model: 429 with
Retry-After past the limit (OpenAI's shape on the model API, DB-GPT's Result on the
webserver), the queue draining afterwards, and a client that leaves freeing its place."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from operators.admission import QueueLimits
from operators.models import current_models

from .model_api_live import DATA_DIR, LiveServer, model_api, require_built

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

LLM = "smollm2"
#: A prompt the model answers at length (it stops at max_tokens, about 60 a second here).
STORY = "Write a long story about a dragon who learns to cook."


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_built(LLM)
    with model_api(
        tmp_path_factory.mktemp("queue"),
        None,
        served=True,
        data_dir=DATA_DIR,
        max_queued_requests=2,
        max_queue_wait=20.0,
        shutdown_timeout=1.0,
    ) as live:
        yield live


@pytest.fixture
def one_slot(real: LiveServer) -> Iterator[Any]:
    """The model admits one request at a time (its engine could batch more): a queue is
    then easy to fill without loading a 2-core machine with eight streams."""
    queue = current_models().llm(LLM).queue  # type: ignore[attr-defined]
    slots, limits = queue.slots, queue.limits
    queue.slots = 1
    yield queue
    queue.slots, queue.limits = slots, limits


def _chat(tokens: int, stream: bool = False) -> dict[str, Any]:
    return {
        "model": LLM,
        "messages": [{"role": "user", "content": STORY}],
        "max_tokens": tokens,
        "temperature": 0,
        "stream": stream,
    }


async def _post(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any]
) -> tuple[int, dict[str, str], Any]:
    async with session.post(url, json=body) as resp:
        if resp.content_type == "application/json":
            return resp.status, dict(resp.headers), await resp.json()
        return resp.status, dict(resp.headers), await resp.text()


async def _until(condition: Any, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def _metric(live: LiveServer, name: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(f"{live.url}/metrics") as resp:
        text = await resp.text()
    found = re.search(rf'^{name}\{{[^}}]*model="{LLM}"[^}}]*\}} (\S+)$', text, re.M)
    assert found is not None, name
    return float(found.group(1))


async def test_past_the_queue_limit_429_with_retry_after_then_it_drains(
    real: LiveServer, one_slot: Any
) -> None:
    url = f"{real.url}/api/v1/chat/completions"
    refused_before = one_slot.stats.refused_full
    async with aiohttp.ClientSession() as session:
        # One running, two waiting (max_queued_requests=2): the queue is full.
        running = asyncio.create_task(_post(session, url, _chat(120)))
        await _until(lambda: one_slot.running == 1)
        waiting = [asyncio.create_task(_post(session, url, _chat(4))) for _ in range(2)]
        await _until(lambda: one_slot.waiting == 2)
        assert await _metric(real, "awel_model_queue_length") == 2
        status, headers, body = await _post(session, url, _chat(4))
        assert status == 429
        assert int(headers["Retry-After"]) >= 1
        assert body["error"]["type"] == "rate_limit_error"
        assert body["error"]["code"] == "model_busy"
        assert "max_queued_requests" in body["error"]["message"]
        # A stream is refused the same way, before its headers.
        status, headers, _ = await _post(session, url, _chat(4, stream=True))
        assert status == 429 and "Retry-After" in headers
        # Everyone accepted is answered, and the queue drains.
        for task in (running, *waiting):
            status, _, body = await task
            assert status == 200 and body["choices"][0]["message"]["content"]
        assert one_slot.waiting == 0 and one_slot.running == 0
        status, _, _ = await _post(session, url, _chat(4))
        assert status == 200
    assert one_slot.stats.refused_full == refused_before + 2
    assert await _metric(real, "awel_model_queue_length") == 0
    assert await _metric(real, "awel_model_queue_wait_seconds_count") >= 3


async def test_a_client_that_leaves_the_queue_frees_its_place(
    real: LiveServer, one_slot: Any
) -> None:
    url = f"{real.url}/api/v1/chat/completions"
    dropped = one_slot.stats.dropped
    async with aiohttp.ClientSession() as session:
        running = asyncio.create_task(_post(session, url, _chat(120, stream=True)))
        await _until(lambda: one_slot.running == 1)
        leavers = [asyncio.create_task(_post(session, url, _chat(4))) for _ in range(2)]
        await _until(lambda: one_slot.waiting == 2)
        for task in leavers:
            task.cancel()
        await asyncio.gather(*leavers, return_exceptions=True)
        # The server sees the hang-ups and takes both out of the queue ...
        await _until(lambda: one_slot.waiting == 0)
        assert one_slot.stats.dropped == dropped + 2
        # ... so two more fit where a full queue would have refused them.
        stayers = [asyncio.create_task(_post(session, url, _chat(4))) for _ in range(2)]
        for task in (running, *stayers):
            status, _, _ = await task
            assert status == 200
    assert await _metric(real, "awel_model_queue_dropped_total") >= 2


async def test_a_wait_past_the_limit_is_429(real: LiveServer, one_slot: Any) -> None:
    one_slot.limits = QueueLimits(max_queued=2, max_wait=0.3)
    url = f"{real.url}/api/v1/chat/completions"
    async with aiohttp.ClientSession() as session:
        running = asyncio.create_task(_post(session, url, _chat(120, stream=True)))
        await _until(lambda: one_slot.running == 1)
        started = time.monotonic()
        status, headers, body = await _post(session, url, _chat(4))
        assert status == 429 and int(headers["Retry-After"]) >= 1
        assert time.monotonic() - started >= 0.3
        assert "waited 0.3 s" in body["error"]["message"]
        assert (await running)[0] == 200


async def test_the_webserver_answers_429_in_dbgpt_envelope(
    real: LiveServer, one_slot: Any, tmp_path: Path
) -> None:
    from .conftest import running

    one_slot.limits = QueueLimits(max_queued=0, max_wait=20.0)
    url = f"{real.url}/api/v1/chat/completions"
    async with running(tmp_path) as web, aiohttp.ClientSession() as session:
        busy = asyncio.create_task(_post(session, url, _chat(120, stream=True)))
        await _until(lambda: one_slot.running == 1)
        resp = await web.post(
            "/api/v1/awel/trigger/examples/simple_chat",
            json={"model": LLM, "user_input": "Hello"},
        )
        body = await resp.json()
        assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
        assert body["success"] is False and body["err_code"] == "model_busy"
        assert "busy" in body["err_msg"]
        # A chat round (DB-GPT's streamed /api/v1/chat/completions) too: refused before its
        # stream's headers, and no half round is stored.
        round_ = await web.post(
            "/api/v1/chat/completions",
            json={"conv_uid": "busy-1", "chat_mode": "chat_normal", "user_input": "Hello",
                  "model_name": LLM},
        )  # fmt: skip
        said = await round_.json()
        assert round_.status == 429 and int(round_.headers["Retry-After"]) >= 1, said
        assert said["success"] is False and "busy" in said["err_msg"]
        history = await web.get(
            "/api/v1/chat/dialogue/messages/history", params={"con_uid": "busy-1"}
        )
        assert (await history.json())["data"] == []
        assert (await busy)[0] == 200
