"""OpenAI's (legacy) text completions: the body as engine requests, and the answers written
whole or streamed (``text_completion``).

A prompt is continued as it is, without the chat template. ``prompt`` may be a list: each
prompt gets ``n`` answers, choice ``i * n + j`` being prompt ``i``'s answer ``j``.
"""

from __future__ import annotations

from typing import Any

from awel import MapOperator
from operators.llm.types import Completion, GenerationRequest
from operators.models import current_models

from .answers import AnswerWriter, ChunkWriter, finish_reason, json_text
from .requests import CompletionRequest, note_ignored

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


class CompletionAnswer(AnswerWriter):
    """The whole answers as one ``text_completion`` object."""

    def choice(self, index: int, completion: Completion) -> dict[str, Any]:
        return {
            "index": index,
            "text": completion.text,
            "logprobs": None,
            "finish_reason": finish_reason(completion.finish_reason),
        }


class CompletionChunks(ChunkWriter):
    """``text_completion`` events (the legacy completions stream)."""

    def answers(self, body: Any) -> int:
        prompts = 1 if isinstance(body.prompt, str) else len(body.prompt)
        return prompts * int(body.n)

    def content(self, head: str, index: int, text: str, tail: str) -> str:
        return (
            f'{head}{index},"text":{json_text(text)},"logprobs":null,"finish_reason":null}}]{tail}'
        )

    def finish(self, head: str, index: int, reason: str, tail: str) -> str:
        return f'{head}{index},"text":"","logprobs":null,"finish_reason":"{reason}"}}]{tail}'
