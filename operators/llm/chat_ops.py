"""Chat operators for flows written by hand: ``llm.chat`` (a whole answer) and
``llm.chat_stream`` (the answer as text pieces).

Unlike ``llm.generate``, which takes the engine's :class:`GenerationRequest`, these take
what a YAML flow has at hand: a string (one user message), a list of chat messages, or a
dict carrying ``messages`` (a list, or one string), ``prompt`` or ``user_input`` (DB-GPT's
request body). The node's parameters are the request's settings; a dict input may fill in
``model``, ``temperature``, ``max_tokens`` (or ``max_new_tokens``) and ``stop`` where the
node leaves them unset, so a flow author fixes what a client may ask by setting them. The
node's ``max_tokens`` is a cap: a request asking for fewer gets fewer.

    nodes:
      answer: {op: llm.chat, params: {max_tokens: 64}}
      verdict:
        op: llm.chat
        params: {json_schema: {type: object, properties: {ok: {type: boolean}}}}

With ``json_schema`` (or ``response_format: json``) the engine's guided decoding keeps the
answer to the schema and ``llm.chat`` answers the parsed JSON value instead of text.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from awel import MapOperator, StreamifyAbsOperator
from awel.builtin import fields_of
from awel.errors import AwelError
from awel.registry import OperatorParams

from ..models import current_models
from .guidance import check
from .types import ChatMessage, GenerationParams, GenerationRequest, Guidance, LanguageModel

__all__ = [
    "ChatInput",
    "ChatParams",
    "InvalidAnswer",
    "InvalidChatInput",
    "LLMChat",
    "LLMChatStream",
    "chat_request",
    "messages_of",
]

#: What the chat operators take.
ChatInput = str | list[ChatMessage] | dict[str, Any]

#: A JSON schema that only asks for some JSON object (``response_format: json``).
ANY_OBJECT: dict[str, Any] = {"type": "object"}


class InvalidChatInput(AwelError):
    """The node's input is not something a chat can be made of."""

    code = "llm.invalid_input"


class InvalidAnswer(AwelError):
    """The model's answer is not the JSON its schema asked for (it ran out of tokens)."""

    code = "llm.invalid_answer"


