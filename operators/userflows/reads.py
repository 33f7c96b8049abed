"""What the flow API's reads do: one flow, pages of flows, a flow's versions, an export.

Each read first brings the store in step with the flows folder, so a file an editor
changed on disk is what the API answers.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from awel.trigger import FileAnswer
from operators.storage import MetadataStore, current_store
from operators.storage.flows import FlowVersion, StoredFlow

from .package import dbgpts_zip, package_name
from .panel import answer
from .requests import ExportQuery, FlowQuery, FlowUid, VersionsQuery
from .store_ops import lock, owned, synced

__all__ = ["chat_flows", "export", "get", "listing", "versions"]

#: The categories DB-GPT's chat lists (``GET /chat/flows``).
CHAT_CATEGORIES = ("chat_flow", "chat_agent")
_FILE_NAME = re.compile(r"[^\w.\-]")


def _page(items: list[dict[str, Any]], total: int, page: int, page_size: int) -> dict[str, Any]:
    return {
        "items": items,
        "total_count": total,
        "total_pages": math.ceil(total / page_size) if total else 0,
        "page": page,
        "page_size": page_size,
    }


async def get(body: FlowUid) -> dict[str, Any]:
    """One flow."""
    return answer(await _flow(body))


async def _flow(body: FlowUid) -> StoredFlow:
    return await owned(await _synced_store(), body.uid, body.user_name)


async def _synced_store() -> MetadataStore:
    store = current_store()
    async with lock(store):
        return await synced()


async def listing(body: FlowQuery, categories: tuple[str, ...] = ()) -> dict[str, Any]:
    """A page of flows, newest first."""
    store = await _synced_store()
    flows, total = await store.flows.list(
        user_name=body.user_name,
        sys_code=body.sys_code,
        name=body.name,
        uid=body.uid,
        categories=categories,
        page=body.page,
        page_size=body.page_size,
    )
    return _page([answer(f) for f in flows], total, body.page, body.page_size)


async def chat_flows(body: FlowQuery) -> dict[str, Any]:
    """A page of the flows DB-GPT's chat offers (chat_flow and chat_agent)."""
    return await listing(body, CHAT_CATEGORIES)


def _version(v: FlowVersion, current: int) -> dict[str, Any]:
    return {
        "uid": v.uid,
        "version": v.revision,
        "current": v.revision == current,
        "state": v.state,
        "note": v.note,
        "yaml": v.yaml,
        "gmt_created": v.gmt_created.strftime("%Y-%m-%d %H:%M:%S"),
    }


async def versions(body: VersionsQuery) -> dict[str, Any]:
    """A page of the flow's saved versions, newest first."""
    store = await _synced_store()
    flow = await owned(store, body.uid, body.user_name)
    found, total = await store.flows.versions(flow.uid, page=body.page, page_size=body.page_size)
    return _page([_version(v, flow.revision) for v in found], total, body.page, body.page_size)


async def export(body: ExportQuery) -> FileAnswer:
    """``{"flow": FlowPanel}`` as the answer itself (as DB-GPT, not in a ``Result``) or,
    with ``format=file``, as an attachment; ``export_type=dbgpts``: the flow as a dbgpts
    package, a zip attachment (:mod:`.package`)."""
    flow = await _flow(body)
    if body.export_type == "dbgpts":
        name = package_name(body.file_name.removesuffix(".zip") if body.file_name else flow.name)
        zipped = dbgpts_zip(flow, name)
        return FileAnswer(zipped, f"{name}.zip", media_type="application/zip")
    data = {"flow": answer(flow)}
    name = _FILE_NAME.sub("_", body.file_name or flow.name).lstrip(".") or "flow"
    if not name.endswith(".json"):
        name += ".json"
    content = json.dumps(data, ensure_ascii=False, indent=2).encode()
    return FileAnswer(content, name, inline=body.format == "json")
