"""``POST /api/v1/chat/completions``: OpenAI's chat completions, whole or streamed.

The trigger hands the body to a branch on ``stream``: one side streams the model's deltas
and writes ``chat.completion.chunk`` events, the other waits for the whole answers and
writes one ``chat.completion`` object.
"""

from __future__ import annotations

import time
from typing import Any

from awel import DAG, BranchOperator, MapOperator
from awel.errors import BadRequest
from awel.operators import EitherJoin
from flows.model_api._openai import (
    TRIGGER,
    ChatChunks,
    ChatCompletionRequest,
    finish_reason,
    is_stream_request,
    is_value_request,
    new_id,
    note_ignored,
    openai_trigger,
    usage_of,
)
from operators.llm.guidance import check
from operators.llm.operators import LLMGenerate, LLMStream
from operators.llm.types import ChatMessage, Completion, GenerationRequest
from operators.models import current_models

#: New tokens when the request sets no max_tokens.
DEFAULT_MAX_TOKENS = 256


class ChatRequests(MapOperator[ChatCompletionRequest, list[GenerationRequest]]):
    """The body as ``n`` engine requests."""

    async def map(self, input_value: ChatCompletionRequest) -> list[GenerationRequest]:
        body = input_value
        note_ignored(body)
        # Unknown model: a 404 now, before a stream's headers are sent.
        current_models().llm(body.model)
        messages = [
            # OpenAI's newer name for the system prompt.
            ChatMessage(role="system" if m.role == "developer" else m.role, content=m.text)
            for m in body.messages
        ]
        guidance = body.response_format.guidance if body.response_format else None
        if guidance is not None and (problem := check(guidance)) is not None:
            raise BadRequest(
                f"response_format: the schema cannot guide an answer: {problem}",
                param="response_format",
            )
        return [
            GenerationRequest(
                model=body.model,
                messages=messages,
                params=body.params(DEFAULT_MAX_TOKENS, choice, guidance),
            )
            for choice in range(body.n)
        ]


class ChatAnswer(MapOperator[list[Completion], dict[str, Any]]):
    """The whole answers as one ``chat.completion`` object."""

    async def map(self, input_value: list[Completion]) -> dict[str, Any]:
        body: ChatCompletionRequest = self.current_dag_context.get_task_output(TRIGGER)
        return {
            "id": new_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.model,
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": c.text},
                    "logprobs": None,
                    "finish_reason": finish_reason(c.finish_reason),
                }
                for i, c in enumerate(input_value)
            ],
            "usage": usage_of(input_value, body.n),
        }


with DAG("openai_chat_completions", description="OpenAI's chat completions.") as dag:
    trigger = openai_trigger(
        "/api/v1/chat/completions", ChatCompletionRequest, summary="Chat completion"
    )
    branch = BranchOperator[Any](
        {is_stream_request: "stream_requests", is_value_request: "requests"},
        task_name="stream_or_not",
    )
    join = EitherJoin(task_name="answer")
    trigger >> branch
    (
        branch
        >> ChatRequests(task_name="stream_requests")
        >> LLMStream(task_name="llm_stream")
        >> ChatChunks(task_name="chunks")
        >> join
    )
    (
        branch
        >> ChatRequests(task_name="requests")
        >> LLMGenerate(task_name="llm")
        >> ChatAnswer(task_name="completion")
        >> join
    )
