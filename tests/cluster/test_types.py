"""The wire shapes against the spec (dbgpt-api.md 3.2-3.5): field names, defaults, tolerance."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from operators.cluster.convert import generation_request, prompt_request
from operators.cluster.types import (
    ERROR_PREFIX,
    ModelInstance,
    ModelOutput,
    PromptRequest,
    WorkerApplyRequest,
    WorkerStartupRequest,
)
from operators.llm.types import ChatMessage, GenerationParams, GenerationRequest


def test_model_instance_has_the_spec_fields_and_defaults() -> None:
    inst = ModelInstance(model_name="smollm2@llm", host="10.0.0.2", port=8001)
    assert inst.model_dump() == {
        "model_name": "smollm2@llm",
        "host": "10.0.0.2",
        "port": 8001,
        "weight": 1.0,
        "check_healthy": True,
        "healthy": False,
        "enabled": True,
        "prompt_template": None,
        "last_heartbeat": None,
        "remove_from_registry": False,
    }


def test_model_instance_tolerates_unknown_fields_and_names_bad_ones() -> None:
    inst = ModelInstance.model_validate(
        {"model_name": "m@llm", "host": "h", "port": 1, "some_new_field": 3}
    )
    assert inst.port == 1
    with pytest.raises(ValidationError) as err:
        ModelInstance.model_validate({"model_name": "no-key", "host": "h", "port": 1})
    assert "model_name" in str(err.value)
    with pytest.raises(ValidationError) as err:
        ModelInstance.model_validate({"model_name": "m@llm", "host": "h", "port": 70000})
    assert "port" in str(err.value)


def test_prompt_request_defaults_follow_the_spec() -> None:
    body = PromptRequest(model="smollm2")
    assert body.echo is True
    assert body.chat_model is True
    assert body.version == "v2"
    assert body.stop_token_ids == []
    assert body.messages == []
    assert body.metrics is False


def test_dbgpt_roles_map_to_ours_and_view_is_dropped() -> None:
    body = PromptRequest.model_validate(
        {
            "model": "smollm2",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "human", "content": "Hi"},
                {"role": "view", "content": "shown only"},
                {"role": "ai", "content": "Hello"},
            ],
            "max_new_tokens": 5,
            "stop": "###",
        }
    )
    request = generation_request(body)
    assert request.messages is not None
    assert [m.role for m in request.messages] == ["system", "user", "assistant"]
    assert request.params.max_new_tokens == 5
    assert request.params.stop == ["###"]


def test_prompt_request_round_trip_keeps_the_conversation() -> None:
    ours = GenerationRequest(
        model="m",
        messages=[ChatMessage(role="user", content="Hi")],
        params=GenerationParams(max_new_tokens=7, temperature=0.5),
    )
    wire = prompt_request(ours)
    assert wire.messages[0].role == "human"
    assert wire.echo is False
    back = generation_request(PromptRequest.model_validate(wire.model_dump(exclude_none=True)))
    assert back.messages == ours.messages
    assert back.params.max_new_tokens == 7
    assert back.params.temperature == 0.5


def test_model_output_wire_form_and_both_text_forms() -> None:
    out = ModelOutput(text="Hello", finish_reason="stop")
    assert set(out.wire()) == {
        "text",
        "error_code",
        "incremental",
        "model_context",
        "finish_reason",
        "usage",
        "metrics",
    }
    assert out.wire()["incremental"] is False
    new_form = ModelOutput.model_validate(
        {
            "content": [
                {"type": "thinking", "object": {"data": "hmm", "format": "text"}},
                {"type": "text", "object": {"data": "Paris", "format": "text"}},
            ],
            "error_code": 0,
        }
    )
    assert new_form.answer() == "Paris"
    failed = ModelOutput.failure("no instance")
    assert failed.error_code == 1
    assert failed.answer() == ERROR_PREFIX + "no instance"


def test_apply_and_startup_requests() -> None:
    apply = WorkerApplyRequest(model="m", apply_type="restart")
    assert apply.worker_type == "llm"
    assert apply.params == {}
    with pytest.raises(ValidationError) as err:
        WorkerApplyRequest.model_validate({"model": "m", "apply_type": "explode"})
    assert "apply_type" in str(err.value)
    start = WorkerStartupRequest(model="m")
    assert (start.host, start.port, start.delete_after) == ("", 0, False)
