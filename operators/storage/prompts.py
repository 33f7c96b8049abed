"""Stored prompts (:attr:`MetadataStore.prompts`): DB-GPT's ``prompt_manage``.

A prompt is a template a client saves once and names afterwards: by ``prompt_code`` in a
chat round (``ConversationVo.prompt_code``), by ``prompt_name`` in the prompt pages. Its
fields are DB-GPT's. A name is unique per system, language and model, as DB-GPT's unique
key says; that is checked here in the transaction rather than by the database, because
the three databases disagree on whether two NULLs collide. The table is declared here,
beside its only repository (a new table needs no migration step).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from .errors import PromptExists, UnknownPrompt
from .paging import page_limit, page_offset
from .tables import Base, _LongText, _Time, now
from .tx import Transaction, rows_affected

__all__ = ["FILTERS", "NewPrompt", "Prompt", "PromptRepository", "PromptRow"]


class PromptRow(Base):
    """One stored prompt template."""

    __tablename__ = "prompts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prompt_code: Mapped[str] = mapped_column(String(64), unique=True)
    prompt_name: Mapped[str] = mapped_column(String(256), index=True)
    content: Mapped[str] = mapped_column(_LongText)
    prompt_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    chat_scene: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sub_chat_scene: Mapped[str | None] = mapped_column(String(100), nullable=True)
    input_variables: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    response_schema: Mapped[str | None] = mapped_column(Text, nullable=True)
    model: Mapped[str | None] = mapped_column(String(128), nullable=True)
    prompt_language: Mapped[str | None] = mapped_column(String(32), nullable=True)
    prompt_format: Mapped[str | None] = mapped_column(String(32), nullable=True)
    prompt_desc: Mapped[str | None] = mapped_column(String(512), nullable=True)
    user_code: Mapped[str | None] = mapped_column(String(128), nullable=True)
    user_name: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    sys_code: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    gmt_created: Mapped[datetime] = mapped_column(_Time, default=now)
    gmt_modified: Mapped[datetime] = mapped_column(_Time, default=now, onupdate=now)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewPrompt:
    """A prompt as a client saves it (DB-GPT's ``ServeRequest`` fields)."""

    prompt_code: str
    prompt_name: str
    content: str
    prompt_type: str | None = None
    chat_scene: str | None = None
    sub_chat_scene: str | None = None
    input_variables: str | None = None
    response_schema: str | None = None
    model: str | None = None
    prompt_language: str | None = None
    prompt_format: str | None = "f-string"
    prompt_desc: str | None = None
    user_code: str | None = None
    user_name: str | None = None
    sys_code: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Prompt(NewPrompt):
    """A stored prompt."""

    id: int
    gmt_created: datetime
    gmt_modified: datetime


#: The fields a listing may filter on (each an exact match), DB-GPT's list query's.
FILTERS = (
    "prompt_code",
    "prompt_name",
    "prompt_type",
    "chat_scene",
    "sub_chat_scene",
    "model",
    "prompt_language",
    "user_code",
    "user_name",
    "sys_code",
)
_WRITTEN = tuple(f.name for f in dataclasses.fields(NewPrompt))


class PromptRepository:
    """The prompts of one store; every method is one transaction."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def add(self, new: NewPrompt) -> Prompt:
        """Store ``new``; :class:`PromptExists` when its name is taken (see the module)."""
        async with self._tx() as s:
            taken = await s.scalar(
                select(PromptRow.id).where(
                    PromptRow.prompt_name == new.prompt_name,
                    _same(PromptRow.sys_code, new.sys_code),
                    _same(PromptRow.prompt_language, new.prompt_language),
                    _same(PromptRow.model, new.model),
                )
            )
            if taken is not None:
                raise PromptExists(new.prompt_name)
            if await s.scalar(select(PromptRow.id).where(PromptRow.prompt_code == new.prompt_code)):
                raise PromptExists(new.prompt_name, code=new.prompt_code)
            row = PromptRow(**{name: getattr(new, name) for name in _WRITTEN})
            s.add(row)
            await s.flush()
            return _prompt(row)

    async def update(self, prompt_code: str, changes: Mapping[str, Any]) -> Prompt:
        """Set ``changes`` (fields of :class:`NewPrompt`) on the prompt of that code."""
        async with self._tx() as s:
            row = await s.scalar(select(PromptRow).where(PromptRow.prompt_code == prompt_code))
            if row is None:
                raise UnknownPrompt(prompt_code)
            for name, value in changes.items():
                if name in _WRITTEN and name != "prompt_code":
                    setattr(row, name, value)
            row.gmt_modified = now()
            await s.flush()
            return _prompt(row)

    async def get(self, prompt_code: str) -> Prompt | None:
        async with self._tx() as s:
            row = await s.scalar(select(PromptRow).where(PromptRow.prompt_code == prompt_code))
            return None if row is None else _prompt(row)

    async def list(
        self, filters: Mapping[str, str] | None = None, *, page: int = 1, page_size: int = 100
    ) -> tuple[list[Prompt], int]:
        """A page of the prompts matching every filter (:data:`FILTERS`), oldest first."""
        query = select(PromptRow)
        for name, value in (filters or {}).items():
            if name in FILTERS:
                query = query.where(getattr(PromptRow, name) == value)
        async with self._tx() as s:
            total = await s.scalar(select(func.count()).select_from(query.subquery()))
            rows = await s.scalars(
                query.order_by(PromptRow.id)
                .offset(page_offset(page, page_size))
                .limit(page_limit(page_size))
            )
            return [_prompt(r) for r in rows.all()], int(total or 0)

    async def delete(self, prompt_name: str, sys_code: str | None = None) -> int:
        """Delete the prompts of that name (in that system, when given); how many."""
        query = delete(PromptRow).where(PromptRow.prompt_name == prompt_name)
        if sys_code is not None:
            query = query.where(PromptRow.sys_code == sys_code)
        async with self._tx() as s:
            return rows_affected(await s.execute(query))


def _same(column: Any, value: str | None) -> Any:
    return column.is_(None) if value is None else column == value


def _prompt(row: PromptRow) -> Prompt:
    return Prompt(
        id=row.id,
        gmt_created=row.gmt_created,
        gmt_modified=row.gmt_modified,
        **{name: getattr(row, name) for name in _WRITTEN},
    )
