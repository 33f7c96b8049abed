"""What DB-GPT's feedback routes do: the question kinds to choose from, committing a rating
of a round, and finding it again.

A rating belongs to a round that exists: committing one for a conversation or round that
was never stored is refused, naming the field (DB-GPT stored it anyway). Who may rate a
round is whoever may read it: like the conversation's messages, it is reached by its
``conv_uid`` (docs/security.md).
"""

from __future__ import annotations

from typing import Any

from awel.errors import AwelError
from operators.storage import Feedback, NewFeedback, current_store

from .requests import FeedbackBody, FeedbackQuery

__all__ = ["QUESTION_TYPES", "UnknownRound", "answer", "commit", "find", "select"]

#: The kinds of question a rating names (``ques_type``), DB-GPT's keys.
QUESTION_TYPES = {
    "information": "Information lookup",
    "work_study": "Work and study",
    "just_fun": "Just for fun",
    "others": "Other",
}


class UnknownRound(AwelError):
    """The rating names a conversation or round that was never stored."""

    code = "feedback.round_not_found"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message, param=field)


def answer(f: Feedback) -> dict[str, Any]:
    """DB-GPT's ``FeedBackBody`` (with our ``remark``)."""
    return {
        "conv_uid": f.conv_uid,
        "conv_index": f.conv_index,
        "question": f.question,
        "knowledge_space": f.knowledge_space,
        "score": f.score,
        "ques_type": f.ques_type,
        "messages": f.messages,
        "remark": f.remark,
        "user_name": f.user_name,
    }


async def select(_: Any) -> dict[str, str]:
    return dict(QUESTION_TYPES)


async def commit(body: FeedbackBody) -> bool:
    store = current_store()
    conv = await store.conversations.get(body.conv_uid)
    if conv is None:
        raise UnknownRound(f"no conversation '{body.conv_uid}' (conv_uid)", "conv_uid")
    if not await store.messages.list(body.conv_uid, round_index=body.conv_index):
        raise UnknownRound(
            f"conversation '{body.conv_uid}' has no round {body.conv_index} (conv_index)",
            "conv_index",
        )
    await store.feedback.put(NewFeedback(**body.model_dump()))
    return True


async def find(q: FeedbackQuery) -> dict[str, Any] | None:
    found = await current_store().feedback.get(q.conv_uid, q.conv_index)
    return None if found is None else answer(found)
