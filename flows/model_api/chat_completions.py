"""``POST /api/v1/chat/completions``: OpenAI's chat completions, whole or streamed
(``chat.completion`` or ``chat.completion.chunk`` events)."""

from __future__ import annotations

from flows.model_api._api import generation_flow
from operators.openai.chat import ChatAnswer, ChatChunks, ChatRequests
from operators.openai.requests import ChatCompletionRequest

dag = generation_flow(
    dag_id="openai_chat_completions",
    description="OpenAI's chat completions.",
    path="/api/v1/chat/completions",
    body=ChatCompletionRequest,
    summary="Chat completion",
    requests=ChatRequests,
    chunks=ChatChunks,
    answer=ChatAnswer,
)
