"""Conversations as DB-GPT's dialogue API answers them: one async function per route.

Conversations are answered as DB-GPT's conversation ``ServerResponse``, messages as its
``MessageVo``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from typing import Any

from awel.trigger import FileAnswer
from operators.chat.scenes import scene, scene_list
from operators.chat.session import message_vos
from operators.storage import Conversation, current_store

from .requests import ConvQuery, ExportQuery, HistoryQuery, ListQuery, NewQuery, QueryBody

__all__ = [
    "clear",
    "delete",
    "export_messages",
    "list_dialogues",
    "messages",
    "new",
    "query",
    "query_page",
    "scenes",
    "server_response",
]


def _time(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else None


def server_response(conv: Conversation, *, user_name: str | None = None) -> dict[str, Any]:
    """DB-GPT's conversation ``ServerResponse``."""
    return {
        "conv_uid": conv.conv_uid,
        "user_input": conv.summary,
        "chat_mode": conv.chat_mode,
        "app_code": conv.app_code,
        "select_param": conv.select_param,
        "model_name": conv.model_name,
        "user_name": conv.user_name or "" if user_name is None else user_name,
        "sys_code": conv.sys_code,
        "gmt_created": _time(conv.gmt_created),
        "gmt_modified": _time(conv.gmt_modified),
    }


async def list_dialogues(q: ListQuery) -> list[dict[str, Any]]:
    found, _ = await current_store().conversations.list(
        user_name=q.user_name or q.user_id, sys_code=q.sys_code, page=q.page, page_size=q.page_size
    )
    return [server_response(c, user_name="") for c in found]


async def new(q: NewQuery) -> dict[str, Any]:
    """A fresh conversation id; nothing is stored until its first round."""
    mode = scene(q.chat_mode).code
    return {
        "conv_uid": str(uuid.uuid1()),
        "user_input": "",
        "chat_mode": mode,
        "app_code": q.app_code,
        "select_param": None,
        "model_name": None,
        "user_name": q.user_name or q.user_id or "",
        "sys_code": q.sys_code,
        "gmt_created": None,
        "gmt_modified": None,
    }


async def delete(q: ConvQuery) -> None:
    store = current_store()
    await store.conversations.delete(q.uid)
    # Its rounds' ratings go with it (they name rounds that no longer exist).
    await store.feedback.forget(q.uid)


async def clear(q: ConvQuery) -> None:
    store = current_store()
    await store.messages.clear(q.uid)
    await store.feedback.forget(q.uid)


async def messages(q: HistoryQuery) -> list[dict[str, Any]]:
    if not q.uid:
        return []
    return message_vos(await current_store().messages.list(q.uid))


async def scenes(_: Any) -> list[dict[str, Any]]:
    return scene_list()


async def query(body: QueryBody) -> dict[str, Any] | None:
    found, _ = await current_store().conversations.list(
        user_name=body.user_name,
        sys_code=body.sys_code,
        chat_mode=body.chat_mode,
        conv_uid=body.conv_uid,
        page=1,
        page_size=1,
    )
    return server_response(found[0]) if found else None


async def query_page(body: QueryBody) -> dict[str, Any]:
    found, total = await current_store().conversations.list(
        user_name=body.user_name,
        sys_code=body.sys_code,
        chat_mode=body.chat_mode,
        conv_uid=body.conv_uid,
        page=body.page,
        page_size=body.page_size,
    )
    return {
        "items": [server_response(c) for c in found],
        "total_count": total,
        "total_pages": math.ceil(total / body.page_size) if total else 0,
        "page": body.page,
        "page_size": body.page_size,
    }


async def export_messages(q: ExportQuery) -> FileAnswer:
    """Every conversation of the user (or all) with its messages, as one JSON document."""
    store = current_store()
    user = q.user_name or q.user_id
    conversations: list[dict[str, Any]] = []
    page = 1
    while True:
        found, total = await store.conversations.list(
            user_name=user, sys_code=q.sys_code, page=page, page_size=200
        )
        for conv in found:
            msgs = message_vos(await store.messages.list(conv.conv_uid))
            conversations.append(
                {
                    "conv_uid": conv.conv_uid,
                    "chat_mode": conv.chat_mode,
                    "app_code": conv.app_code,
                    "create_time": _time(conv.gmt_created),
                    "update_time": _time(conv.gmt_modified),
                    "total_messages": len(msgs),
                    "messages": msgs,
                }
            )
        if page * 200 >= total or not found:
            break
        page += 1
    doc = {
        "user_name": user,
        "sys_code": q.sys_code,
        "total_conversations": len(conversations),
        "conversations": conversations,
    }
    stamp = dt.datetime.now().strftime("%Y%m%d_%H%M%S")
    data = json.dumps(doc, ensure_ascii=False).encode()
    # format=json: the document itself, as DB-GPT answers it; file: a download.
    return FileAnswer(data, f"conversations_{stamp}.json", inline=q.format == "json")
