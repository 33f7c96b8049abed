"""What a language model takes and gives back, whoever runs it.

The local onnxruntime-genai engine, the proxy to a hosted OpenAI-compatible model and (later)
a remote worker all speak these types, so the flows that serve the OpenAI API, DB-GPT's
worker protocol and the chat scenes never care which one answers.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ChatMessage",
    "Completion",
    "Delta",
    "FinishReason",
    "GenerationParams",
    "GenerationRequest",
    "Guidance",
    "LanguageModel",
    "Usage",
]

FinishReason = Literal["stop", "length", "cancelled", "error"]


class ChatMessage(BaseModel):
    """One turn of a conversation; ``role`` is system, user, assistant (or tool)."""

    role: str
    content: str


class Guidance(BaseModel):
    """A grammar the answer must follow: exactly one of ``json_schema``, ``regex``, ``lark``.

    The local engine masks the tokens the grammar does not allow before sampling, so the
    answer always parses (unless it runs out of ``max_new_tokens``) and ends as soon as the
    grammar is complete; a proxy passes a JSON schema on as OpenAI's ``response_format``::

        GenerationParams(guidance=Guidance(json_schema={"type": "object"}))
        GenerationParams(guidance=Guidance(regex=r"(yes|no)"))

    onnxruntime-genai's ``set_guidance(type, data)`` pair is accepted too, as
    ``{"type": "json_schema" | "regex" | "lark_grammar", "data": "<text>"}``.
    """

    model_config = ConfigDict(extra="forbid")

    #: A JSON Schema the answer validates against (compact JSON, as ``json.dumps`` writes).
    json_schema: dict[str, Any] | None = None
    #: A regular expression the whole answer matches.
    regex: str | None = None
    #: A Lark grammar (llguidance's dialect) whose ``start`` rule the answer matches.
    lark: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _genai_pair(cls, value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"type", "data"}:
            kind = {"lark_grammar": "lark"}.get(value["type"], value["type"])
            data = value["data"]
            if kind == "json_schema" and isinstance(data, str):
                data = json.loads(data)  # a ValueError here is a validation error
            return {kind: data}
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Guidance:
        given = [
            name for name in ("json_schema", "regex", "lark") if getattr(self, name) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of json_schema, regex or lark"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class GenerationParams(BaseModel):
    """Sampling and stopping. ``temperature`` 0 means greedy decoding."""

    max_new_tokens: int = Field(256, ge=1)
    temperature: float = Field(0.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    #: 0: no top-k cut.
    top_k: int = Field(0, ge=0)
    #: Generation ends before the first of these strings; the string itself is not returned.
    stop: list[str] = Field(default_factory=list)
    seed: int | None = None
    #: Constrain the answer to a grammar (None: free text).
    guidance: Guidance | None = None


class GenerationRequest(BaseModel):
    """Either ``messages`` (chat: the model's chat template applies) or a raw ``prompt``."""

    model: str
    messages: list[ChatMessage] | None = None
    prompt: str | None = None
    params: GenerationParams = Field(default_factory=GenerationParams)


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Delta(BaseModel):
    """A piece of a streamed answer: new ``text`` since the previous delta.

    The last delta of a stream has ``finish_reason`` and ``usage`` set (its text may be
    empty).
    """

    text: str = ""
    finish_reason: FinishReason | None = None
    usage: Usage | None = None


class Completion(BaseModel):
    """A whole answer."""

    text: str
    finish_reason: FinishReason
    usage: Usage


@runtime_checkable
class LanguageModel(Protocol):
    """A model that answers :class:`GenerationRequest`s.

    Implementations are safe to call from many tasks at once (they batch or queue), and a
    cancelled caller frees its share of the model at once.
    """

    name: str

    async def generate(self, request: GenerationRequest) -> Completion: ...

    def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]: ...

    def count_tokens(self, text: str) -> int: ...

    async def aclose(self) -> None: ...
