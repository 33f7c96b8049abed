"""``POST /api/v1/chat/completions``: OpenAI's chat completions, whole or streamed
(``chat.completion`` or ``chat.completion.chunk`` events)."""

from __future__ import annotations

from awel import DAG
from flows.model_api._api import api, generation
from operators.openai.chat import ChatAnswer, ChatChunks, ChatRequests
from operators.openai.requests import ChatCompletionRequest

with DAG("openai_chat_completions", description="OpenAI's chat completions.") as dag:
    trigger = api.trigger(
        path="/api/v1/chat/completions",
        method="POST",
        body=ChatCompletionRequest,
        summary="Chat completion",
    )
    generation(trigger, requests=ChatRequests, chunks=ChatChunks, answer=ChatAnswer)
