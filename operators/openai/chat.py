"""OpenAI's chat completions: the body as engine requests, and the answers written whole
(``chat.completion``) or streamed (``chat.completion.chunk``)."""

from __future__ import annotations

from typing import Any

from awel import MapOperator
from awel.errors import BadRequest
from operators.llm.guidance import check
from operators.llm.types import ChatMessage, Completion, GenerationRequest
from operators.models import current_models

from .answers import AnswerWriter, ChunkWriter, finish_reason, json_text
from .requests import ChatCompletionRequest, note_ignored

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


class ChatAnswer(AnswerWriter):
    """The whole answers as one ``chat.completion`` object."""

    prefix = "chatcmpl"
    obj = "chat.completion"

    def choice(self, index: int, completion: Completion) -> dict[str, Any]:
        return {
            "index": index,
            "message": {"role": "assistant", "content": completion.text},
            "logprobs": None,
            "finish_reason": finish_reason(completion.finish_reason),
        }


class ChatChunks(ChunkWriter):
    """``chat.completion.chunk`` events: a role delta opens each answer."""

    prefix = "chatcmpl"
    obj = "chat.completion.chunk"

    def answers(self, body: Any) -> int:
        return int(body.n)

    def role(self, head: str, index: int, tail: str) -> str:
        return (
            f'{head}{index},"delta":{{"role":"assistant","content":""}},'
            f'"logprobs":null,"finish_reason":null}}]{tail}'
        )

    def content(self, head: str, index: int, text: str, tail: str) -> str:
        return (
            f'{head}{index},"delta":{{"content":{json_text(text)}}},'
            f'"logprobs":null,"finish_reason":null}}]{tail}'
        )

    def finish(self, head: str, index: int, reason: str, tail: str) -> str:
        return f'{head}{index},"delta":{{}},"logprobs":null,"finish_reason":"{reason}"}}]{tail}'
