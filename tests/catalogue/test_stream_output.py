"""A YAML flow ending in a stream answers SSE: plain text pieces, or OpenAI's chat chunks
with ``response: openai_stream``, which the ``openai`` SDK reads against the live server."""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import pytest
from openai import APIError, OpenAI

from operators.models import ModelSet, install_models
from server import app as server_app
from server.settings import Settings
from tests.server.model_api_live import FakeEmbedder, FakeLLM, LiveServer

PLAIN = """\
name: plain_stream
trigger:
  http: {endpoint: /ops/plain, methods: POST, request_body: dict, streaming_response: true}
nodes:
  answer: {op: llm.chat_stream, params: {max_tokens: 16}}
edges:
  - trigger >> answer
"""

OPENAI = """\
name: openai_chat
trigger:
  http: {endpoint: /ops/chat/chat/completions, methods: POST, request_body: dict,
         response: openai_stream}
nodes:
  answer: {op: llm.chat_stream, params: {max_tokens: 16}}
edges:
  - trigger >> answer
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("ops_stream")
    dags = tmp / "data" / "dags"
    dags.mkdir(parents=True)
    (dags / "plain.yaml").write_text(PLAIN)
    (dags / "openai.yaml").write_text(OPENAI)
    models = ModelSet([FakeLLM(), FakeLLM("fake-broken", fail_after=2)], [FakeEmbedder()])
    previous = install_models(models)
    settings = Settings(data_dir=tmp / "data", reload=False)
    try:
        with LiveServer(server_app.make_app(settings, shipped=[])) as live:
            yield live
    finally:
        install_models(previous)


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[OpenAI]:
    base = server.url + "/api/v1/awel/trigger/ops/chat"
    with OpenAI(base_url=base, api_key="none", max_retries=0, timeout=30) as sdk:
        yield sdk


async def test_a_stream_is_plain_sse_text(server: LiveServer) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.url + "/api/v1/awel/trigger/ops/plain", json={"prompt": "a b"}) as r,
    ):
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
        body = await r.text()
    assert body == "data: You \n\ndata: said: \n\ndata: a \n\ndata: b\n\n"


def test_the_openai_sdk_streams_a_yaml_flow(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model="fake-llm", messages=[{"role": "user", "content": "hello flow"}], stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "You said: hello flow"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_the_openai_sdk_gets_one_completion_without_stream(client: OpenAI) -> None:
    answer = client.chat.completions.create(
        model="fake-llm", messages=[{"role": "user", "content": "whole"}]
    )
    assert answer.object == "chat.completion"
    assert answer.model == "fake-llm"
    assert answer.choices[0].message.content == "You said: whole"


async def test_the_raw_stream_ends_in_done(server: LiveServer) -> None:
    url = server.url + "/api/v1/awel/trigger/ops/chat/chat/completions"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"model": "fake-llm", "messages": "hi", "stream": True}) as r,
    ):
        body = await r.text()
    events = [e for e in body.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    assert events[0].startswith('data: {"id":"chatcmpl-')


def test_a_failure_mid_stream_is_an_openai_error_event(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model="fake-broken", messages=[{"role": "user", "content": "a b c d"}], stream=True
    )
    with pytest.raises(APIError):
        list(stream)


def test_an_unknown_model_is_answered_in_openai_shape(client: OpenAI) -> None:
    with pytest.raises(APIError) as caught:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert "nope" in str(caught.value)


def test_openai_stream_sets_the_trigger_defaults() -> None:
    # The trigger's defaults for openai_stream: [DONE], OpenAI's error shapes.
    from awel.trigger import HttpTrigger, ResponseKind, StreamErrorStyle

    trigger = HttpTrigger("/x", response="openai_stream")
    assert trigger.stream_response is ResponseKind.OPENAI_STREAM
    assert trigger.sse_end == "[DONE]"
    assert trigger.stream_errors is StreamErrorStyle.OPENAI
    assert trigger.errors == "openai"
