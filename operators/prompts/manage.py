"""What DB-GPT's prompt routes do (``POST /prompt/list``, ``add``, ``update``, ``delete``,
``query_page``), one async function each, answering its prompt ``ServerResponse``.

As DB-GPT does, a prompt saved without a user or system is saved as ``dbgpt``'s, a prompt
without a code gets a fresh one, and a listing filters on every field the body names.
Prompts are shared: ``user_name`` labels a prompt, it does not guard it (docs/security.md).
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from awel.errors import BadRequest
from operators.storage import NewPrompt, Prompt, UnknownPrompt, current_store
from operators.storage.prompts import FILTERS

from .requests import PromptBody, PromptPage
from .template import variables_of

__all__ = [
    "DEFAULT_SYS_CODE",
    "DEFAULT_USER",
    "prompt_add",
    "prompt_delete",
    "prompt_list",
    "prompt_page",
    "prompt_update",
    "server_response",
]

#: Whose prompts a request that names no user or system saves (DB-GPT's defaults).
DEFAULT_USER = "dbgpt"
DEFAULT_SYS_CODE = "dbgpt"
#: The most prompts one listing answers.
MAX_LISTED = 1000


def server_response(p: Prompt) -> dict[str, Any]:
    """DB-GPT's prompt ``ServerResponse``."""
    return {
        "id": p.id,
        "chat_scene": p.chat_scene,
        "sub_chat_scene": p.sub_chat_scene,
        "prompt_code": p.prompt_code,
        "prompt_type": p.prompt_type,
        "prompt_name": p.prompt_name,
        "content": p.content,
        "prompt_desc": p.prompt_desc,
        "response_schema": p.response_schema,
        "input_variables": p.input_variables,
        "model": p.model,
        "prompt_language": p.prompt_language,
        "user_code": p.user_code,
        "user_name": p.user_name,
        "sys_code": p.sys_code,
        "gmt_created": p.gmt_created.strftime("%Y-%m-%d %H:%M:%S"),
        "gmt_modified": p.gmt_modified.strftime("%Y-%m-%d %H:%M:%S"),
    }


def _filters(body: PromptBody) -> dict[str, str]:
    return {name: value for name in FILTERS if (value := getattr(body, name)) is not None}


def _required(value: str | None, field: str, what: str) -> str:
    if value is None or not value.strip():
        raise BadRequest(f"{field} is required ({what})", param=field)
    return value


async def prompt_list(body: PromptBody) -> list[dict[str, Any]]:
    found, _ = await current_store().prompts.list(_filters(body), page_size=MAX_LISTED)
    return [server_response(p) for p in found]


async def prompt_page(body: PromptPage) -> dict[str, Any]:
    found, total = await current_store().prompts.list(
        _filters(body), page=body.page, page_size=body.page_size
    )
    return {
        "items": [server_response(p) for p in found],
        "total_count": total,
        "total_pages": math.ceil(total / body.page_size),
        "page": body.page,
        "page_size": body.page_size,
    }


async def prompt_add(body: PromptBody) -> dict[str, Any]:
    name = _required(body.prompt_name, "prompt_name", "the prompt's name").strip()
    content = _required(body.content, "content", "the template")
    new = NewPrompt(
        prompt_code=body.prompt_code or uuid.uuid4().hex,
        prompt_name=name,
        content=content,
        prompt_type=body.prompt_type,
        chat_scene=body.chat_scene,
        sub_chat_scene=body.sub_chat_scene,
        input_variables=body.input_variables or ",".join(variables_of(content)),
        response_schema=body.response_schema,
        model=body.model,
        prompt_language=body.prompt_language,
        prompt_desc=body.prompt_desc,
        user_code=body.user_code,
        user_name=body.user_name or DEFAULT_USER,
        sys_code=body.sys_code or DEFAULT_SYS_CODE,
    )
    return server_response(await current_store().prompts.add(new))


async def prompt_update(body: PromptBody) -> dict[str, Any]:
    code = _required(body.prompt_code, "prompt_code", "the prompt to update")
    changes = body.model_dump(exclude_none=True, exclude={"prompt_code"})
    if "prompt_name" in changes:
        changes["prompt_name"] = _required(body.prompt_name, "prompt_name", "a name").strip()
    if "content" in changes:
        _required(body.content, "content", "the template")
        if body.input_variables is None:
            changes["input_variables"] = ",".join(variables_of(changes["content"]))
    return server_response(await current_store().prompts.update(code, changes))


async def prompt_delete(body: PromptBody) -> None:
    name = _required(body.prompt_name, "prompt_name", "the prompt to delete")
    if not await current_store().prompts.delete(name, sys_code=body.sys_code):
        raise UnknownPrompt(name, field="prompt_name")
