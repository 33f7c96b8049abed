"""OpenAIProxyLLM against a fake OpenAI-compatible server started in the test, and against
our own model API when it exists.

The fake records every request (path, headers, JSON body) and answers what the test told it
to, byte for byte, so the tests pin the request shapes we send and how we read odd streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from operators.llm import (
    ChatMessage,
    Delta,
    GenerationParams,
    GenerationRequest,
    Guidance,
    LanguageModel,
    Usage,
)
from operators.llm.proxy import OpenAIProxyLLM, ProxyError

pytestmark = pytest.mark.timeout(20)

CHAT = [ChatMessage(role="user", content="What is the capital of France?")]


def sse(*events: object) -> bytes:
    """Events as an OpenAI server frames them; a str is sent as the data verbatim."""
    return b"".join(
        f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events
    )


def chunk(content: str | None = None, finish: str | None = None) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
USAGE_CHUNK = {"id": "chatcmpl-1", "choices": [], "usage": USAGE}


@dataclass
class Fake:
    """What the fake upstream saw, and what it answers next."""

    requests: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    #: (status, JSON or text body) for non-streamed requests and error statuses.
    status: int = 200
    answer: Any = None
    #: Raw stream bytes, sent in these pieces (one write each).
    pieces: list[bytes] = field(default_factory=list)
    #: After the pieces, keep the stream open until the client hangs up.
    hang: bool = False
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append((request.path, dict(request.headers), body))
        if self.status >= 400 or not body.get("stream"):
            if isinstance(self.answer, str):
                return web.Response(status=self.status, text=self.answer)
            return web.json_response(self.answer, status=self.status)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        try:
            for piece in self.pieces:
                await resp.write(piece)
            if self.hang:
                await asyncio.sleep(3600)
        except (asyncio.CancelledError, ConnectionResetError):
            self.hung_up.set()
            raise
        await resp.write_eof()
        return resp


@pytest.fixture
async def fake() -> AsyncIterator[tuple[Fake, str]]:
    state = Fake()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", state.handle)
    app.router.add_post("/v1/completions", state.handle)
    # handler_cancellation: a client hang-up cancels the handler, as in our server.
    server = TestServer(app, host="127.0.0.1", handler_cancellation=True)
    await server.start_server()
    try:
        yield state, str(server.make_url("/v1"))
    finally:
        await server.close()


@pytest.fixture
async def llm(fake: tuple[Fake, str]) -> AsyncIterator[OpenAIProxyLLM]:
    model = OpenAIProxyLLM("proxy", fake[1] + "/", api_key="sk-test", upstream_model="up-1")
    yield model
    await model.aclose()


async def collect(stream: AsyncIterator[Delta]) -> list[Delta]:
    return [d async for d in stream]


def test_is_a_language_model() -> None:
    model = OpenAIProxyLLM("p", "http://127.0.0.1:1/v1", api_key="sk-secret")
    assert isinstance(model, LanguageModel)
    assert "sk-secret" not in repr(model)


async def test_chat_request_shape(fake: tuple[Fake, str], llm: OpenAIProxyLLM) -> None:
    state, _ = fake
    state.answer = {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Paris."},
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }
    params = GenerationParams(
        max_new_tokens=12, temperature=0.5, top_p=0.9, top_k=40, stop=["\n"], seed=3
    )
    answer = await llm.generate(GenerationRequest(model="proxy", messages=CHAT, params=params))
    assert answer.text == "Paris."
    assert answer.finish_reason == "stop"
    assert answer.usage == Usage(**USAGE)
    path, headers, body = state.requests[0]
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-test"
    # top_k is not an OpenAI field, so it is left out unless asked for.
    assert body == {
        "model": "up-1",
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 12,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": ["\n"],
        "seed": 3,
    }


async def test_completion_request_shape_with_top_k(fake: tuple[Fake, str]) -> None:
    state, url = fake
    state.answer = {"choices": [{"index": 0, "text": " world", "finish_reason": "length"}]}
    model = OpenAIProxyLLM("proxy", url, send_top_k=True)
    try:
        params = GenerationParams(max_new_tokens=2, top_k=5)
        answer = await model.generate(GenerationRequest(model="x", prompt="Hello", params=params))
    finally:
        await model.aclose()
    # No usage upstream: zero, not a guess.
    assert (answer.text, answer.finish_reason, answer.usage) == (" world", "length", Usage())
    path, headers, body = state.requests[0]
    assert path == "/v1/completions"
    assert "Authorization" not in headers
    assert body == {
        "model": "proxy",
        "prompt": "Hello",
        "max_tokens": 2,
        "temperature": 0.0,
        "top_p": 1.0,
        "top_k": 5,
    }


async def test_json_schema_guidance_goes_up_as_response_format(
    fake: tuple[Fake, str], llm: OpenAIProxyLLM
) -> None:
    state, _ = fake
    state.pieces = [sse(chunk('{"a": 1}'), chunk(finish="stop"), "[DONE]")]
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    params = GenerationParams(guidance=Guidance(json_schema=schema))
    request = GenerationRequest(model="proxy", messages=CHAT, params=params)
    deltas = await collect(llm.stream(request))
    assert "".join(d.text for d in deltas) == '{"a": 1}'
    body = state.requests[0][2]
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema},
    }
    # A regex has no OpenAI field: refused before anything is sent.
    regex = GenerationParams(guidance=Guidance(regex="yes|no"))
    with pytest.raises(ValueError, match=r"params\.guidance: .* JSON schema only"):
        await llm.generate(GenerationRequest(model="proxy", messages=CHAT, params=regex))
    assert len(state.requests) == 1


async def test_request_without_input_is_refused(llm: OpenAIProxyLLM) -> None:
    with pytest.raises(ValueError, match="messages or a prompt"):
        await llm.generate(GenerationRequest(model="proxy"))


async def test_stream(fake: tuple[Fake, str], llm: OpenAIProxyLLM) -> None:
    state, _ = fake
    first = {**chunk(""), "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    events = sse(first, chunk("Pa"), chunk("ris"), chunk(None, "stop"), USAGE_CHUNK, "[DONE]")
    # Split mid-line and mid-event: the reader must not care how bytes arrive.
    state.pieces = [events[:17], events[17:60], events[60:]]
    deltas = await collect(llm.stream(GenerationRequest(model="proxy", messages=CHAT)))
    assert deltas == [
        Delta(text="Pa"),
        Delta(text="ris"),
        Delta(finish_reason="stop", usage=Usage(**USAGE)),
    ]
    body = state.requests[0][2]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


async def test_stream_framing_variants(fake: tuple[Fake, str], llm: OpenAIProxyLLM) -> None:
    """CRLF line ends, comments, event fields, no space after 'data:', a completion's text
    field, no usage chunk, and a last event without its blank line."""
    state, _ = fake
    text_chunk = {"choices": [{"index": 0, "text": "a\nb", "finish_reason": None}]}
    state.pieces = [
        b": ping\r\n\r\n",
        b"event: message\r\nid: 1\r\ndata:" + json.dumps(text_chunk).encode() + b"\r\n\r\n",
        b"data: " + json.dumps(chunk(None, "length")).encode() + b"\r\n\r\n",
        b"data: [DONE]",
    ]
    deltas = await collect(llm.stream(GenerationRequest(model="proxy", prompt="x")))
    assert deltas == [Delta(text="a\nb"), Delta(finish_reason="length", usage=Usage())]
    assert state.requests[0][0] == "/v1/completions"


async def test_stream_without_usage_option(fake: tuple[Fake, str]) -> None:
    state, url = fake
    state.pieces = [sse(chunk("hi", "stop"), "[DONE]")]
    model = OpenAIProxyLLM("proxy", url, include_usage=False)
    try:
        deltas = await collect(model.stream(GenerationRequest(model="x", messages=CHAT)))
    finally:
        await model.aclose()
    assert deltas == [Delta(text="hi"), Delta(finish_reason="stop", usage=Usage())]
    assert "stream_options" not in state.requests[0][2]


async def test_stream_error_event(fake: tuple[Fake, str], llm: OpenAIProxyLLM) -> None:
    state, _ = fake
    error = {"error": {"message": "model crashed", "type": "server_error", "code": "dag_failed"}}
    state.pieces = [sse(chunk("Pa"), error, "[DONE]")]
    seen: list[Delta] = []
    with pytest.raises(ProxyError, match="model crashed") as info:
        async for delta in llm.stream(GenerationRequest(model="proxy", messages=CHAT)):
            seen.append(delta)
    assert seen == [Delta(text="Pa")]
    assert (info.value.status, info.value.type, info.value.code) == (
        None,
        "server_error",
        "dag_failed",
    )


async def test_stream_cut_short(fake: tuple[Fake, str], llm: OpenAIProxyLLM) -> None:
    state, _ = fake
    state.pieces = [sse(chunk("Pa"))]
    with pytest.raises(ProxyError, match="ended before the answer finished"):
        await collect(llm.stream(GenerationRequest(model="proxy", messages=CHAT)))


async def test_stream_event_not_json(fake: tuple[Fake, str], llm: OpenAIProxyLLM) -> None:
    state, _ = fake
    state.pieces = [sse("oops")]
    with pytest.raises(ProxyError, match="not JSON"):
        await collect(llm.stream(GenerationRequest(model="proxy", messages=CHAT)))


@pytest.mark.parametrize(
    ("status", "answer", "message", "kind", "code"),
    [
        (
            401,
            {
                "error": {
                    "message": "bad key",
                    "type": "authentication_error",
                    "code": "invalid_api_key",
                }
            },
            "bad key",
            "authentication_error",
            "invalid_api_key",
        ),
        (400, {"object": "error", "message": "too long", "code": 40001}, "too long", None, 40001),
        (422, {"detail": "field required"}, "field required", None, None),
        (404, {"error": "no such model"}, "no such model", None, None),
        (502, "<html>Bad Gateway</html>", "<html>Bad Gateway</html>", None, None),
    ],
)
@pytest.mark.parametrize("streamed", [False, True])
async def test_http_errors(
    fake: tuple[Fake, str],
    llm: OpenAIProxyLLM,
    streamed: bool,
    status: int,
    answer: Any,
    message: str,
    kind: str | None,
    code: str | int | None,
) -> None:
    state, url = fake
    state.status, state.answer = status, answer
    request = GenerationRequest(model="proxy", messages=CHAT)
    with pytest.raises(ProxyError) as info:
        if streamed:
            await collect(llm.stream(request))
        else:
            await llm.generate(request)
    error = info.value
    assert (error.status, error.upstream_message, error.type, error.code) == (
        status,
        message,
        kind,
        code,
    )
    assert str(error).startswith(f"{url} answered {status}")
    assert message in str(error)


async def test_answer_without_choices(fake: tuple[Fake, str], llm: OpenAIProxyLLM) -> None:
    state, _ = fake
    state.answer = {"object": "chat.completion", "choices": []}
    with pytest.raises(ProxyError, match=r"no choices\[0\]"):
        await llm.generate(GenerationRequest(model="proxy", messages=CHAT))


async def test_unreachable_upstream() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port now: connection refused.
    model = OpenAIProxyLLM("proxy", f"http://127.0.0.1:{port}/v1")
    try:
        with pytest.raises(ProxyError, match=f"127.0.0.1:{port}") as info:
            await model.generate(GenerationRequest(model="x", prompt="hi"))
        assert info.value.status is None
        with pytest.raises(ProxyError):
            await collect(model.stream(GenerationRequest(model="x", prompt="hi")))
    finally:
        await model.aclose()


async def test_timeout(fake: tuple[Fake, str]) -> None:
    state, url = fake
    state.pieces, state.hang = [sse(chunk("Pa"))], True
    model = OpenAIProxyLLM("proxy", url, timeout=0.2)
    try:
        with pytest.raises(ProxyError, match=r"no answer within 0\.2 s"):
            await collect(model.stream(GenerationRequest(model="x", messages=CHAT)))
    finally:
        await model.aclose()
    await asyncio.wait_for(state.hung_up.wait(), 5)


async def test_cancelling_the_reader_hangs_up(fake: tuple[Fake, str], llm: OpenAIProxyLLM) -> None:
    state, _ = fake
    state.pieces, state.hang = [sse(chunk("Pa"), chunk("ris"))], True
    two = asyncio.Event()

    async def read() -> None:
        got = 0
        async for _ in llm.stream(GenerationRequest(model="proxy", messages=CHAT)):
            got += 1
            if got == 2:
                two.set()

    task = asyncio.create_task(read())
    await asyncio.wait_for(two.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(state.hung_up.wait(), 5)


async def test_leaving_the_loop_hangs_up(fake: tuple[Fake, str], llm: OpenAIProxyLLM) -> None:
    state, _ = fake
    state.pieces, state.hang = [sse(chunk("Pa"), chunk("ris"))], True
    stream = llm.stream(GenerationRequest(model="proxy", messages=CHAT))
    async with contextlib.aclosing(stream):
        async for _ in stream:
            break
    await asyncio.wait_for(state.hung_up.wait(), 5)


async def test_session_is_lazy_and_closed(fake: tuple[Fake, str]) -> None:
    state, url = fake
    state.answer = {"choices": [{"text": "x", "finish_reason": "stop"}]}
    model = OpenAIProxyLLM("proxy", url)
    assert model._session is None
    await model.generate(GenerationRequest(model="x", prompt="a"))
    session = model._session
    assert session is not None and not session.closed
    await model.aclose()
    assert session.closed and model._session is None
    await model.aclose()  # twice is fine
    await model.generate(GenerationRequest(model="x", prompt="a"))  # reopens
    await model.aclose()


def test_count_tokens_approximation() -> None:
    model = OpenAIProxyLLM("p", "http://127.0.0.1:1/v1")
    assert model.count_tokens("") == 0
    assert model.count_tokens("abcd") == 1
    assert model.count_tokens("abcde") == 2
    assert model.count_tokens("é" * 4) == 2  # bytes, not characters


def test_count_tokens_with_tokenizer(tmp_path: Path) -> None:
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    tokenizer = Tokenizer(WordLevel({"[UNK]": 0, "hello": 1, "world": 2}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    model = OpenAIProxyLLM("p", "http://127.0.0.1:1/v1", tokenizer=path)
    assert model.count_tokens("hello world, hello") == 4


# -- a real upstream: our own OpenAI-compatible model API --------------------------------------

_HAS_MODEL_API = importlib.util.find_spec("server.model_api") is not None
#: The shared model cache, as in tests/operators/test_built_models.py.
DATA_DIR = Path(
    os.environ.get("AWEL_TEST_DATA_DIR", Path(__file__).resolve().parents[2] / ".cache")
)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(
    not _HAS_MODEL_API,
    reason="server/model_api.py (our OpenAI-compatible model API) does not exist yet, "
    "so there is no real upstream to proxy through",
)
async def test_through_our_model_api() -> None:
    """The real local model behind our model API, proxied: the answer names Paris."""
    from operators.export import find_model
    from server.model_api import make_model_app
    from server.settings import Settings

    if find_model(DATA_DIR, "smollm2", device="cpu") is None:
        pytest.skip(f"smollm2 is not built in {DATA_DIR} (make models, or AWEL_TEST_DATA_DIR)")
    settings = Settings(data_dir=DATA_DIR, reload=False, api_keys=["test-key"])
    # host 127.0.0.1, port 0: the OS picks a free port, as tests/server/conftest.py does.
    server = TestServer(make_model_app(settings), host="127.0.0.1", handler_cancellation=True)
    await server.start_server()
    try:
        # DB-GPT's model API server answers under /api/v1 (its clients' base_url).
        base = str(server.make_url("/api/v1"))
        headers = {"Authorization": "Bearer test-key"}
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.get(base + "/models") as resp,
        ):
            listing = await resp.json()
        assert resp.status == 200, listing
        ids = [card["id"] for card in listing["data"]]
        llm_id = next(i for i in ids if "smollm2" in i)
        model = OpenAIProxyLLM("france", base, api_key="test-key", upstream_model=llm_id)
        try:
            params = GenerationParams(max_new_tokens=16)
            request = GenerationRequest(model="france", messages=CHAT, params=params)
            answer = await model.generate(request)
            assert "Paris" in answer.text
            assert answer.usage.completion_tokens > 0
            deltas = await collect(model.stream(request))
            assert "".join(d.text for d in deltas) == answer.text  # greedy: the same answer
            assert deltas[-1].finish_reason in ("stop", "length")
            assert deltas[-1].usage == answer.usage
            wrong = OpenAIProxyLLM("x", base, api_key="wrong", upstream_model=llm_id)
            try:
                with pytest.raises(ProxyError) as info:
                    await wrong.generate(request)
            finally:
                await wrong.aclose()
            assert (info.value.status, info.value.code) == (401, "invalid_api_key")
        finally:
            await model.aclose()
    finally:
        await server.close()
