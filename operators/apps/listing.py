"""The app list, in DB-GPT's ``GptsApp`` shape, a page at a time.

Agents come first (only the asking user's installs: another user's cannot answer them, see
:mod:`operators.agents.chat`), then the chat flows, newest first. An agent's app is a
``native_app`` whose scene is ``chat_agent`` and whose ``app_code`` is the agent's name
(what ``select_param`` names); a flow's is an ``awel_layout`` whose ``team_context`` names
the flow (``uid``, what ``chat_flow``'s ``select_param`` names).
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any

from awel.errors import AwelError
from operators.agents.installs import default_user
from operators.storage import MetadataStore, current_store
from operators.storage.agent_installs import AgentInstall
from operators.storage.flows import StoredFlow
from operators.userflows.reads import CHAT_CATEGORIES
from operators.userflows.store_ops import lock, synced

from .requests import AppCode, AppQuery, DbgptsQuery

__all__ = ["UnknownApp", "app_list", "dbgpts_list", "get_app"]

log = logging.getLogger("awel.apps")

#: The most apps ``dbgpts/list`` answers (it has no pages).
MAX_LISTED = 1000


class UnknownApp(AwelError):
    code = "app.not_found"

    def __init__(self, app_code: str) -> None:
        super().__init__(
            f"no app '{app_code}': name an agent you installed, or a chat flow's uid",
            param="app_id",
        )


def _time(value: datetime | None) -> str | None:
    return value.isoformat(sep=" ", timespec="seconds") if value is not None else None


def _app(
    code: str, name: str, describe: str, team_mode: str, context: dict[str, Any]
) -> dict[str, Any]:
    return {
        "app_code": code,
        "app_name": name,
        "app_describe": describe,
        "team_mode": team_mode,
        "language": "en",
        "team_context": context,
        "user_code": None,
        "sys_code": None,
        "is_collected": "false",
        "icon": None,
        "created_at": None,
        "updated_at": None,
        "details": [],
        "published": "true",
        "user_name": None,
        "user_icon": None,
        "hot_value": 0,
        "param_need": [],
        "owner_name": None,
        "owner_avatar_url": None,
        "recommend_questions": [],
        "admins": [],
        "keep_start_rounds": 0,
        "keep_end_rounds": 0,
    }


def agent_app(agent: AgentInstall) -> dict[str, Any]:
    context = {
        "chat_scene": "chat_agent",
        "scene_name": agent.label or agent.name,
        "scene_describe": agent.description,
        "param_title": "",
        "show_disable": False,
    }
    app = _app(agent.name, agent.label or agent.name, agent.description, "native_app", context)
    app.update(
        user_code=agent.user_name,
        user_name=agent.user_name,
        sys_code=agent.sys_code,
        created_at=_time(agent.gmt_created),
        updated_at=_time(agent.gmt_modified),
    )
    return app


def flow_app(flow: StoredFlow) -> dict[str, Any]:
    context = {
        "chat_scene": "chat_flow",
        "uid": flow.uid,
        "name": flow.name,
        "label": flow.label,
        "flow_category": flow.flow_category,
    }
    app = _app(flow.uid, flow.label or flow.name, flow.description, "awel_layout", context)
    app.update(
        user_code=flow.user_name,
        user_name=flow.user_name,
        sys_code=flow.sys_code,
        created_at=_time(flow.gmt_created),
        updated_at=_time(flow.gmt_modified),
    )
    return app


async def _store() -> MetadataStore:
    store = current_store()
    try:
        async with lock(store):
            return await synced()
    except AwelError as exc:
        # Without a flows folder the stored flows are still the list.
        log.info("app list without syncing the flows folder: %s", exc.message)
        return store


async def _apps(user: str | None, name: str | None, end: int) -> tuple[list[dict[str, Any]], int]:
    """The first ``end`` apps (agents, then chat flows) and how many there are."""
    store = await _store()
    agents = [
        a
        for a in await store.agent_installs.list(user_name=default_user(user))
        if not name or name.lower() in (a.label or a.name).lower()
    ]
    apps = [agent_app(a) for a in agents]

    async def chat_flows(count: int) -> tuple[list[StoredFlow], int]:
        # A user sees their own flows and nobody's, as in the flow API.
        return await store.flows.list(
            categories=CHAT_CATEGORIES, user_name=user or None, page=1, page_size=count
        )

    _, flows_total = await chat_flows(1)
    if name:
        # A name filter reads every chat flow; without one, only as many as the page needs.
        flows, _ = await chat_flows(max(flows_total, 1))
        matching = [flow_app(f) for f in flows if name.lower() in (f.label or f.name).lower()]
        return (apps + matching)[:end], len(apps) + len(matching)
    wanted = min(max(end - len(apps), 0), flows_total)
    if wanted:
        flows, _ = await chat_flows(wanted)
        apps += [flow_app(f) for f in flows]
    return apps[:end], len(agents) + flows_total


async def app_list(q: AppQuery) -> dict[str, Any]:
    """DB-GPT's ``GptsAppResponse``: one page of apps and how many there are."""
    start = (q.page - 1) * q.page_size
    apps, total = await _apps(q.user_code, q.app_name, start + q.page_size)
    return {
        "total_count": total,
        "total_page": math.ceil(total / q.page_size) if total else 0,
        "current_page": q.page,
        "page_size": q.page_size,
        "app_list": apps[start:],
    }


async def dbgpts_list(q: DbgptsQuery) -> list[dict[str, Any]]:
    """Every app (up to :data:`MAX_LISTED`), as a plain list."""
    apps, _ = await _apps(q.user_code, None, MAX_LISTED)
    return apps


async def get_app(q: AppCode) -> dict[str, Any]:
    """One app: the user's installed agent of that name, else the chat flow of that uid
    (their own, or nobody's); :class:`UnknownApp` otherwise."""
    store = await _store()
    for agent in await store.agent_installs.list(user_name=default_user(q.user_code)):
        if agent.name == q.app_id:
            return agent_app(agent)
    flow = await store.flows.get(q.app_id)
    if (
        flow is not None
        and flow.flow_category in CHAT_CATEGORIES
        and (not q.user_code or flow.user_name in (None, q.user_code))
    ):
        return flow_app(flow)
    raise UnknownApp(q.app_id)
