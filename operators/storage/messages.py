"""The messages of conversations: read, cleared, rewritten (:attr:`MetadataStore.messages`).

Messages are written with their round (:meth:`ConversationRepository.save_round
<operators.storage.conversations.ConversationRepository.save_round>`); their versions
are :mod:`operators.storage.versions`'.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from .records import Message
from .tables import ConversationRow, MessageRow, now
from .tx import Transaction, rows_affected

__all__ = ["MessageRepository"]


class MessageRepository:
    """The messages of one store's conversations; every method is one transaction."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def clear(self, conv_uid: str) -> int:
        """Delete the conversation's messages, keep the conversation; how many went."""
        async with self._tx() as s:
            gone = await s.execute(delete(MessageRow).where(MessageRow.conv_uid == conv_uid))
            await s.execute(
                update(ConversationRow)
                .where(ConversationRow.conv_uid == conv_uid)
                .values(gmt_modified=now())
            )
            return rows_affected(gone)

    async def list(self, conv_uid: str, *, round_index: int | None = None) -> list[Message]:
        """The conversation's messages in order (one round's, if ``round_index``)."""
        query = select(MessageRow).where(MessageRow.conv_uid == conv_uid)
        if round_index is not None:
            query = query.where(MessageRow.round_index == round_index)
        async with self._tx() as s:
            rows = (await s.scalars(query.order_by(MessageRow.idx))).all()
            return [_message(r) for r in rows]

    async def update(
        self,
        conv_uid: str,
        round_index: int,
        role: str,
        *,
        content: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> bool:
        """Rewrite a stored message of a round (the SQL editor saves edited SQL this way)."""
        changes: dict[str, Any] = {}
        if content is not None:
            changes["content"] = content
        if context is not None:
            changes["context"] = context
        if not changes:
            return False
        async with self._tx() as s:
            done = await s.execute(
                update(MessageRow)
                .where(
                    MessageRow.conv_uid == conv_uid,
                    MessageRow.round_index == round_index,
                    MessageRow.role == role,
                )
                .values(**changes)
            )
            return bool(rows_affected(done))


def _message(row: MessageRow) -> Message:
    return Message(
        conv_uid=row.conv_uid,
        index=row.idx,
        round_index=row.round_index,
        role=row.role,
        content=row.content,
        context=dict(row.context or {}),
        model_name=row.model_name,
        gmt_created=row.gmt_created,
    )
