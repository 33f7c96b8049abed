"""``POST /api/v2/chat/completions``: DB-GPT's v2 chat, OpenAI's body plus scene fields.

Unlike DB-GPT, the whole ``messages`` list is used (the last user message is the question,
the messages before it the history) and ``max_tokens`` is honoured. ``stream`` (default
false) picks a stream of OpenAI delta chunks ending in ``[DONE]`` (full-message chunks with
``incremental: false``) or one ``chat.completion`` object whose ``id`` is the conversation.
Errors are OpenAI's nested shape (``invalid_chat_mode``, ``invalid_chat_param``).
"""

from collections.abc import AsyncIterator
from typing import Any

from awel import DAG, BranchOperator, MapOperator, StreamifyAbsOperator
from awel.operators import EitherJoin
from awel.trigger import HttpTrigger
from flows.chat._service import V2Call, v2_answer, v2_call, v2_stream
from operators.chat.request import V2ChatRequest


class Prepare(MapOperator[V2ChatRequest, V2Call]):
    async def map(self, input_value: V2ChatRequest) -> V2Call:
        return await v2_call(input_value)


class Streamed(StreamifyAbsOperator[V2Call, bytes]):
    async def streamify(self, input_value: V2Call) -> AsyncIterator[bytes]:
        async for chunk in v2_stream(input_value):
            yield chunk


class Answered(MapOperator[V2Call, dict[str, Any]]):
    async def map(self, input_value: V2Call) -> dict[str, Any]:
        return await v2_answer(input_value)


def _streams(prepared: Any) -> bool:
    return bool(prepared.stream)


def _answers(prepared: Any) -> bool:
    return not prepared.stream


with DAG("chat_completions_v2", description="DB-GPT's v2 chat completions.") as dag:
    trigger = HttpTrigger(
        path="/api/v2/chat/completions",
        methods="POST",
        request_body=V2ChatRequest,
        errors="openai",
        stream_errors="openai",
        summary="Chat completions v2 (DB-GPT scenes, OpenAI's shapes)",
        tags=["Chat"],
        task_name="trigger",
    )
    prepare = Prepare(task_name="prepare")
    branch = BranchOperator[Any]({_streams: "stream", _answers: "answer"}, task_name="branch")
    join = EitherJoin(task_name="out")
    trigger >> prepare >> branch
    branch >> Streamed(task_name="stream") >> join
    branch >> Answered(task_name="answer") >> join
