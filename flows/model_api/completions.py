"""``POST /api/v1/completions``: OpenAI's (legacy) text completions, whole or streamed.

A prompt is continued as it is, without the chat template; ``prompt`` may be a list.
"""

from __future__ import annotations

from flows.model_api._api import generation_flow
from operators.openai.completions import CompletionAnswer, CompletionChunks, CompletionRequests
from operators.openai.requests import CompletionRequest

dag = generation_flow(
    dag_id="openai_completions",
    description="OpenAI's text completions.",
    path="/api/v1/completions",
    body=CompletionRequest,
    summary="Text completion",
    requests=CompletionRequests,
    chunks=CompletionChunks,
    answer=CompletionAnswer,
)
