"""``POST /api/v2/chat/completions``: DB-GPT's v2 chat, OpenAI's body plus scene fields.

Unlike DB-GPT, the whole ``messages`` list is used (the last user message is the question,
the messages before it the history) and ``max_tokens`` is honoured. ``stream`` (default
false) picks a stream of OpenAI delta chunks ending in ``[DONE]`` (full-message chunks with
``incremental: false``) or one ``chat.completion`` object whose ``id`` is the conversation.
Errors are OpenAI's nested shape (``invalid_chat_mode``, ``invalid_chat_param``).
"""

from typing import Any

from awel import DAG, BranchOperator
from awel.operators import EitherJoin
from flows._route import Api
from flows.chat.scenes import SCENES
from operators.chat.request import V2ChatRequest
from operators.chat.round import AnswerRound, ChatRound, FrameRound, RunScene, SaveRound
from operators.chat.v2 import PrepareV2Round


def _streams(prepared: ChatRound) -> bool:
    return prepared.stream


def _answers(prepared: ChatRound) -> bool:
    return not prepared.stream


api = Api(tags=["Chat"], errors="openai", stream_errors="openai")

with DAG("chat_completions_v2", description="DB-GPT's v2 chat completions.") as dag:
    trigger = api.trigger(
        path="/api/v2/chat/completions",
        method="POST",
        body=V2ChatRequest,
        summary="Chat completions v2 (DB-GPT scenes, OpenAI's shapes)",
    )
    branch = BranchOperator[Any]({_streams: "stream", _answers: "answer"}, task_name="branch")
    out = EitherJoin(task_name="out")
    trigger >> PrepareV2Round(task_name="prepare") >> branch
    (
        branch
        >> RunScene(SCENES, task_name="stream")
        >> SaveRound(task_name="save_streamed")
        >> FrameRound(task_name="frame")
        >> out
    )
    (
        branch
        >> RunScene(SCENES, task_name="answer")
        >> SaveRound(task_name="save_answered")
        >> AnswerRound(task_name="answered")
        >> out
    )
