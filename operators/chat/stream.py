"""The shapes of a chat stream (spec 1.1, 1.9 and 1.10), one :class:`ChatFramer` per call.

- ``plain`` (``/api/v1/chat/completions`` by default): ``data:<whole text so far>`` with
  newlines sent as the two characters ``\\n``, no end marker (DB-GPT up to 0.7.2, which
  every DB-GPT web UI reads).
- ``json``: 0.8.2's full-message form, ``data: {"id", "model", "choices": [{"index": 0,
  "message": {"role", "content", "reasoning_content"}}], "usage": {}}``, cumulative.
- ``full`` (v2 with ``incremental: false``): ``json``'s events with the same whole text in a
  ``delta`` beside ``message``: DB-GPT's v2 sends ``message`` only, which its own
  ``dbgpt-client`` cannot read (its stream chunks require ``delta``); both read this.
- ``delta``: OpenAI chunks of the new text only (``object``, ``created`` as OpenAI's), a
  last chunk with ``finish_reason``, then ``data: [DONE]``. Draft text (a data scene's raw
  JSON, replaced by its view) is not sent in this form.

Items are SSE events already framed (bytes), so the route writes them as they are.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Literal

from .types import Progress

__all__ = ["ChatFramer", "StreamStyle", "plain_event"]

StreamStyle = Literal["plain", "json", "full", "delta"]


def plain_event(text: str) -> bytes:
    """``data:<text>`` with its newlines escaped, DB-GPT's plain form."""
    flat = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return b"data:" + flat.encode() + b"\n\n"


def _event(payload: object) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


class ChatFramer:
    """Turns a scene's cumulative texts into the events of one stream style."""

    def __init__(self, style: StreamStyle, *, model: str, chunk_id: str | None = None) -> None:
        self.style = style
        self.model = model
        self.id = chunk_id or f"chatcmpl-{uuid.uuid1()}"
        self.created = int(time.time())
        #: The last cumulative text sent (cumulative styles) or the text sent so far (delta).
        self._shown = ""
        self._started = False

    def progress(self, event: Progress) -> bytes | None:
        if self.style == "delta":
            return None if event.draft else self._delta_to(event.text)
        return self._whole(event.text)

    def final(self, view: str) -> bytes | None:
        """The round's view, as the last text event."""
        if self.style == "delta":
            return self._delta_to(view, rewrite_sep="\n\n")
        return self._whole(view)

    def end(self, finish_reason: str = "stop") -> bytes:
        """What closes the stream: nothing for the cumulative styles, else a finishing chunk
        and ``[DONE]``."""
        if self.style != "delta":
            return b""
        chunk = self._chunk({}, finish_reason)
        return _event(chunk) + b"data: [DONE]\n\n"

    def message(self, text: str) -> bytes:
        """A text sent as is (an error before any answer), then the end of the stream."""
        if self.style == "delta":
            return (self._delta_to(text) or b"") + self.end("stop")
        return self._whole(text) or b""

    # --- the styles ----------------------------------------------------------------------

    def _whole(self, text: str) -> bytes | None:
        if text == self._shown and self._started:
            return None
        self._shown = text
        self._started = True
        if self.style == "plain":
            return plain_event(text)
        choice: dict[str, object] = {
            "index": 0,
            "message": {"role": "assistant", "content": text, "reasoning_content": None},
        }
        if self.style == "full":
            choice["delta"] = {"role": "assistant", "content": text}
        return _event({"id": self.id, "model": self.model, "choices": [choice], "usage": {}})

    def _delta_to(self, text: str, *, rewrite_sep: str = "\n") -> bytes | None:
        if text.startswith(self._shown):
            piece = text[len(self._shown) :]
        else:
            # The text was rewritten (it does not extend what was sent): send it after what
            # the client has, as deltas cannot take anything back.
            piece = rewrite_sep + text if self._shown else text
        if not piece:
            return None
        self._shown += piece
        delta: dict[str, object] = {"content": piece}
        if not self._started:
            delta = {"role": "assistant", "content": piece}
            self._started = True
        return _event(self._chunk(delta, None))

    def _chunk(self, delta: dict[str, object], finish_reason: str | None) -> dict[str, object]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
