"""Feedback on a chat round (:attr:`MetadataStore.feedback`): DB-GPT's ``chat_feed_back``.

One row per round (``conv_uid``, ``conv_index``), as DB-GPT keeps it: a second commit for
the same round replaces the first. The rows go with their conversation: deleting the
conversation deletes its feedback (:meth:`FeedbackRepository.forget`). Its table is
declared here, beside its only repository (a new table needs no migration step).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from .tables import Base, _Time, now
from .tx import Transaction, rows_affected

__all__ = ["Feedback", "FeedbackRepository", "FeedbackRow", "NewFeedback"]


class FeedbackRow(Base):
    """A user's rating of one round of a conversation."""

    __tablename__ = "chat_feedback"
    __table_args__ = (UniqueConstraint("conv_uid", "conv_index", name="uq_chat_feedback"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conv_uid: Mapped[str] = mapped_column(String(128), index=True)
    conv_index: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    ques_type: Mapped[str] = mapped_column(String(64), default="")
    question: Mapped[str] = mapped_column(Text, default="")
    knowledge_space: Mapped[str | None] = mapped_column(String(128), nullable=True)
    messages: Mapped[str | None] = mapped_column(Text, nullable=True)
    remark: Mapped[str | None] = mapped_column(Text, nullable=True)
    user_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    gmt_created: Mapped[datetime] = mapped_column(_Time, default=now)
    gmt_modified: Mapped[datetime] = mapped_column(_Time, default=now, onupdate=now)


@dataclass(frozen=True, slots=True)
class NewFeedback:
    """What a client commits about a round."""

    conv_uid: str
    conv_index: int
    score: int
    ques_type: str = ""
    question: str = ""
    knowledge_space: str | None = None
    messages: str | None = None
    remark: str | None = None
    user_name: str | None = None


@dataclass(frozen=True, slots=True)
class Feedback(NewFeedback):
    """Stored feedback."""

    id: int = 0
    gmt_created: datetime | None = None
    gmt_modified: datetime | None = None


class FeedbackRepository:
    """The feedback of one store; every method is one transaction."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def put(self, new: NewFeedback) -> Feedback:
        """Store ``new`` for its round, replacing what was committed for it before."""
        async with self._tx() as s:
            row = await s.scalar(
                select(FeedbackRow).where(
                    FeedbackRow.conv_uid == new.conv_uid,
                    FeedbackRow.conv_index == new.conv_index,
                )
            )
            if row is None:
                row = FeedbackRow(conv_uid=new.conv_uid, conv_index=new.conv_index)
                s.add(row)
            row.score, row.ques_type, row.question = new.score, new.ques_type, new.question
            row.knowledge_space, row.messages = new.knowledge_space, new.messages
            row.remark, row.user_name = new.remark, new.user_name
            row.gmt_modified = now()
            await s.flush()
            return _feedback(row)

    async def get(self, conv_uid: str, conv_index: int) -> Feedback | None:
        async with self._tx() as s:
            row = await s.scalar(
                select(FeedbackRow).where(
                    FeedbackRow.conv_uid == conv_uid, FeedbackRow.conv_index == conv_index
                )
            )
            return None if row is None else _feedback(row)

    async def of_conversation(self, conv_uid: str) -> dict[int, Feedback]:
        """The conversation's feedback by round."""
        async with self._tx() as s:
            rows = await s.scalars(select(FeedbackRow).where(FeedbackRow.conv_uid == conv_uid))
            return {r.conv_index: _feedback(r) for r in rows.all()}

    async def forget(self, conv_uid: str) -> int:
        """Delete the conversation's feedback; how many rounds had some."""
        async with self._tx() as s:
            gone = await s.execute(delete(FeedbackRow).where(FeedbackRow.conv_uid == conv_uid))
            return rows_affected(gone)


def _feedback(row: FeedbackRow) -> Feedback:
    return Feedback(
        id=row.id,
        conv_uid=row.conv_uid,
        conv_index=row.conv_index,
        score=row.score,
        ques_type=row.ques_type,
        question=row.question,
        knowledge_space=row.knowledge_space,
        messages=row.messages,
        remark=row.remark,
        user_name=row.user_name,
        gmt_created=row.gmt_created,
        gmt_modified=row.gmt_modified,
    )
