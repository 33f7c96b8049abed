"""DB-GPT's simple_chat example on the webserver: ModelOutput from the process's models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from operators.models import ModelSet, using_models

from .conftest import running
from .model_api_live import DATA_DIR, FakeLLM, fake_models, require_built

PATH = "/api/v1/awel/trigger/examples/simple_chat"


@pytest.fixture
async def models() -> AsyncIterator[ModelSet]:
    async with using_models(fake_models()) as models:
        yield models


async def test_answers_a_model_output(tmp_path: Path, models: ModelSet) -> None:
    async with running(tmp_path) as client:
        resp = await client.post(PATH, json={"model": "fake-llm", "user_input": "hi you"})
        assert resp.status == 200
        out = await resp.json()
    assert set(out) == {
        "error_code",
        "text",
        "incremental",
        "model_context",
        "finish_reason",
        "usage",
        "metrics",
    }
    assert out["error_code"] == 0 and out["incremental"] is False
    assert out["text"] == "You said: hi you"
    assert out["finish_reason"] == "stop"
    assert out["model_context"] == {"model": "fake-llm"}
    assert out["usage"] == {"prompt_tokens": 2, "completion_tokens": 4, "total_tokens": 6}
    metrics = out["metrics"]
    assert metrics["completion_tokens"] == 4
    assert metrics["start_time_ms"] <= metrics["first_token_time_ms"] <= metrics["end_time_ms"]


async def test_an_unknown_model_name_is_answered_by_the_default(
    tmp_path: Path, models: ModelSet
) -> None:
    async with running(tmp_path) as client:
        resp = await client.post(PATH, json={"model": "vicuna-13b", "user_input": "x"})
        out = await resp.json()
    assert out["error_code"] == 0 and out["model_context"] == {"model": "fake-llm"}


async def test_both_fields_are_required(tmp_path: Path, models: ModelSet) -> None:
    async with running(tmp_path) as client:
        resp = await client.post(PATH, json={"model": "fake-llm"})
        assert resp.status == 400
        body = await resp.json()
    assert body["success"] is False and "user_input" in body["err_msg"]


async def test_a_failing_model_gives_error_code_1(tmp_path: Path) -> None:
    broken = ModelSet([FakeLLM("broken", fail_after=1)])
    async with using_models(broken), running(tmp_path) as client:
        resp = await client.post(PATH, json={"model": "broken", "user_input": "a b c"})
        out = await resp.json()
    assert resp.status == 200
    assert out["error_code"] == 1
    assert out["text"].startswith("**LLMServer Generate Error, Please CheckErrorInfo.**")


async def test_no_model_loaded_gives_error_code_1(tmp_path: Path) -> None:
    async with using_models(ModelSet()), running(tmp_path) as client:
        resp = await client.post(PATH, json={"model": "x", "user_input": "y"})
        assert resp.status == 200
        out = await resp.json()
    assert out["error_code"] == 1 and "none is loaded" in out["text"]


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_the_real_default_model_answers(tmp_path: Path) -> None:
    require_built("smollm2")
    models = await _load(DATA_DIR)
    async with using_models(models), running(tmp_path) as client:
        resp = await client.post(
            PATH, json={"model": "chatgpt_proxyllm", "user_input": "What is the capital of France?"}
        )
        out = await resp.json()
    assert out["error_code"] == 0, out
    assert "Paris" in out["text"]
    assert out["model_context"] == {"model": "smollm2"}
    assert out["usage"]["completion_tokens"] > 0


async def _load(data_dir: Path) -> ModelSet:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(lambda: ModelSet.load(data_dir, names=["smollm2"]))
