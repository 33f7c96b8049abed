"""Versions of a chat round: an edit of a stored round keeps what it replaced.

The SQL and chart editors rewrite a round's ``ai`` message (the model's JSON answer) and its
``view`` (the rendered output). :func:`edit_round` does it in one transaction and keeps the
previous content of every message it changes in ``message_versions``; :func:`undo_edit`
puts the last edit's previous contents back and forgets that edit; :func:`round_history`
lists every version of the round, oldest first, the current one last.

    >>> await edit_round(store, conv_uid, 2, {"ai": new_json, "view": new_view},
    ...                  note="sql editor")  # doctest: +SKIP
    2
    >>> await undo_edit(store, conv_uid, 2)  # doctest: +SKIP
    1

Versions count from 1 (what the chat stored); each edit that changes something adds one,
each undo takes the last one away. An undo is not an edit of its own, so there is no redo:
the undone content is gone. Like a round (``store.conversations.save_round``), an edit or
an undo first writes the conversation's row, which takes its write lock, so two edits of
one round never interleave and never share an edit number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from awel.errors import AwelError

from .tables import ConversationRow, MessageRow, MessageVersionRow, now

if TYPE_CHECKING:
    from .store import MetadataStore

__all__ = [
    "NothingToUndo",
    "RoundVersion",
    "UnknownRound",
    "edit_round",
    "round_history",
    "undo_edit",
]


class UnknownRound(AwelError):
    """The conversation has no such round (or no message of the roles asked for)."""

    code = "round.not_found"

    def __init__(self, conv_uid: str, round_index: int, *, field: str = "round") -> None:
        super().__init__(
            f"conversation '{conv_uid}' has no round {round_index} ({field}); list its rounds"
            " with GET /api/v1/editor/sql/rounds?con_uid=...",
            param=field,
        )


class NothingToUndo(AwelError):
    """The round was never edited, or every edit was undone already."""

    code = "round.nothing_to_undo"

    def __init__(self, conv_uid: str, round_index: int) -> None:
        super().__init__(
            f"round {round_index} of conversation '{conv_uid}' has no edit to undo (round);"
            " it is as the chat stored it",
            param="round",
        )


@dataclass(frozen=True, slots=True)
class RoundVersion:
    """One version of a round: each message's content as it was then."""

    #: 1 is what the chat stored; the highest is the current one.
    version: int
    current: bool
    #: role -> content, for the round's messages (human, ai, view).
    messages: dict[str, str]
    #: The note of the edit that made this version ("" for version 1).
    note: str
    #: When this version was made (the round's time for version 1, else its edit's).
    gmt_created: datetime


async def _lock(s: AsyncSession, conv_uid: str) -> None:
    # A write that changes nothing still takes the row's lock (the database's write lock on
    # SQLite), which orders concurrent edits of the conversation.
    await s.execute(
        update(ConversationRow)
        .where(ConversationRow.conv_uid == conv_uid)
        .values(conv_uid=ConversationRow.conv_uid)
    )


async def _round(s: AsyncSession, conv_uid: str, round_index: int) -> dict[str, MessageRow]:
    rows = (
        await s.scalars(
            select(MessageRow)
            .where(MessageRow.conv_uid == conv_uid, MessageRow.round_index == round_index)
            .order_by(MessageRow.idx)
        )
    ).all()
    # One message per role in a round; should there be more, the last one is the answer.
    return {row.role: row for row in rows}


async def _last_edit(s: AsyncSession, conv_uid: str, round_index: int) -> int:
    found = await s.scalar(
        select(func.max(MessageVersionRow.edit)).where(
            MessageVersionRow.conv_uid == conv_uid, MessageVersionRow.round_index == round_index
        )
    )
    return int(found or 0)


async def edit_round(
    store: MetadataStore,
    conv_uid: str,
    round_index: int,
    contents: Mapping[str, str],
    *,
    note: str = "",
) -> int:
    """Replace the content of the round's messages named in ``contents`` (role -> new
    content), keeping their previous contents as one edit; returns the version now current.

    Roles the round has no message of are left out; :class:`UnknownRound` when the round has
    none of them. Contents equal to the stored ones are not an edit.
    """
    async with store._tx() as s:
        await _lock(s, conv_uid)
        messages = await _round(s, conv_uid, round_index)
        if not any(role in messages for role in contents):
            raise UnknownRound(conv_uid, round_index)
        changed = {
            role: content
            for role, content in contents.items()
            if role in messages and messages[role].content != content
        }
        last = await _last_edit(s, conv_uid, round_index)
        if not changed:
            return last + 1
        edit, t = last + 1, now()
        for role, content in changed.items():
            row = messages[role]
            s.add(
                MessageVersionRow(
                    message_id=row.id,
                    conv_uid=conv_uid,
                    round_index=round_index,
                    role=role,
                    edit=edit,
                    content=row.content,
                    context=row.context,
                    note=note[:255],
                    gmt_created=t,
                )
            )
            row.content = content
        await s.flush()
        return edit + 1


async def undo_edit(store: MetadataStore, conv_uid: str, round_index: int) -> int:
    """Put back what the round's last edit replaced; returns the version now current.
    :class:`UnknownRound` for a round that does not exist, :class:`NothingToUndo` for one
    that has no edit left."""
    async with store._tx() as s:
        await _lock(s, conv_uid)
        if not await _round(s, conv_uid, round_index):
            raise UnknownRound(conv_uid, round_index)
        last = await _last_edit(s, conv_uid, round_index)
        if last == 0:
            raise NothingToUndo(conv_uid, round_index)
        saved = (
            await s.scalars(
                select(MessageVersionRow).where(
                    MessageVersionRow.conv_uid == conv_uid,
                    MessageVersionRow.round_index == round_index,
                    MessageVersionRow.edit == last,
                )
            )
        ).all()
        for version in saved:
            message = await s.get(MessageRow, version.message_id)
            if message is not None:
                message.content = version.content
                message.context = version.context
        await s.execute(
            delete(MessageVersionRow).where(
                MessageVersionRow.id.in_([version.id for version in saved])
            )
        )
        return last


async def round_history(
    store: MetadataStore, conv_uid: str, round_index: int
) -> list[RoundVersion]:
    """Every version of the round, oldest first; the last is the current one.
    :class:`UnknownRound` for a round that does not exist."""
    async with store._tx() as s:
        messages = await _round(s, conv_uid, round_index)
        if not messages:
            raise UnknownRound(conv_uid, round_index)
        saved = (
            await s.scalars(
                select(MessageVersionRow)
                .where(
                    MessageVersionRow.conv_uid == conv_uid,
                    MessageVersionRow.round_index == round_index,
                )
                .order_by(MessageVersionRow.edit, MessageVersionRow.id)
            )
        ).all()
    last = max((v.edit for v in saved), default=0)
    edits: dict[int, MessageVersionRow] = {}
    for v in saved:
        edits.setdefault(v.edit, v)
    first = min(m.gmt_created for m in messages.values())
    history = []
    for version in range(1, last + 2):
        contents = {}
        for role, message in messages.items():
            # The content a message had at a version is the one the next edit of that
            # message replaced; a message not edited since is as it is now.
            later = [v for v in saved if v.role == role and v.edit >= version]
            contents[role] = later[0].content if later else message.content
        made_by = edits.get(version - 1)
        history.append(
            RoundVersion(
                version=version,
                current=version == last + 1,
                messages=contents,
                note=made_by.note if made_by is not None else "",
                gmt_created=made_by.gmt_created if made_by is not None else first,
            )
        )
    return history
