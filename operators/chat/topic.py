"""DB-GPT's ``POST /api/v1/chat/topic/terminate``: stop a conversation's running round.

An awel round runs inside its response stream, and stops when the client closes it (the
web UI's stop button does); nothing of a round runs on past its stream. So terminating a
known conversation has nothing left to stop and answers success, as DB-GPT does once its
agents stopped; an unknown one is DB-GPT's failure ``E0102`` naming it.
"""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, Field

from awel.errors import AwelError
from operators.storage import current_store

__all__ = ["TopicQuery", "UnknownTopic", "terminate"]


class TopicQuery(BaseModel):
    conv_id: str = Field(
        ...,
        min_length=1,
        max_length=128,
        validation_alias=AliasChoices("conv_id", "conv_uid"),
        description="The conversation.",
    )
    round_index: int = Field(..., ge=0, description="The round to stop.")


class UnknownTopic(AwelError):
    """No conversation has that id."""

    code = "chat.topic_not_found"

    def __init__(self, conv_id: str) -> None:
        super().__init__(f"no conversation '{conv_id}' (conv_id)", param="conv_id")


async def terminate(q: TopicQuery) -> None:
    if await current_store().conversations.get(q.conv_id) is None:
        raise UnknownTopic(q.conv_id)
