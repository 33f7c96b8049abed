"""``POST /api/v1/completions``: OpenAI's (legacy) text completions, whole or streamed.

A prompt is continued as it is, without the chat template. ``prompt`` may be a list: each
prompt gets ``n`` answers, choice ``i * n + j`` being prompt ``i``'s answer ``j``.
"""

from __future__ import annotations

import time
from typing import Any

from awel import DAG, BranchOperator, MapOperator
from awel.operators import EitherJoin
from flows.model_api._openai import (
    TRIGGER,
    CompletionChunks,
    CompletionRequest,
    finish_reason,
    is_stream_request,
    is_value_request,
    new_id,
    note_ignored,
    openai_trigger,
    usage_of,
)
from operators.llm.operators import LLMGenerate, LLMStream
from operators.llm.types import Completion, GenerationRequest
from operators.models import current_models

#: New tokens when the request sets no max_tokens: OpenAI's default for this route.
DEFAULT_MAX_TOKENS = 16


class CompletionRequests(MapOperator[CompletionRequest, list[GenerationRequest]]):
    """The body as ``n`` engine requests per prompt."""

    async def map(self, input_value: CompletionRequest) -> list[GenerationRequest]:
        body = input_value
        note_ignored(body)
        current_models().llm(body.model)
        prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
        return [
            GenerationRequest(
                model=body.model, prompt=prompt, params=body.params(DEFAULT_MAX_TOKENS, choice)
            )
            for prompt in prompts
            for choice in range(body.n)
        ]


class CompletionAnswer(MapOperator[list[Completion], dict[str, Any]]):
    """The whole answers as one ``text_completion`` object."""

    async def map(self, input_value: list[Completion]) -> dict[str, Any]:
        body: CompletionRequest = self.current_dag_context.get_task_output(TRIGGER)
        return {
            "id": new_id("cmpl"),
            "object": "text_completion",
            "created": int(time.time()),
            "model": body.model,
            "choices": [
                {
                    "index": i,
                    "text": c.text,
                    "logprobs": None,
                    "finish_reason": finish_reason(c.finish_reason),
                }
                for i, c in enumerate(input_value)
            ],
            "usage": usage_of(input_value, body.n),
        }


with DAG("openai_completions", description="OpenAI's text completions.") as dag:
    trigger = openai_trigger("/api/v1/completions", CompletionRequest, summary="Text completion")
    branch = BranchOperator[Any](
        {is_stream_request: "stream_requests", is_value_request: "requests"},
        task_name="stream_or_not",
    )
    join = EitherJoin(task_name="answer")
    trigger >> branch
    (
        branch
        >> CompletionRequests(task_name="stream_requests")
        >> LLMStream(task_name="llm_stream")
        >> CompletionChunks(task_name="chunks")
        >> join
    )
    (
        branch
        >> CompletionRequests(task_name="requests")
        >> LLMGenerate(task_name="llm")
        >> CompletionAnswer(task_name="completion")
        >> join
    )
