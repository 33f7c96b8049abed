"""Conversations: a chat round written whole (the conversation and its messages), and the
conversations' listing (:attr:`MetadataStore.conversations`).

A round (:meth:`ConversationRepository.save_round`) touches the conversation's row first,
which takes its write lock (a row lock on PostgreSQL and MySQL, the database's write lock
on SQLite), so two rounds of one conversation never interleave their message numbers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from .paging import page_limit, page_offset
from .records import AI, HUMAN, VIEW, Conversation, NewMessage
from .tables import ConversationRow, MessageRow, now
from .tx import ATTEMPTS, Transaction, backoff, lost_race, rows_affected

__all__ = ["SUMMARY_CHARS", "ConversationRepository"]

#: DB-GPT keeps the first 250 characters of the first question as the summary.
SUMMARY_CHARS = 250


def _param_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _as_new(message: str | NewMessage, role: str) -> NewMessage:
    return NewMessage(role, message) if isinstance(message, str) else message


class ConversationRepository:
    """The conversations of one store; every method is one transaction."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def save_round(
        self,
        conv_uid: str,
        user_message: str | NewMessage,
        assistant_message: str | NewMessage,
        *,
        view_message: str | NewMessage | None = None,
        chat_mode: str = "chat_normal",
        user_name: str | None = None,
        sys_code: str | None = None,
        app_code: str | None = None,
        select_param: Any = None,
        model_name: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> int:
        """Store one chat round (the question, the answer, and its rendered view if any) in
        one transaction, creating the conversation on its first round. ``context`` is merged
        into every message's context (DB-GPT keeps ``param_type``, ``param_value`` there).
        Returns the round's index (1-based)."""
        messages = [_as_new(user_message, HUMAN), _as_new(assistant_message, AI)]
        if view_message is not None:
            messages.append(_as_new(view_message, VIEW))
        param = _param_text(select_param)
        for attempt in range(ATTEMPTS):
            try:
                async with self._tx() as s:
                    return await self._write_round(
                        s,
                        conv_uid,
                        messages,
                        chat_mode=chat_mode,
                        user_name=user_name,
                        sys_code=sys_code,
                        app_code=app_code,
                        select_param=param,
                        model_name=model_name,
                        context=context,
                    )
            except DBAPIError as exc:
                # Two first rounds of one new conversation raced to create it (a duplicate
                # key, or a deadlock on MySQL's gap locks): the loser tries again and finds
                # the row. Nothing of the lost attempt was kept.
                if attempt == ATTEMPTS - 1 or not lost_race(exc):
                    raise
                await backoff(attempt)
        raise AssertionError("unreachable")

    async def _write_round(
        self,
        s: AsyncSession,
        conv_uid: str,
        messages: Sequence[NewMessage],
        *,
        chat_mode: str,
        user_name: str | None,
        sys_code: str | None,
        app_code: str | None,
        select_param: str | None,
        model_name: str | None,
        context: dict[str, Any] | None,
    ) -> int:
        t = now()
        changes: dict[str, Any] = {"gmt_modified": t}
        if select_param is not None:
            changes["select_param"] = select_param
        if model_name is not None:
            changes["model_name"] = model_name
        # The write comes first: it takes the lock that orders concurrent rounds.
        touched = await s.execute(
            update(ConversationRow).where(ConversationRow.conv_uid == conv_uid).values(**changes)
        )
        first_question = messages[0].content
        if rows_affected(touched) == 0:
            s.add(
                ConversationRow(
                    conv_uid=conv_uid,
                    user_name=user_name,
                    sys_code=sys_code,
                    app_code=app_code,
                    chat_mode=chat_mode or "chat_normal",
                    summary=first_question[:SUMMARY_CHARS],
                    select_param=select_param,
                    model_name=model_name,
                    gmt_created=t,
                    gmt_modified=t,
                )
            )
            await s.flush()
        else:
            # A conversation created empty (by `ensure`) gets its summary now.
            await s.execute(
                update(ConversationRow)
                .where(ConversationRow.conv_uid == conv_uid, ConversationRow.summary == "")
                .values(summary=first_question[:SUMMARY_CHARS])
            )
        last = (
            await s.execute(
                select(func.max(MessageRow.idx), func.max(MessageRow.round_index)).where(
                    MessageRow.conv_uid == conv_uid
                )
            )
        ).one()
        idx = -1 if last[0] is None else last[0]
        round_index = (last[1] or 0) + 1
        for message in messages:
            idx += 1
            merged = {**(context or {}), **(message.context or {})}
            s.add(
                MessageRow(
                    conv_uid=conv_uid,
                    idx=idx,
                    round_index=round_index,
                    role=message.role,
                    content=message.content,
                    context=merged,
                    model_name=model_name,
                    gmt_created=t,
                )
            )
        await s.flush()
        return round_index

    async def ensure(
        self,
        conv_uid: str,
        *,
        chat_mode: str = "chat_normal",
        user_name: str | None = None,
        sys_code: str | None = None,
        app_code: str | None = None,
        select_param: Any = None,
        model_name: str | None = None,
    ) -> Conversation:
        """The conversation, created without messages if it does not exist yet (what a
        scene's prepare step needs, e.g. chat_excel recording its file)."""
        param = _param_text(select_param)
        for attempt in range(ATTEMPTS):
            try:
                async with self._tx() as s:
                    row = await s.scalar(
                        select(ConversationRow).where(ConversationRow.conv_uid == conv_uid)
                    )
                    if row is None:
                        t = now()
                        row = ConversationRow(
                            conv_uid=conv_uid,
                            user_name=user_name,
                            sys_code=sys_code,
                            app_code=app_code,
                            chat_mode=chat_mode or "chat_normal",
                            summary="",
                            select_param=param,
                            model_name=model_name,
                            gmt_created=t,
                            gmt_modified=t,
                        )
                        s.add(row)
                        await s.flush()
                    elif param is not None and row.select_param != param:
                        row.select_param = param
                        row.gmt_modified = now()
                    return _conversation(row, 0)
            except DBAPIError as exc:
                if attempt == ATTEMPTS - 1 or not lost_race(exc):
                    raise
                await backoff(attempt)
        raise AssertionError("unreachable")

    async def get(self, conv_uid: str) -> Conversation | None:
        async with self._tx() as s:
            row = await s.scalar(
                select(ConversationRow).where(ConversationRow.conv_uid == conv_uid)
            )
            if row is None:
                return None
            count = await s.scalar(
                select(func.count()).select_from(MessageRow).where(MessageRow.conv_uid == conv_uid)
            )
            return _conversation(row, count or 0)

    async def list(
        self,
        *,
        user_name: str | None = None,
        sys_code: str | None = None,
        chat_mode: str | None = None,
        conv_uid: str | None = None,
        page: int = 1,
        page_size: int = 10,
    ) -> tuple[list[Conversation], int]:
        """One page of conversations, most recently active first, and how many match."""
        where = []
        if user_name:
            where.append(ConversationRow.user_name == user_name)
        if sys_code:
            where.append(ConversationRow.sys_code == sys_code)
        if chat_mode:
            where.append(ConversationRow.chat_mode == chat_mode)
        if conv_uid:
            where.append(ConversationRow.conv_uid == conv_uid)
        page = max(page, 1)
        page_size = max(page_size, 1)
        async with self._tx() as s:
            total = await s.scalar(select(func.count()).select_from(ConversationRow).where(*where))
            rows = (
                await s.scalars(
                    select(ConversationRow)
                    .where(*where)
                    .order_by(ConversationRow.gmt_modified.desc(), ConversationRow.id.desc())
                    .offset(page_offset(page, page_size))
                    .limit(page_limit(page_size))
                )
            ).all()
            return [_conversation(r, 0) for r in rows], total or 0

    async def delete(self, conv_uid: str) -> bool:
        """Delete the conversation and its messages; False if there was none."""
        async with self._tx() as s:
            await s.execute(delete(MessageRow).where(MessageRow.conv_uid == conv_uid))
            gone = await s.execute(
                delete(ConversationRow).where(ConversationRow.conv_uid == conv_uid)
            )
            return bool(rows_affected(gone))


def _conversation(row: ConversationRow, count: int) -> Conversation:
    return Conversation(
        conv_uid=row.conv_uid,
        chat_mode=row.chat_mode,
        summary=row.summary or "",
        user_name=row.user_name,
        sys_code=row.sys_code,
        app_code=row.app_code,
        select_param=row.select_param,
        model_name=row.model_name,
        gmt_created=row.gmt_created,
        gmt_modified=row.gmt_modified,
        message_count=count,
    )