class ChatParams(OperatorParams):
    """What one chat request asks of the model."""

    model: str | None = Field(
        None, description="The model to answer with (default: the input's, else the first)."
    )
    temperature: float | None = Field(
        None, ge=0.0, le=2.0, description="Sampling temperature; 0 or unset: greedy."
    )
    max_tokens: int | None = Field(
        None, ge=1, le=8192, description="Most new tokens (default: the input's, else 256)."
    )
    stop: list[str] | None = Field(
        None, description="The answer ends before the first of these strings."
    )
    response_format: Literal["text", "json"] = Field(
        "text", description="'json': the answer is a JSON object, parsed (llm.chat)."
    )
    json_schema: dict[str, Any] | None = Field(
        None, description="A JSON Schema the answer follows (guided decoding); parsed."
    )

    @field_validator("json_schema")
    @classmethod
    def _schema_compiles(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is None:
            return None
        problem = check(Guidance(json_schema=v))
        if problem is not None:
            raise ValueError(f"the schema cannot guide an answer: {problem}")
        return v

    @property
    def guide(self) -> dict[str, Any] | None:
        """The schema guiding the answer, or None for free text."""
        if self.json_schema is not None:
            return self.json_schema
        return ANY_OBJECT if self.response_format == "json" else None


def _content(value: Any) -> str:
    """A message's text: a string, or OpenAI's list of ``{"type": "text", "text"}`` parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(str(part.get("text", "")) for part in value if isinstance(part, Mapping))
    if value is None:
        return ""
    raise InvalidChatInput(f"a message's content is {type(value).__name__}, not text")


def _message(value: Any) -> ChatMessage:
    if isinstance(value, ChatMessage):
        return value
    if isinstance(value, Mapping) and "role" in value:
        role = str(value["role"])
        # OpenAI's newer name for the system prompt.
        return ChatMessage(
            role="system" if role == "developer" else role, content=_content(value.get("content"))
        )
    if isinstance(value, str):
        return ChatMessage(role="user", content=value)
    raise InvalidChatInput(
        f"a message is {type(value).__name__}; give {{role, content}} objects or strings"
    )


def messages_of(value: Any) -> list[ChatMessage]:
    """The conversation an input stands for (see the module's docstring)."""
    if isinstance(value, str):
        return [ChatMessage(role="user", content=value)]
    if isinstance(value, Mapping | BaseModel):
        fields = fields_of(value)
        for key in ("messages", "prompt", "user_input"):
            found = fields.get(key)
            if found is not None and found != []:
                return messages_of(found)
        raise InvalidChatInput(
            "the input has none of 'messages', 'prompt' or 'user_input' to ask the model"
        )
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        messages = [_message(m) for m in value]
        if messages:
            return messages
        raise InvalidChatInput("the input is an empty list of messages")
    raise InvalidChatInput(
        f"the input is {type(value).__name__}; give a string, a list of messages, or a dict"
        " with 'messages' or 'prompt'"
    )


def _from_input(value: Any, *keys: str) -> Any:
    fields = fields_of(value)
    for key in keys:
        if fields.get(key) is not None:
            return fields[key]
    return None


def chat_request(params: ChatParams, value: Any) -> tuple[LanguageModel, GenerationRequest]:
    """The model and the engine request for one input (the node's settings first)."""
    messages = messages_of(value)
    name = params.model or _from_input(value, "model")
    model = current_models().llm(str(name) if name else None)
    temperature = params.temperature
    if temperature is None:
        temperature = _from_input(value, "temperature")
    asked = _from_input(value, "max_tokens", "max_new_tokens")
    max_tokens = params.max_tokens or asked
    if params.max_tokens is not None and isinstance(asked, int) and asked > 0:
        # The node's max_tokens is a cap: a client may ask for fewer, never for more.
        max_tokens = min(params.max_tokens, asked)
    stop = params.stop if params.stop is not None else _from_input(value, "stop")
    if isinstance(stop, str):
        stop = [stop]
    fields: dict[str, Any] = {"stop": list(stop or [])}
    if temperature is not None:
        fields["temperature"] = temperature
    if max_tokens is not None:
        fields["max_new_tokens"] = max_tokens
    schema = params.guide
    if schema is not None:
        fields["guidance"] = Guidance(json_schema=schema)
    try:
        generation = GenerationParams(**fields)
    except ValueError as exc:
        raise InvalidChatInput(f"the input's settings are not usable: {exc}") from None
    request = GenerationRequest(model=model.name, messages=messages, params=generation)
    return model, request


class LLMChat(MapOperator[ChatInput, Any]):
    """Asks the model: text, messages or a request dict in; its answer's text out (the
    parsed JSON value when a schema is given, so the output's type depends on params)."""

    Params = ChatParams

    def __init__(self, settings: ChatParams | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings or ChatParams()

    @classmethod
    def from_params(cls, params: ChatParams, **kwargs: Any) -> LLMChat:
        return cls(params, **kwargs)

    async def map(self, input_value: ChatInput) -> Any:
        model, request = chat_request(self.settings, input_value)
        completion = await model.generate(request)
        if self.settings.guide is None:
            return completion.text
        try:
            return json.loads(completion.text)
        except ValueError:
            hint = " (it ran out of max_tokens)" if completion.finish_reason == "length" else ""
            raise InvalidAnswer(
                f"the model's answer is not the JSON its schema asks for{hint}:"
                f" {completion.text[:200]!r}"
            ) from None


class LLMChatStream(StreamifyAbsOperator[ChatInput, str]):
    """Asks the model: text, messages or a request dict in; its answer out as text pieces."""

    Params = ChatParams

    def __init__(self, settings: ChatParams | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings or ChatParams()

    @classmethod
    def from_params(cls, params: ChatParams, **kwargs: Any) -> LLMChatStream:
        return cls(params, **kwargs)

    async def streamify(self, input_value: ChatInput) -> AsyncIterator[str]:
        model, request = chat_request(self.settings, input_value)
        stream = model.stream(request)
        try:
            async for delta in stream:
                if delta.text:
                    yield delta.text
        finally:
            # Close the engine's stream now, not when it is collected: a client that hangs
            # up frees its share of the model at once.
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
