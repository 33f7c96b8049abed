"""OpenAI's ``response_format`` on the model API: it reaches the model as guidance, a bad one
is a 400 naming it, and the real default model's answer follows the schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from operators.export.cache import find_model
from operators.llm.types import Guidance
from operators.models import ModelSet

from .model_api_live import DATA_DIR, LiveServer, fake_models, model_api

pytestmark = pytest.mark.timeout(60)

URL = "/api/v1/chat/completions"
CHAT = {"model": "fake-llm", "messages": [{"role": "user", "content": "hello"}]}
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
    "required": ["city", "country"],
    "additionalProperties": False,
}


@pytest.fixture
def models() -> ModelSet:
    return fake_models()


@pytest.fixture
def server(tmp_path: Path, models: ModelSet) -> Iterator[LiveServer]:
    with model_api(tmp_path, models) as live:
        yield live


async def post(server: LiveServer, body: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s, s.post(server.url + URL, json=body) as r:
        return r.status, await r.json()


def last_guidance(models: ModelSet) -> Guidance | None:
    guidance: Guidance | None = models.llm("fake-llm").requests[-1].params.guidance  # type: ignore[attr-defined]
    return guidance


async def test_response_format_reaches_the_model_as_guidance(
    server: LiveServer, models: ModelSet
) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "place", "schema": SCHEMA}}
    status, _ = await post(server, {**CHAT, "response_format": fmt})
    assert status == 200
    assert last_guidance(models) == Guidance(json_schema=SCHEMA)
    body = {**CHAT, "response_format": fmt, "stream": True}
    async with aiohttp.ClientSession() as s, s.post(server.url + URL, json=body) as r:
        assert r.status == 200
        assert (await r.read()).endswith(b"data: [DONE]\n\n")
    assert last_guidance(models) == Guidance(json_schema=SCHEMA)


async def test_json_object_and_text(server: LiveServer, models: ModelSet) -> None:
    status, _ = await post(server, {**CHAT, "response_format": {"type": "json_object"}})
    assert status == 200
    assert last_guidance(models) == Guidance(json_schema={"type": "object"})
    status, _ = await post(server, {**CHAT, "response_format": {"type": "text"}})
    assert status == 200
    assert last_guidance(models) is None


@pytest.mark.parametrize(
    ("fmt", "words"),
    [
        ({"type": "json_schema"}, "needs a json_schema"),
        ({"type": "json_schema", "json_schema": {"name": "x"}}, "schema"),
        ({"type": "yaml"}, "type"),
        (
            {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "thing"}}},
            "Invalid type: thing",
        ),
    ],
)
async def test_bad_response_formats_are_400_naming_the_field(
    server: LiveServer, fmt: dict[str, Any], words: str
) -> None:
    status, body = await post(server, {**CHAT, "response_format": fmt})
    assert status == 400, body
    error = body["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"].startswith("response_format")
    assert words in error["message"]


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_the_real_model_answers_in_the_schema(tmp_path: Path) -> None:
    if find_model(DATA_DIR, "smollm2") is None:
        pytest.skip(f"smollm2 is not built in {DATA_DIR}; run `make models`")
    with model_api(tmp_path, None, data_dir=DATA_DIR) as live:
        body = {
            "model": "smollm2",
            "messages": [{"role": "user", "content": "Where is the Eiffel Tower?"}],
            "max_tokens": 80,
            "response_format": {"type": "json_schema", "json_schema": {"schema": SCHEMA}},
        }
        status, answer = await post(live, body)
        assert status == 200, answer
        choice = answer["choices"][0]
        assert choice["finish_reason"] == "stop"
        place = json.loads(choice["message"]["content"])
        assert set(place) == {"city", "country"}
        assert all(isinstance(v, str) for v in place.values())
