"""DB-GPT's agent hub routes: one async function each, answers in DB-GPT 0.8.2's shapes.

``installed`` is the entry's install count, which installing keeps (``store.agent_hub.
count_install``).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from operators.storage import HubEntry, current_store

from .hub import CHANNELS, HubSource, check_source, sync_hub
from .hub_requests import AgentQuery, DbgptsHubQuery, HubUpdate

__all__ = ["agent_query", "dbgpts_hub_query_page", "dbgpts_source_refresh", "hub_update"]


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _vo(entry: HubEntry) -> dict[str, Any]:
    """``PluginHubVO``."""
    return {
        "id": entry.id,
        "name": entry.name,
        "description": entry.description,
        "author": entry.author,
        "email": entry.email,
        "type": entry.type,
        "version": entry.version,
        "storage_channel": entry.storage_channel,
        "storage_url": entry.storage_url,
        "download_param": entry.download_param,
        "installed": entry.installed,
        "gmt_created": _time(entry.gmt_created),
    }


async def hub_update(body: HubUpdate | None) -> None:
    """Sync the hub the body names (a url with channel git or local), else the configured
    one; answers nothing, as DB-GPT's (skipped folders are logged)."""
    source = None
    if body is not None and body.url:
        source = HubSource(body.channel or "git", body.url, body.branch)
    elif body is not None and body.channel and body.channel not in CHANNELS:
        # No url: the configured hub, but a channel that is no channel is still refused.
        check_source(HubSource(body.channel, ""))
    await sync_hub(current_store(), source)


async def agent_query(body: AgentQuery) -> dict[str, Any]:
    filters = body.filter.model_dump(exclude_none=True) if body.filter else {}
    entries, total = await current_store().agent_hub.list(
        filters=filters, page=body.page_index, page_size=body.page_size
    )
    return {
        "page_index": body.page_index,
        "page_size": body.page_size,
        "total_page": math.ceil(total / body.page_size) if total else 0,
        "total_row_count": total,
        "datas": [_vo(e) for e in entries],
    }


async def dbgpts_hub_query_page(body: DbgptsHubQuery) -> dict[str, Any]:
    """dbgpts' ``PaginationResult[ServerResponse]``."""
    filters = body.model_dump(exclude_none=True, exclude={"page", "page_size"})
    entries, total = await current_store().agent_hub.list(
        filters=filters, page=body.page, page_size=body.page_size
    )
    items = [{**_vo(e), "gmt_modified": _time(e.gmt_modified)} for e in entries]
    return {
        "items": items,
        "total_count": total,
        "total_pages": math.ceil(total / body.page_size) if total else 0,
        "page": body.page,
        "page_size": body.page_size,
    }


async def dbgpts_source_refresh(_: None) -> None:
    """Sync the configured hub."""
    await sync_hub(current_store())
