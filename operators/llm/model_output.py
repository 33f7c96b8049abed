"""DB-GPT's ``ModelOutput.to_dict()``: the one-object answer of its AWEL chat examples.

    {"error_code": 0, "text", "incremental": false, "model_context": {"model": ...},
     "finish_reason", "usage", "metrics"}

:class:`ToModelOutput` collects a model's stream into it; a model failing midway gives
``error_code`` 1 and the reason in ``text``, as DB-GPT's worker manager answers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from awel import UnstreamifyAbsOperator

from .timing import GenerationTimer
from .types import Delta, GenerationRequest

__all__ = ["ToModelOutput", "model_output"]

log = logging.getLogger("awel.examples")


class ToModelOutput(UnstreamifyAbsOperator[Delta, dict[str, Any]]):
    """Collects the answer, timing it as DB-GPT's ``metrics`` report. The model named is
    the one of the request made by the node called ``request_task`` (default ``request``)."""

    def __init__(self, *, request_task: str = "request", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.request_task = request_task

    async def unstreamify(self, input_stream: AsyncIterator[Delta]) -> dict[str, Any]:
        request: GenerationRequest = self.current_dag_context.get_task_output(self.request_task)
        timer = GenerationTimer()
        parts: list[str] = []
        last = Delta()
        try:
            async for delta in input_stream:
                timer.saw(delta)
                if delta.text:
                    parts.append(delta.text)
                last = delta
        except Exception as exc:
            log.exception("%s: the model failed", self.current_dag_context.dag.dag_id)
            text = f"**LLMServer Generate Error, Please CheckErrorInfo.**: {exc}"
            return model_output(1, text, request.model)
        usage = last.usage.model_dump() if last.usage is not None else None
        metrics = timer.report(last.usage)
        return model_output(0, "".join(parts), request.model, last.finish_reason, usage, metrics)


def model_output(
    error_code: int,
    text: str,
    model: str,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """DB-GPT's ``ModelOutput.to_dict()``."""
    return {
        "error_code": error_code,
        "text": text,
        "incremental": False,
        "model_context": {"model": model},
        "finish_reason": finish_reason,
        "usage": usage,
        "metrics": metrics,
    }
