"""The chat tests: a scripted model, the shop databases, and the live server over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from operators.llm.types import Completion, Delta, GenerationRequest, Usage
from operators.models import ModelSet, using_models
from operators.storage import Datasource, current_store
from tests.datasource.conftest import shop  # noqa: F401  (the fixture, for these tests)
from tests.server.conftest import running

Client = TestClient[web.Request, web.Application]


class ScriptedLLM:
    """A language model whose answers the test writes: the first rule whose key is in the
    question answers (a string, or a function of the request); else ``You said: <question>``.

    Answers stream in pieces of ``piece`` characters, ``delay`` seconds apart; every request
    is kept in ``requests``.
    """

    def __init__(self, name: str = "scripted", *, piece: int = 7, delay: float = 0.0) -> None:
        self.name = name
        self.rules: list[tuple[str, str | Callable[[GenerationRequest], str]]] = []
        self.requests: list[GenerationRequest] = []
        self.piece = piece
        self.delay = delay
        self.streams_closed = 0

    def when(self, key: str, answer: str | Callable[[GenerationRequest], str]) -> None:
        self.rules.append((key, answer))

    def _text(self, request: GenerationRequest) -> str:
        self.requests.append(request)
        question = request.messages[-1].content if request.messages else request.prompt or ""
        for key, answer in self.rules:
            if key in question:
                return answer(request) if callable(answer) else answer
        return f"You said: {question}"

    async def generate(self, request: GenerationRequest) -> Completion:
        text = self._text(request)
        return Completion(text=text, finish_reason="stop", usage=Usage())

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        text = self._text(request)
        try:
            for i in range(0, len(text), self.piece):
                await asyncio.sleep(self.delay)
                yield Delta(text=text[i : i + self.piece])
        finally:
            self.streams_closed += 1
        yield Delta(finish_reason="stop", usage=Usage())

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def aclose(self) -> None:
        return None


@pytest.fixture
async def llm() -> AsyncIterator[ScriptedLLM]:
    model = ScriptedLLM()
    async with using_models(ModelSet([model])):
        yield model


@asynccontextmanager
async def serving(tmp_path: Path, *datasources: Datasource) -> AsyncIterator[Client]:
    """The live server, with ``datasources`` configured in its store."""
    async with running(tmp_path) as client:
        for ds in datasources:
            await current_store().datasources.add(ds)
        yield client


def events(raw: str) -> list[str]:
    """The payloads of an SSE body's events (after ``data:``, one optional space kept off
    only for JSON events)."""
    out: list[str] = []
    for block in raw.split("\n\n"):
        if not block.strip() or block.startswith(":"):
            continue
        assert block.startswith("data:"), block
        out.append(block[len("data:") :])
    return out


def plain_texts(raw: str) -> list[str]:
    """The cumulative texts of DB-GPT's plain stream, newlines restored."""
    return [e.replace("\\n", "\n") for e in events(raw)]


async def chat(client: Client, **body: Any) -> tuple[int, str, str]:
    """POST a round to /api/v1/chat/completions: status, content type, body text."""
    resp = await client.post("/api/v1/chat/completions", json=body)
    return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


async def ok(resp: Any) -> Any:
    body = await resp.json()
    assert resp.status == 200, body
    assert body["success"] is True, body
    return body["data"]


async def history(client: Client, conv_uid: str) -> list[dict[str, Any]]:
    resp = await client.get("/api/v1/chat/dialogue/messages/history", params={"con_uid": conv_uid})
    data: list[dict[str, Any]] = await ok(resp)
    return data


def sql_answer(sql: str, display: str = "response_table", thoughts: str = "I count.") -> str:
    return json.dumps({"thoughts": thoughts, "sql": sql, "display_type": display})
