"""DB-GPT's ``ModelOutput.metrics``: when a generation started, its first token, its speed.

One :class:`GenerationTimer` per generation; feed it each delta as it arrives and ask for
:meth:`~GenerationTimer.report` whenever a chunk is written (DB-GPT sends the figures so far
with every chunk, the final ones with the last).
"""

from __future__ import annotations

import time
from typing import Any

from .types import Delta, Usage

__all__ = ["GenerationTimer"]


def _ms() -> int:
    return time.time_ns() // 1_000_000


class GenerationTimer:
    """Times one generation, in milliseconds since the epoch as DB-GPT reports them."""

    def __init__(self) -> None:
        self.start = _ms()
        self.first: int | None = None
        self.chunks = 0

    def saw(self, delta: Delta) -> None:
        self.chunks += 1
        if delta.text and self.first is None:
            self.first = _ms()

    def report(self, usage: Usage | None) -> dict[str, Any]:
        now = _ms()
        prompt = usage.prompt_tokens if usage is not None else 0
        completion = usage.completion_tokens if usage is not None else 0
        first = self.first
        seconds = max(now - self.start, 1) / 1000
        decode = max((now - first) / 1000, 1e-3) if first is not None else None
        prefill = max((first - self.start) / 1000, 1e-3) if first is not None else None
        return {
            "collect_index": self.chunks,
            "start_time_ms": self.start,
            "end_time_ms": now,
            "current_time_ms": now,
            "first_token_time_ms": first,
            "first_completion_time_ms": first,
            "first_completion_tokens": 1 if first is not None else 0,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "speed_per_second": completion / seconds,
            "prefill_tokens_per_second": prompt / prefill if prefill else None,
            # The first token belongs to the prefill's time.
            "decode_tokens_per_second": (completion - 1) / decode if decode else None,
            "current_gpu_infos": None,
            "avg_gpu_infos": None,
        }
