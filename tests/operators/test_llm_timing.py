"""DB-GPT's ModelOutput.metrics from one generation's deltas."""

from __future__ import annotations

import time

from operators.llm.timing import GenerationTimer
from operators.llm.types import Delta, Usage


def test_the_report_counts_chunks_times_the_first_token_and_takes_the_usage() -> None:
    timer = GenerationTimer()
    assert timer.report(None)["first_token_time_ms"] is None
    timer.saw(Delta(text=""))  # an empty delta is no first token
    time.sleep(0.01)
    timer.saw(Delta(text="Par"))
    timer.saw(Delta(text="is"))
    usage = Usage(prompt_tokens=10, completion_tokens=2, total_tokens=12)
    timer.saw(Delta(finish_reason="stop", usage=usage))
    report = timer.report(usage)
    assert report["collect_index"] == 4
    assert report["first_token_time_ms"] >= report["start_time_ms"] + 10
    assert report["end_time_ms"] >= report["first_token_time_ms"]
    assert (report["prompt_tokens"], report["completion_tokens"], report["total_tokens"]) == (
        10,
        2,
        12,
    )
    assert report["speed_per_second"] > 0 and report["decode_tokens_per_second"] is not None
