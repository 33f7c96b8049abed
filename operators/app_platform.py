"""DB-GPT's app platform, which awel does not serve: apps, skills, connectors, scheduled
tasks and evaluation.

DB-GPT 0.8.2's newer web UI opens these pages too. So that each loads with an empty state
rather than an error, their listing routes answer an empty list or page, in the shape the
UI reads, and their actions answer a failure envelope saying that awel does not support
them (``platform.not_supported``, answered with HTTP 200 as DB-GPT answers its own
failures, so the UI shows the message rather than a broken page).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from awel.errors import AwelError

__all__ = [
    "Anything",
    "NotSupported",
    "PageQuery",
    "empty_app_page",
    "empty_list",
    "empty_page",
    "not_supported",
]


class NotSupported(AwelError):
    """A feature of DB-GPT's app platform that awel does not have."""

    def __init__(self, feature: str) -> None:
        super().__init__(
            f"{feature} are part of DB-GPT's app platform, which awel does not support",
            code="platform.not_supported",
        )


class PageQuery(BaseModel):
    """A page asked of a listing; other filters the UI sends are accepted and ignored,
    since every listing here is empty."""

    model_config = ConfigDict(extra="ignore")

    page: int = Field(1, ge=1)
    page_size: int = Field(20, ge=1, le=1000)


class Anything(BaseModel):
    """The body of an action we refuse: whatever the UI sends."""

    model_config = ConfigDict(extra="allow")


async def empty_list(_: Any) -> list[Any]:
    """Nothing, as a plain list."""
    return []


async def empty_page(query: PageQuery) -> dict[str, Any]:
    """Nothing, as DB-GPT's ``PaginationResult``."""
    return {
        "items": [],
        "total_count": 0,
        "total_pages": 0,
        "page": query.page,
        "page_size": query.page_size,
    }


async def empty_app_page(query: PageQuery) -> dict[str, Any]:
    """Nothing, as DB-GPT's app list page (``app_list``)."""
    return {"app_list": [], "current_page": query.page, "total_count": 0, "total_page": 0}


def not_supported(feature: str) -> Any:
    """An action that answers :class:`NotSupported` for ``feature`` (plural, for people)."""

    async def refuse(_: Anything) -> None:
        raise NotSupported(feature)

    refuse.__doc__ = f"Refused: {feature} are not supported."
    return refuse
