"""llm.chat, llm.chat_stream and prompt.chat with a fake model whose answers are known."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from awel import NodeError, registry
from awel.errors import SpecError
from awel.spec import load_flow_text
from operators.llm.chat_ops import InvalidAnswer, InvalidChatInput, LLMChat, LLMChatStream
from operators.llm.prompt_ops import PromptChat, PromptFailed
from operators.llm.types import ChatMessage, Completion, GenerationRequest, Usage
from operators.models import ModelSet, using_models
from tests.server.model_api_live import FakeLLM

from .conftest import run_one, stream_one


def test_registered_by_name() -> None:
    assert registry.get("llm.chat") is LLMChat
    assert registry.get("llm.chat_stream") is LLMChatStream
    assert registry.get("prompt.chat") is PromptChat


async def test_chat_takes_a_string_messages_or_a_dict(fake_llm: FakeLLM) -> None:
    assert await run_one("llm.chat", {}, "hello") == "You said: hello"
    said = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="hi")]
    assert await run_one("llm.chat", {}, said) == "You said: hi"
    openai_style = {
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "parts"}]},
        ]
    }
    assert await run_one("llm.chat", {}, openai_style) == "You said: parts"
    assert fake_llm.requests[-1].messages is not None
    assert fake_llm.requests[-1].messages[0].role == "system"
    assert await run_one("llm.chat", {}, {"prompt": "a prompt"}) == "You said: a prompt"
    assert await run_one("llm.chat", {}, {"user_input": "dbgpt"}) == "You said: dbgpt"
    assert await run_one("llm.chat", {}, {"messages": "one string"}) == "You said: one string"


async def test_params_win_over_the_input_which_fills_the_rest(fake_llm: FakeLLM) -> None:
    body = {"messages": "one two three four", "max_tokens": 3, "temperature": 0.5, "stop": "four"}
    assert await run_one("llm.chat", {}, body) == "You said: one "
    params = fake_llm.requests[-1].params
    assert (params.max_new_tokens, params.temperature, params.stop) == (3, 0.5, ["four"])
    assert await run_one("llm.chat", {"max_tokens": 2, "stop": []}, body) == "You said: "
    assert fake_llm.requests[-1].params.max_new_tokens == 2
    assert fake_llm.requests[-1].params.stop == []
    # The node's max_tokens caps what the input asks; fewer is granted.
    await run_one("llm.chat", {"max_tokens": 50}, body)
    assert fake_llm.requests[-1].params.max_new_tokens == 3


async def test_chat_stream_gives_text_pieces(fake_llm: FakeLLM) -> None:
    pieces = await stream_one("llm.chat_stream", {}, "a b c")
    assert pieces == ["You ", "said: ", "a ", "b ", "c"]
    assert fake_llm.streams_closed == fake_llm.streams_started == 1


class JsonLLM(FakeLLM):
    """Answers the JSON it was told to, checking that a schema guided the request."""

    def __init__(self, answer: str) -> None:
        super().__init__("json-llm")
        self.answer = answer

    async def generate(self, request: GenerationRequest) -> Completion:
        self.requests.append(request)
        assert request.params.guidance is not None
        return Completion(text=self.answer, finish_reason="length", usage=Usage())


async def test_a_schema_guides_the_answer_and_it_is_parsed() -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    llm = JsonLLM('{"ok": true}')
    async with using_models(ModelSet([llm]), close=False):
        assert await run_one("llm.chat", {"json_schema": schema}, "ok?") == {"ok": True}
        guidance = llm.requests[-1].params.guidance
        assert guidance is not None and guidance.json_schema == schema
        assert await run_one("llm.chat", {"response_format": "json"}, "any?") == {"ok": True}
        assert llm.requests[-1].params.guidance is not None
        llm.answer = '{"ok": tr'
        with pytest.raises(NodeError) as caught:
            await run_one("llm.chat", {"json_schema": schema}, "cut")
    assert caught.value.node == "node"
    assert isinstance(caught.value.__cause__, InvalidAnswer)
    assert "ran out of max_tokens" in str(caught.value.__cause__)


async def test_bad_input_fails_naming_the_node(fake_llm: FakeLLM) -> None:
    for bad in (42, [], {"question": "no known key"}, [{"role": "user", "content": 3}]):
        with pytest.raises(NodeError) as caught:
            await run_one("llm.chat", {}, bad)
        assert caught.value.node == "node"
        assert isinstance(caught.value.__cause__, InvalidChatInput)
        assert caught.value.__cause__.code == "llm.invalid_input"


async def test_an_unknown_model_is_model_not_found(fake_llm: FakeLLM) -> None:
    with pytest.raises(NodeError) as caught:
        await run_one("llm.chat", {"model": "nope"}, "hi")
    assert getattr(caught.value.__cause__, "code", None) == "model.not_found"


def test_bad_params_are_validation_problems() -> None:
    with pytest.raises(ValidationError):
        registry.build("llm.chat", {"temperature": 5})
    with pytest.raises(ValidationError, match="cannot guide"):
        registry.build("llm.chat", {"json_schema": {"type": "thing"}})
    with pytest.raises(ValidationError):
        registry.build("llm.chat_stream", {"max_token": 3})


def test_a_bad_parameter_in_yaml_points_at_its_line() -> None:
    text = """\
