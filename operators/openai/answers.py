"""OpenAI's answers: whole objects, stream chunks, and what both share.

Usage with ``n > 1`` counts each prompt once and every choice's completion (OpenAI's rule,
not FastChat's, which adds the prompt once per choice). Stream chunks are written from
templates made once per request: per token the work is one ``json.dumps`` of the new text
and a string join (the API's overhead is measured per token).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from awel import MapOperator, TransformStreamAbsOperator
from operators.llm.types import Completion, Delta, FinishReason

from .requests import Sampling

#: The task name of every model API flow's trigger; answers read the request from it.
TRIGGER = "trigger"


def finish_reason(reason: FinishReason | None) -> str:
    # OpenAI knows stop and length; a cancelled or failed engine run that still ended
    # reads best as a stop.
    return "length" if reason == "length" else "stop"


def usage_of(completions: Sequence[Completion], n: int) -> dict[str, int]:
    """Usage of ``n`` answers per prompt: each prompt once, every answer's completion."""
    prompt = sum(c.usage.prompt_tokens for c in completions[::n])
    completion = sum(c.usage.completion_tokens for c in completions)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class AnswerWriter(MapOperator[list[Completion], dict[str, Any]]):
    """The whole answers as one object; subclasses give its kind and a choice's form."""

    prefix = "cmpl"
    obj = "text_completion"

    def choice(self, index: int, completion: Completion) -> dict[str, Any]:
        raise NotImplementedError

    async def map(self, input_value: list[Completion]) -> dict[str, Any]:
        body: Sampling = self.current_dag_context.get_task_output(TRIGGER)
        return {
            "id": new_id(self.prefix),
            "object": self.obj,
            "created": int(time.time()),
            "model": body.model,
            "choices": [self.choice(i, c) for i, c in enumerate(input_value)],
            "usage": usage_of(input_value, body.n),
        }


class ChunkWriter(TransformStreamAbsOperator[Delta, str]):
    """Deltas in (answers one after another, each ending with a finishing delta), OpenAI
    stream chunks out as one-line JSON, and a usage chunk last when the request asked.

    Subclasses give the templates of their chunk kind.
    """

    prefix = "cmpl"
    obj = "text_completion"

    def __init__(self, request_task: str = TRIGGER, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.request_task = request_task

    def answers(self, body: Any) -> int:
        raise NotImplementedError

    def role(self, head: str, index: int, tail: str) -> str | None:
        """The chunk that opens answer ``index`` (None: answers open with their text)."""
        return None

    def content(self, head: str, index: int, text: str, tail: str) -> str:
        raise NotImplementedError

    def finish(self, head: str, index: int, reason: str, tail: str) -> str:
        raise NotImplementedError

    async def transform_stream(self, input_stream: AsyncIterator[Delta]) -> AsyncIterator[str]:
        body: Sampling = self.current_dag_context.get_task_output(self.request_task)
        start = (
            f'{{"id":"{new_id(self.prefix)}","object":"{self.obj}",'
            f'"created":{int(time.time())},"model":{json_text(body.model)},'
        )
        head = start + '"choices":[{"index":'
        include_usage = body.include_usage
        # With include_usage every other chunk says "usage":null (OpenAI's and vLLM's form).
        tail = ',"usage":null}' if include_usage else "}"
        total = self.answers(body)
        n = body.n
        index = 0
        prompt_tokens = completion_tokens = 0
        opening = self.role(head, 0, tail)
        if opening is not None:
            yield opening
        async for delta in input_stream:
            if delta.text:
                yield self.content(head, index, delta.text, tail)
            if delta.finish_reason is None:
                continue
            yield self.finish(head, index, finish_reason(delta.finish_reason), tail)
            if delta.usage is not None:
                if index % n == 0:
                    prompt_tokens += delta.usage.prompt_tokens
                completion_tokens += delta.usage.completion_tokens
            index += 1
            if index < total and (opening := self.role(head, index, tail)) is not None:
                yield opening
        if include_usage:
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
            yield start + f'"choices":[],"usage":{json_text(usage)}}}'


def is_stream_request(body: Any) -> bool:
    return bool(getattr(body, "stream", False))


def is_value_request(body: Any) -> bool:
    return not getattr(body, "stream", False)
