"""``POST /api/v1/completions``: OpenAI's (legacy) text completions, whole or streamed.

A prompt is continued as it is, without the chat template; ``prompt`` may be a list.
"""

from __future__ import annotations

from awel import DAG
from flows.model_api._api import api, generation
from operators.openai.completions import CompletionAnswer, CompletionChunks, CompletionRequests
from operators.openai.requests import CompletionRequest

with DAG("openai_completions", description="OpenAI's text completions.") as dag:
    trigger = api.trigger(
        path="/api/v1/completions", method="POST", body=CompletionRequest, summary="Text completion"
    )
    generation(
        trigger, requests=CompletionRequests, chunks=CompletionChunks, answer=CompletionAnswer
    )
