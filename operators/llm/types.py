"""What a language model takes and gives back, whoever runs it.

The local onnxruntime-genai engine, the proxy to a hosted OpenAI-compatible model and (later)
a remote worker all speak these types, so the flows that serve the OpenAI API, DB-GPT's
worker protocol and the chat scenes never care which one answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

__all__ = [
    "ChatMessage",
    "Completion",
    "Delta",
    "FinishReason",
    "GenerationParams",
    "GenerationRequest",
    "LanguageModel",
    "Usage",
]

FinishReason = Literal["stop", "length", "cancelled", "error"]


class ChatMessage(BaseModel):
    """One turn of a conversation; ``role`` is system, user, assistant (or tool)."""

    role: str
    content: str


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
