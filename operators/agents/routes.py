"""What the agent routes do: install, uninstall and list, in DB-GPT's shapes.

The plugin routes (``/api/v1/agent/*``) answer ``null`` on success and ``MyPluginVO`` rows
for ``agent/my``; dbgpts' routes (``/api/v1/serve/dbgpts/*``) answer its ``ServerResponse``
rows, paged as the serve modules page.
"""

from __future__ import annotations

import math
from typing import Any

from operators.storage import current_store
from operators.storage.agent_installs import AgentInstall

from .errors import PackageRefused
from .hub import hub_package
from .installs import current_agents, default_user
from .package import read_package
from .requests import AgentInstallRequest, AgentUpload, AgentUser, DbgptsInstall, DbgptsMyQuery

#: The source of uploaded packages, as the trust setting names it.
UPLOAD_SOURCE = "upload"


def _user(body: AgentUser) -> str:
    return default_user(body.user or body.user_name)


def dbgpts_my(i: AgentInstall) -> dict[str, Any]:
    """dbgpts' ``my`` ``ServerResponse``."""
    return {
        "id": i.id,
        "user_code": i.user_name,
        "user_name": i.user_name,
        "sys_code": i.sys_code,
        "name": i.name,
        "file_name": i.file_name,
        "type": i.type,
        "version": i.version,
        "use_count": i.use_count,
        "succ_count": i.succ_count,
        "gmt_created": i.gmt_created.strftime("%Y-%m-%d %H:%M:%S"),
    }


def my_plugin(i: AgentInstall) -> dict[str, Any]:
    """DB-GPT's ``MyPluginVO``: the dbgpts answer and the tenant, empty here."""
    return {"tenant": "", **dbgpts_my(i)}


async def install_from_hub(name: str, user: str) -> AgentInstall:
    """Install the hub's package ``name`` for ``user``."""
    folder = await hub_package(current_store(), name)
    agents = current_agents()
    return await agents.install(
        read_package(folder, agents.limits), user=user, source=f"hub:{name}"
    )


async def install(body: AgentInstallRequest) -> None:
    await install_from_hub(body.plugin_name, _user(body))


async def uninstall(body: AgentInstallRequest) -> None:
    await current_agents().uninstall(body.plugin_name, user=_user(body))


async def my(body: AgentUser) -> list[dict[str, Any]]:
    installs = await current_store().agent_installs.list(user_name=_user(body))
    return [my_plugin(i) for i in installs]


async def upload(body: AgentUpload) -> None:
    """A personal package (a zip): read, checked and installed for the user; an unsafe one
    is refused naming the problem, and nothing is written."""
    if not body.doc_file.filename.lower().endswith(".zip"):
        raise PackageRefused(f"'{body.doc_file.filename}' is not a .zip file")
    agents = current_agents()
    package = read_package(body.doc_file.data, agents.limits)
    await agents.install(package, user=_user(body), source=UPLOAD_SOURCE)


async def dbgpts_install(body: DbgptsInstall) -> dict[str, Any]:
    return dbgpts_my(await install_from_hub(body.name, default_user(body.user_name)))


async def dbgpts_uninstall(body: DbgptsInstall) -> None:
    await current_agents().uninstall(body.name, user=default_user(body.user_name))


async def dbgpts_my_page(body: DbgptsMyQuery) -> dict[str, Any]:
    installs = await current_store().agent_installs.list(
        user_name=default_user(body.user_name), name=body.name
    )
    start = (body.page - 1) * body.page_size
    total = len(installs)
    return {
        "items": [dbgpts_my(i) for i in installs[start : start + body.page_size]],
        "total_count": total,
        "total_pages": math.ceil(total / body.page_size) if total else 0,
        "page": body.page,
        "page_size": body.page_size,
    }
