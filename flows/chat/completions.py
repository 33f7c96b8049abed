"""``POST /api/v1/chat/completions``: one chat round of any scene, always streamed.

The stream is DB-GPT's plain form by default (``data:<whole text so far>``, newlines as
``\\n``, no end marker), 0.8.2's full-message JSON with ``stream_format: "json"``, and
OpenAI deltas ending in ``data: [DONE]`` with ``incremental: true``. The scene runs as its
own flow (``flows/chat/scenes``); the round is stored once whole.
"""

from collections.abc import AsyncIterator

from awel import DAG, StreamifyAbsOperator
from awel.trigger import HttpTrigger
from flows.chat._service import v1_stream
from operators.chat.request import ConversationVo


class ChatRound(StreamifyAbsOperator[ConversationVo, bytes]):
    async def streamify(self, input_value: ConversationVo) -> AsyncIterator[bytes]:
        async for chunk in v1_stream(input_value):
            yield chunk


with DAG("chat_completions", description="Chat with a scene (DB-GPT's main chat route).") as dag:
    (
        HttpTrigger(
            path="/api/v1/chat/completions",
            methods="POST",
            request_body=ConversationVo,
            streaming_response=True,
            # DB-GPT's web client names its user in a header, which wins over the body.
            header_fields={"user-id": "user_name"},
            errors="result",
            summary="Chat completions (DB-GPT scenes)",
            tags=["Chat"],
            task_name="trigger",
        )
        >> ChatRound(task_name="round")
    )
