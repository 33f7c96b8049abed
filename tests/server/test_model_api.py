"""The OpenAI-compatible model API over real HTTP: exact shapes with fake models, byte-level
SSE framing, errors, API keys; then the same routes on the real default models."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from operators.models import ModelSet
from server.settings import Settings

from .model_api_live import (
    DATA_DIR,
    FakeEmbedder,
    FakeLLM,
    LiveServer,
    fake_models,
    model_api,
    require_built,
)

API = "/api/v1"


@pytest.fixture
def models() -> ModelSet:
    return fake_models()


@pytest.fixture
def server(tmp_path: Path, models: ModelSet) -> Iterator[LiveServer]:
    with model_api(tmp_path, models) as live:
        yield live


async def post(server: LiveServer, path: str, body: Any, **kw: Any) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(server.url + API + path, json=body, **kw) as r,
    ):
        return r.status, await r.json()


async def get(server: LiveServer, path: str, **kw: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s, s.get(server.url + API + path, **kw) as r:
        return r.status, await r.json()


async def sse(server: LiveServer, path: str, body: Any) -> tuple[aiohttp.ClientResponse, bytes]:
    async with aiohttp.ClientSession() as s, s.post(server.url + API + path, json=body) as r:
        return r, await r.read()


def events(raw: bytes) -> list[str]:
    """The data of each event, checking the framing: `data: <one line>` and a blank line."""
    assert raw.endswith(b"\n\n")
    out = []
    for block in raw.decode().split("\n\n")[:-1]:
        assert block.startswith("data: ") and "\n" not in block, block
        out.append(block[len("data: ") :])
    return out


CHAT = {"model": "fake-llm", "messages": [{"role": "user", "content": "hello there world"}]}


async def test_model_list_and_one_model(server: LiveServer) -> None:
    status, body = await get(server, "/models")
    assert status == 200
    assert body == {
        "object": "list",
        "data": [
            {
                "id": name,
                "object": "model",
                "created": 1700000000,
                "owned_by": "awel",
                "root": name,
                "parent": None,
            }
            for name in ("fake-llm", "fake-broken", "fake-embed")
        ],
    }
    status, card = await get(server, "/models/fake-embed")
    assert status == 200 and card["id"] == "fake-embed"
    status, err = await get(server, "/models/nope")
    assert status == 404 and err["error"]["code"] == "model_not_found"


async def test_chat_completion_whole(server: LiveServer) -> None:
    status, body = await post(server, "/chat/completions", CHAT)
    assert status == 200
    assert body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    assert body["object"] == "chat.completion" and body["model"] == "fake-llm"
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "You said: hello there world"},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}


async def test_chat_parameters_reach_the_model(server: LiveServer, models: ModelSet) -> None:
    body = {
        **CHAT,
        "messages": [
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "a b"}]},
        ],
        "max_completion_tokens": 3,
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "seed": 7,
        "stop": "b",
        "service_tier": "auto",  # unknown to us: accepted and ignored
        "parallel_tool_calls": False,
    }
    status, answer = await post(server, "/chat/completions", body)
    assert status == 200
    assert answer["choices"][0]["message"]["content"] == "You said: a "
    request = models.llm("fake-llm").requests[-1]  # type: ignore[attr-defined]
    assert [(m.role, m.content) for m in request.messages] == [
        ("system", "be brief"),
        ("user", "a b"),
    ]
    p = request.params
    assert (p.max_new_tokens, p.temperature, p.top_p, p.top_k, p.seed, p.stop) == (
        3,
        0.5,
        0.9,
        40,
        7,
        ["b"],
    )


async def test_chat_max_tokens_ends_with_length(server: LiveServer) -> None:
    status, body = await post(server, "/chat/completions", {**CHAT, "max_tokens": 2})
    assert status == 200
    assert body["choices"][0]["message"]["content"] == "You said: "
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 2


async def test_n_choices_count_the_prompt_once(server: LiveServer, models: ModelSet) -> None:
    status, body = await post(server, "/chat/completions", {**CHAT, "n": 3, "seed": 1})
    assert status == 200
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 15, "total_tokens": 18}
    seeds = [r.params.seed for r in models.llm("fake-llm").requests[-3:]]  # type: ignore[attr-defined]
    assert sorted(s for s in seeds if s is not None) == [1, 2, 3]


async def test_chat_stream_chunks_in_order(server: LiveServer) -> None:
    resp, raw = await sse(server, "/chat/completions", {**CHAT, "stream": True})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/event-stream"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert resp.headers["X-Accel-Buffering"] == "no"
    data = events(raw)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert len({(c["id"], c["created"], c["model"]) for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert all("usage" not in c for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    middle = chunks[1:-1]
    assert all(set(c["choices"][0]["delta"]) == {"content"} for c in middle)
    assert all(c["choices"][0]["finish_reason"] is None for c in middle)
    assert "".join(c["choices"][0]["delta"]["content"] for c in middle) == (
        "You said: hello there world"
    )
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }


async def test_chat_stream_include_usage_and_n(server: LiveServer) -> None:
    body = {**CHAT, "stream": True, "n": 2, "stream_options": {"include_usage": True}}
    _, raw = await sse(server, "/chat/completions", body)
    chunks = [json.loads(d) for d in events(raw)[:-1]]
    *rest, usage = chunks
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 3, "completion_tokens": 10, "total_tokens": 13}
    assert all(c["usage"] is None for c in rest)
    texts: dict[int, str] = {}
    roles = finishes = 0
    for c in rest:
        choice = c["choices"][0]
        delta = choice["delta"]
        roles += delta.get("role") == "assistant"
        texts[choice["index"]] = texts.get(choice["index"], "") + delta.get("content", "")
        finishes += choice["finish_reason"] == "stop"
    assert roles == 2 and finishes == 2
    assert texts == {0: "You said: hello there world", 1: "You said: hello there world"}


async def test_a_stream_failing_after_its_headers_ends_with_an_error_then_done(
    server: LiveServer,
) -> None:
    body = {**CHAT, "model": "fake-broken", "stream": True}
    resp, raw = await sse(server, "/chat/completions", body)
    assert resp.status == 200
    data = events(raw)
    assert data[-1] == "[DONE]"
    error = json.loads(data[-2])["error"]
    assert error["type"] == "server_error" and "error id" in error["message"]
    assert "You said: " in "".join(
        json.loads(d)["choices"][0]["delta"].get("content", "") for d in data[1:-2]
    )


async def test_a_client_hanging_up_stops_the_model(tmp_path: Path) -> None:
    slow = FakeLLM("slow", delay=0.05)
    with model_api(tmp_path, ModelSet([slow])) as live:
        body = {"model": "slow", "prompt": "w " * 200, "max_tokens": 200, "stream": True}
        async with (
            aiohttp.ClientSession() as s,
            s.post(live.url + API + "/completions", json=body) as r,
        ):
            await r.content.readline()  # the first event
            await r.content.readline()
        # Leaving the block closed the connection midway.
        for _ in range(100):
            if slow.streams_closed:
                break
            await asyncio.sleep(0.02)
    assert slow.streams_started == 1 and slow.streams_closed == 1
    # Its 200 tokens would take 10 s; the model stopped long before.
    assert len(slow.requests) == 1


async def test_text_completions_whole_and_streamed(server: LiveServer) -> None:
    body = {"model": "fake-llm", "prompt": ["one two", "three"], "n": 2}
    status, answer = await post(server, "/completions", body)
    assert status == 200
    assert answer["object"] == "text_completion" and answer["id"].startswith("cmpl-")
    assert [c["text"] for c in answer["choices"]] == [
        "You said: one two",
        "You said: one two",
        "You said: three",
        "You said: three",
    ]
    assert [c["index"] for c in answer["choices"]] == [0, 1, 2, 3]
    assert answer["usage"] == {"prompt_tokens": 3, "completion_tokens": 14, "total_tokens": 17}
    # OpenAI's default of 16 tokens for this route.
    status, long = await post(server, "/completions", {"model": "fake-llm", "prompt": "x " * 40})
    assert long["choices"][0]["finish_reason"] == "length"
    assert long["usage"]["completion_tokens"] == 16

    body = {"model": "fake-llm", "prompt": "hi", "stream": True, "max_tokens": 5}
    _, raw = await sse(server, "/completions", body)
    data = events(raw)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "text_completion" for c in chunks)
    assert "".join(c["choices"][0]["text"] for c in chunks) == "You said: hi"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_embeddings_float_and_base64(server: LiveServer) -> None:
    fake = FakeEmbedder()
    texts = ["a cat", "a dog sat"]
    status, body = await post(server, "/embeddings", {"model": "fake-embed", "input": texts})
    assert status == 200
    assert body["object"] == "list" and body["model"] == "fake-embed"
    assert body["usage"] == {"prompt_tokens": 5, "total_tokens": 5}
    assert [d["index"] for d in body["data"]] == [0, 1]
    for d, text in zip(body["data"], texts, strict=True):
        assert d["object"] == "embedding"
        np.testing.assert_allclose(d["embedding"], fake.vector(text), rtol=1e-6)

    status, body = await post(
        server,
        "/embeddings",
        {"model": "fake-embed", "input": "a cat", "encoding_format": "base64"},
    )
    raw = base64.b64decode(body["data"][0]["embedding"])
    np.testing.assert_array_equal(np.frombuffer(raw, dtype="<f4"), fake.vector("a cat"))

    status, body = await post(
        server, "/embeddings", {"model": "fake-embed", "input": "a cat", "dimensions": 4}
    )
    short = np.array(body["data"][0]["embedding"])
    assert short.shape == (4,)
    assert np.linalg.norm(short) == pytest.approx(1.0, abs=1e-6)


async def test_relevance_scores_each_document_against_the_query(server: LiveServer) -> None:
    fake = FakeEmbedder()
    docs = ["a cat", "a dog sat", "a cat"]
    status, body = await post(
        server, "/beta/relevance", {"model": "fake-embed", "query": "a cat", "documents": docs}
    )
    assert status == 200
    assert set(body) == {"object", "model", "data", "usage"}
    assert (body["object"], body["model"]) == ("list", "fake-embed")
    expected = [float(fake.vector(d) @ fake.vector("a cat")) for d in docs]
    assert body["data"] == pytest.approx(expected, abs=1e-5)
    assert body["data"][0] == pytest.approx(1.0, abs=1e-5) and body["data"][1] < 1.0
    assert body["usage"]["prompt_tokens"] == 2 + 2 + 3 + 2


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "param"),
    [
        (
            "/beta/relevance",
            {"model": "nope", "query": "q", "documents": ["d"]},
            404,
            "model_not_found",
            "model",
        ),
        (
            "/beta/relevance",
            {"model": "fake-llm", "query": "q", "documents": ["d"]},
            400,
            "model_not_supported",
            "model",
        ),
        (
            "/beta/relevance",
            {"model": "fake-embed", "query": "q", "documents": []},
            400,
            "invalid_request",
            "documents",
        ),
        (
            "/beta/relevance",
            {"model": "fake-embed", "documents": ["d"]},
            400,
            "invalid_request",
            "query",
        ),
        ("/chat/completions", {**CHAT, "model": "nope"}, 404, "model_not_found", "model"),
        (
            "/chat/completions",
            {**CHAT, "model": "nope", "stream": True},
            404,
            "model_not_found",
            "model",
        ),
        ("/completions", {"model": "nope", "prompt": "x"}, 404, "model_not_found", "model"),
        ("/embeddings", {"model": "nope", "input": "x"}, 404, "model_not_found", "model"),
        ("/embeddings", {"model": "fake-llm", "input": "x"}, 400, "model_not_supported", "model"),
        ("/chat/completions", {**CHAT, "model": "fake-embed"}, 400, "model_not_supported", "model"),
        ("/chat/completions", {**CHAT, "temperature": 3}, 400, "invalid_request", "temperature"),
        ("/chat/completions", {**CHAT, "n": 0}, 400, "invalid_request", "n"),
        ("/chat/completions", {**CHAT, "messages": []}, 400, "invalid_request", "messages"),
        ("/chat/completions", {"messages": CHAT["messages"]}, 400, "invalid_request", "model"),
        (
            "/chat/completions",
            {**CHAT, "stop": ["a", "b", "c", "d", "e"]},
            400,
            "invalid_request",
            "stop",
        ),
        ("/embeddings", {"model": "fake-embed", "input": [[1, 2]]}, 400, None, "input"),
        ("/embeddings", {"model": "fake-embed", "input": "x", "dimensions": 99}, 400, None, None),
    ],
)
async def test_errors_in_openai_shape(
    server: LiveServer,
    path: str,
    body: dict[str, Any],
    status: int,
    code: str | None,
    param: str | None,
) -> None:
    got, answer = await post(server, path, body)
    assert got == status
    error = answer["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == ("not_found_error" if status == 404 else "invalid_request_error")
    if code is not None:
        assert error["code"] == code
    if param is not None:
        assert error["param"] is not None and error["param"].split(".")[0] == param
    else:
        assert error["param"] in (None, "dimensions")
    assert error["message"]


async def test_token_ids_are_refused_with_a_clear_message(server: LiveServer) -> None:
    status, answer = await post(server, "/embeddings", {"model": "fake-embed", "input": [1, 2]})
    assert status == 400
    assert "send the input as text" in answer["error"]["message"]


async def test_api_keys(tmp_path: Path) -> None:
    keys = ["k-one", "k-two"]
    with model_api(tmp_path, fake_models(), api_keys=keys) as live:
        async with aiohttp.ClientSession() as s:
            for headers, status in [
                ({}, 401),
                ({"Authorization": "Bearer wrong"}, 401),
                ({"Authorization": "Basic k-one"}, 401),
                ({"Authorization": "Bearer k-one"}, 200),
                ({"Authorization": "bearer k-two"}, 200),
                ({"X-Api-Key": "k-two"}, 200),
            ]:
                async with s.get(live.url + API + "/models", headers=headers) as r:
                    assert r.status == status, headers
                    if status == 401:
                        error = (await r.json())["error"]
                        assert error["type"] == "authentication_error"
                        assert error["code"] == "invalid_api_key"
            # Probes and the docs stay open.
            for path in ("/health", "/openapi.json"):
                async with s.get(live.url + path) as r:
                    assert r.status == 200, path


async def test_the_model_api_documents_its_routes(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as s, s.get(server.url + "/openapi.json") as r:
        paths = (await r.json())["paths"]
    assert {
        "/api/v1/models",
        "/api/v1/models/{model}",
        "/api/v1/chat/completions",
        "/api/v1/completions",
        "/api/v1/embeddings",
    } <= set(paths)
    assert not any(p.startswith("/api/v1/awel/trigger") for p in paths)


async def test_the_app_closes_a_model_set_it_loaded(tmp_path: Path) -> None:
    # No set installed: the app loads the settings' models (none are built in tmp_path)
    # and serves an empty list rather than failing to start.
    with model_api(tmp_path, None) as live:
        status, body = await get(live, "/models")
        assert status == 200 and body["data"] == []
        status, err = await post(live, "/chat/completions", CHAT)
        assert status == 404 and "none is loaded" in err["error"]["message"]


# --- the real default models ------------------------------------------------------------


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_built("smollm2", "all-minilm-l6-v2")
    with model_api(tmp_path_factory.mktemp("real"), None, data_dir=DATA_DIR) as live:
        yield live


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_real_models_answer(real: LiveServer) -> None:
    status, body = await get(real, "/models")
    assert {m["id"] for m in body["data"]} == {"smollm2", "all-minilm-l6-v2"}
    question = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 32,
    }
    status, body = await post(real, "/chat/completions", question)
    assert status == 200, body
    assert "Paris" in body["choices"][0]["message"]["content"]
    assert body["usage"]["prompt_tokens"] > 5
    _, raw = await sse(real, "/chat/completions", {**question, "stream": True})
    data = events(raw)
    assert data[-1] == "[DONE]"
    text = "".join(json.loads(d)["choices"][0]["delta"].get("content") or "" for d in data[:-1])
    assert "Paris" in text


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_real_embeddings_put_similar_sentences_closer(real: LiveServer) -> None:
    texts = [
        "The capital of France is Paris.",
        "Paris is the capital city of France.",
        "A man is playing a guitar on stage.",
    ]
    status, body = await post(real, "/embeddings", {"model": "all-minilm-l6-v2", "input": texts})
    assert status == 200, body
    v = np.array([d["embedding"] for d in body["data"]])
    assert v.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    assert body["usage"]["prompt_tokens"] > 10


# --- awel serve: both apps in one process --------------------------------------------------


async def test_awel_serve_runs_both_apps_and_stops_both(tmp_path: Path) -> None:
    from .test_main import awel_serve, free_port, wait_for

    web_port, api_port = free_port(), free_port()
    args = ["--port", str(web_port), "--model-api-port", str(api_port), "--api-key", "k1"]
    env = {"AWEL_API_KEYS": "ignored-when-the-flag-is-given"}
    with awel_serve(*args, "--data-dir", str(tmp_path / "data"), env=env) as proc:
        wait_for(web_port, proc)
        wait_for(api_port, proc)
        async with aiohttp.ClientSession() as s:
            hello = f"http://127.0.0.1:{web_port}/api/v1/awel/trigger/examples/hello?name=Al"
            key = {"Authorization": "Bearer k1"}
            # The key guards both ports.
            async with s.get(hello) as r:
                assert r.status == 401
                assert (await r.json())["err_code"] == "401"
            async with s.get(hello, headers=key) as r:
                assert r.status == 200
            models = f"http://127.0.0.1:{api_port}/api/v1/models"
            async with s.get(models) as r:
                assert r.status == 401
            async with s.get(models, headers={"Authorization": "Bearer k1"}) as r:
                assert r.status == 200 and (await r.json())["data"] == []
            # The model API is not on the webserver's port, nor the reverse.
            async with s.get(f"http://127.0.0.1:{web_port}/api/v1/models", headers=key) as r:
                assert r.status == 404
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        log = proc.stdout.read() if proc.stdout else ""
    assert f"model API (OpenAI-compatible) on http://127.0.0.1:{api_port}/api/v1" in log
    assert "API keys required" in log and "k1" not in log


def test_api_keys_and_the_port_from_the_environment_and_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWEL_API_KEYS", "a, b")
    monkeypatch.setenv("AWEL_MODEL_API_PORT", "0")
    settings = Settings.load(None)
    assert settings.api_keys == ["a", "b"] and settings.model_api_port == 0
    monkeypatch.delenv("AWEL_API_KEYS")
    monkeypatch.delenv("AWEL_MODEL_API_PORT")
    config = tmp_path / "awel.toml"
    config.write_text('api_keys = ["x"]\nmodels = ["smollm2"]\n')
    settings = Settings.load(config)
    assert settings.api_keys == ["x"] and settings.models == ["smollm2"]
    assert settings.model_api_port == 8100
    assert Settings.load(config, api_keys=["flag"]).api_keys == ["flag"]


async def test_unknown_paths_and_methods_answer_in_openai_shape(server: LiveServer) -> None:
    # The openai SDK reads `error.message` from any failure of this API, routes or not.
    status, body = await get(server, "/nowhere")
    assert status == 404
    assert body["error"]["code"] == "not_found" and "/api/v1/nowhere" in body["error"]["message"]
    async with (
        aiohttp.ClientSession() as s,
        s.delete(server.url + API + "/chat/completions") as r,
    ):
        assert r.status == 405 and "POST" in r.headers["Allow"]
        assert (await r.json())["error"]["code"] == "method_not_allowed"
