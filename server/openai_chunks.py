"""A flow's answer in OpenAI's chat completion shapes (``response: openai_stream``).

A flow that ends in a stream of text pieces (``llm.chat_stream``) becomes
``chat.completion.chunk`` events: a role delta first, one content delta per piece, a
finishing delta, then ``data: [DONE]`` (the trigger's ``sse_end``); a request whose
``stream`` is false gets the pieces joined into one ``chat.completion``. Items may also be
the engine's deltas (their ``finish_reason`` and ``usage`` are kept) or dicts with ``text``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from .json import dumps_text
from .stream import sse_frame

__all__ = ["OpenAIChat", "model_of"]


def model_of(body: Any) -> str:
    """The model the request named (OpenAI's clients always send one)."""
    name = body.get("model") if isinstance(body, Mapping) else getattr(body, "model", None)
    return str(name) if name else "awel"


def _piece(item: Any) -> tuple[str, str | None, Any]:
    """An item's text, finish reason and usage."""
    if isinstance(item, str):
        return item, None, None
    if isinstance(item, bytes):
        return item.decode("utf-8", "replace"), None, None
    if isinstance(item, Mapping):
        return str(item.get("text") or ""), item.get("finish_reason"), item.get("usage")
    text = getattr(item, "text", None)
    if text is not None:
        return str(text), getattr(item, "finish_reason", None), getattr(item, "usage", None)
    return dumps_text(item), None, None


def _usage(usage: Any) -> dict[str, int]:
    if usage is None:
        return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    if isinstance(usage, Mapping):
        return {
            k: int(usage.get(k, 0)) for k in ("prompt_tokens", "completion_tokens", "total_tokens")
        }
    return {
        k: int(getattr(usage, k, 0)) for k in ("prompt_tokens", "completion_tokens", "total_tokens")
    }


class OpenAIChat:
    """One answer's id, time and model, and its events."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = model

    def _chunk(self, delta: dict[str, Any], finish: str | None) -> bytes:
        return sse_frame(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
        )

    async def chunks(self, stream: AsyncIterator[Any]) -> AsyncIterator[bytes]:
        """The SSE events of a stream of pieces (without the closing ``[DONE]``)."""
        yield self._chunk({"role": "assistant", "content": ""}, None)
        reason: str | None = None
        try:
            async for item in stream:
                text, finish, _ = _piece(item)
                if text:
                    yield self._chunk({"content": text}, None)
                reason = finish or reason
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        yield self._chunk({}, _finish(reason))

    def events(self, value: Any) -> bytes:
        """The events of a whole answer sent as a stream."""
        text, finish, _ = _piece(value)
        return b"".join(
            (
                self._chunk({"role": "assistant", "content": ""}, None),
                self._chunk({"content": text}, None) if text else b"",
                self._chunk({}, _finish(finish)),
            )
        )

    async def collect(self, stream: AsyncIterator[Any]) -> dict[str, Any]:
        """A stream of pieces as one ``chat.completion``."""
        parts: list[str] = []
        reason: str | None = None
        usage: Any = None
        try:
            async for item in stream:
                text, finish, used = _piece(item)
                parts.append(text)
                reason = finish or reason
                usage = used or usage
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        return self.completion("".join(parts), reason, usage)

    def completion(self, text: str, reason: str | None, usage: Any = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": _finish(reason),
                }
            ],
            "usage": _usage(usage),
        }

    def whole(self, value: Any) -> dict[str, Any]:
        """A flow's single value as one ``chat.completion``."""
        text, finish, usage = _piece(value)
        return self.completion(text, finish, usage)


def _finish(reason: str | None) -> str:
    # OpenAI knows stop, length and a few others; the engine's cancelled/error are stops.
    return reason if reason in ("stop", "length") else "stop"