name: bad_chat
trigger: {}
nodes:
  answer:
    op: llm.chat
    params:
      temperature: hot
edges:
  - trigger >> answer
"""
    with pytest.raises(SpecError) as caught:
        load_flow_text(text, "bad.yaml")
    assert "bad.yaml:7:" in str(caught.value), str(caught.value)
    assert "temperature" in str(caught.value)


async def test_prompt_chat_renders_system_history_and_user() -> None:
    params = {
        "system": "Answer in {{ language }}.",
        "user": "Q: {{ question }}",
        "history": "history",
    }
    value = {
        "language": "French",
        "question": "why?",
        "history": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hey"}],
    }
    messages = await run_one("prompt.chat", params, value)
    assert [(m.role, m.content) for m in messages] == [
        ("system", "Answer in French."),
        ("user", "hi"),
        ("assistant", "hey"),
        ("user", "Q: why?"),
    ]
    assert [m.content for m in await run_one("prompt.chat", {}, "plain")] == ["plain"]


async def test_prompt_chat_feeds_llm_chat(fake_llm: FakeLLM) -> None:
    text = """\
name: prompt_then_chat
trigger: {}
nodes:
  prompt: {op: prompt.chat, params: {user: "Tell me about {{ topic }}"}}
  answer: {op: llm.chat, params: {max_tokens: 8}}
edges:
  - trigger >> prompt >> answer
"""
    dag = load_flow_text(text)
    assert await dag.output_node.call({"topic": "owls"}) == "You said: Tell me about owls"


async def test_prompt_chat_failures() -> None:
    with pytest.raises(NodeError) as caught:
        await run_one("prompt.chat", {"user": "{{ missing }}"}, {"other": 1})
    assert isinstance(caught.value.__cause__, PromptFailed)
    assert "missing" in str(caught.value.__cause__)
    with pytest.raises(NodeError) as caught:
        await run_one("prompt.chat", {"history": "turns"}, {"turns": [3]})
    assert isinstance(caught.value.__cause__, PromptFailed)
    with pytest.raises(ValidationError, match="invalid template"):
        registry.build("prompt.chat", {"user": "{{ open"})
    with pytest.raises(ValidationError, match="invalid expression"):
        registry.build("prompt.chat", {"history": "a +"})


async def test_embed_takes_plain_strings_and_answers_json(fake_llm: FakeLLM) -> None:
    from server.json import dumps

    one = await run_one("embeddings.embed", {}, "a text")
    assert one.vectors.shape == (1, 8) and one.model == "fake-embed"
    two = await run_one("embeddings.embed", {}, ["a text", "another"])
    assert two.vectors.shape == (2, 8) and two.prompt_tokens == 3
    assert (two.vectors[0] == one.vectors[0]).all()
    # A flow answering it over HTTP gets plain lists of floats.
    assert b'"vectors":[[' in dumps(two)
