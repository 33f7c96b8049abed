"""One chat round, whatever the scene: checking the request, history in, what the scene
answered (or why it did not), the round stored.

The round is stored by the round, not by the scenes, in one transaction
(``store.conversations.save_round``) and only once the scene has ended: a client that hangs
up mid-stream leaves no half round, and a round whose answer was unusable is stored with its
error message as the view, so nothing asked is lost.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from awel import BaseOperator
from awel.errors import AwelError
from operators.llm.types import ChatMessage
from operators.models import NoModel, current_models
from operators.storage import AI, HUMAN, Message, UnknownDatasource, current_store

from .chart import error_view
from .chat_flows import chat_flow
from .files import resolve_file
from .request import ConversationVo
from .scenes import Scene, scene
from .types import Progress, RoundDone, SceneCall

__all__ = [
    "HISTORY_ROUNDS",
    "BadSceneParam",
    "answer_round",
    "check_param",
    "history_of",
    "message_vos",
    "model_for",
    "save_round",
    "scene_call",
    "scene_outcome",
    "stored_prompt",
]

log = logging.getLogger("awel.chat")

#: Earlier rounds a history-aware scene sends the model.
HISTORY_ROUNDS = 5


class BadSceneParam(AwelError):
    code = "chat.invalid_param"

    def __init__(self, message: str, field: str = "select_param") -> None:
        super().__init__(f"{field}: {message}", param=field)


def model_for(name: str | None) -> str:
    """The served model that answers for ``name``: itself if served, else the default (DB-GPT's
    clients name the models of their own deployment), else the name as given."""
    models = current_models()
    if name and models.has_llm(name):
        return name
    with contextlib.suppress(NoModel):
        return models.llm().name
    return name or ""


async def check_param(found: Scene, select_param: str, field: str = "select_param") -> None:
    """Refuse a scene argument that names nothing, before any answer starts."""
    if not found.needs:
        return
    if not select_param:
        what = {
            "db": "a datasource name",
            "file": "an uploaded file",
            "flow": "a flow name",
            "space": "a knowledge space name",
            "app": "an app",
        }
        raise BadSceneParam(f"{found.code} needs {what[found.needs]}", field)
    if found.needs == "db":
        try:
            await current_store().datasources.require(select_param)
        except UnknownDatasource as exc:
            raise BadSceneParam(exc.message.replace(" (db_name)", ""), field) from None
    elif found.needs == "file":
        await resolve_file(current_store(), select_param)
    elif found.needs == "flow" and await chat_flow(select_param) is None:
        raise BadSceneParam(f"no flow named '{select_param}' is loaded", field)
    elif found.needs == "space" and await current_store().spaces.get(select_param) is None:
        raise BadSceneParam(
            f"no knowledge space named '{select_param}'; list them with POST"
            " /api/v1/knowledge/space/list",
            field,
        )


async def history_of(conv_uid: str, rounds: int = HISTORY_ROUNDS) -> list[ChatMessage]:
    """The last ``rounds`` rounds of the conversation as chat messages."""
    if not conv_uid:
        return []
    messages = await current_store().messages.list(conv_uid)
    if not messages:
        return []
    last = messages[-1].round_index
    out: list[ChatMessage] = []
    for m in messages:
        if m.round_index <= last - rounds:
            continue
        if m.role == HUMAN:
            out.append(ChatMessage(role="user", content=m.content))
        elif m.role == AI:
            out.append(ChatMessage(role="assistant", content=m.content))
    return out


async def scene_call(body: ConversationVo) -> SceneCall:
    """The round ``body`` asks for; an :class:`~awel.errors.AwelError` naming the field
    that is wrong."""
    found = scene(body.chat_mode)
    select_param = body.select_param
    if found.code == "chat_normal" and body.ext_info.get("knowledge_space"):
        # DB-GPT's UI chats with a space from the normal chat this way: the space is the
        # knowledge scene's argument.
        found = scene("chat_knowledge")
        select_param = str(body.ext_info["knowledge_space"])
    await check_param(found, select_param)
    stored = await stored_prompt(body.prompt_code)
    conv_uid = body.conv_uid.strip() or str(uuid.uuid1())
    history = await history_of(conv_uid)
    return SceneCall(
        conv_uid=conv_uid,
        chat_mode=found.code,
        user_input=body.user_input,
        select_param=select_param,
        model_name=model_for(body.model_name),
        temperature=body.temperature,
        max_new_tokens=body.max_new_tokens,
        user_name=body.user_name,
        sys_code=body.sys_code,
        app_code=body.app_code,
        history=history,
        ext_info=dict(body.ext_info),
        stored_prompt=stored,
    )


async def stored_prompt(prompt_code: str | None) -> str | None:
    """The template of the stored prompt ``prompt_code`` names (none: the scene's own)."""
    if not prompt_code:
        return None
    found = await current_store().prompts.get(prompt_code)
    if found is None:
        raise BadSceneParam(
            f"no stored prompt '{prompt_code}'; list them with POST /prompt/list", "prompt_code"
        )
    return found.content


async def save_round(call: SceneCall, done: RoundDone) -> int:
    """Store the round whole, in one transaction (``store.conversations.save_round``)."""
    found = scene(call.chat_mode)
    context: dict[str, Any] = {
        "param_type": found.param_type,
        "param_value": call.select_param,
        "model_name": call.model_name,
        **done.context,
    }
    if done.error is not None:
        context["error"] = done.error
    return await current_store().conversations.save_round(
        call.conv_uid,
        call.user_input,
        done.ai,
        view_message=done.view,
        chat_mode=call.chat_mode,
        user_name=call.user_name,
        sys_code=call.sys_code,
        app_code=call.app_code,
        select_param=call.select_param or None,
        model_name=call.model_name or None,
        context=context,
    )


async def scene_outcome(
    events: AsyncIterable[Any], call: SceneCall
) -> AsyncIterator[Progress | RoundDone]:
    """A scene's stream as the round sees it: its Progress events, then exactly one
    RoundDone: the scene's last, or one saying why there is none (the scene failed, in a
    value step or while streaming, or ended without an answer), so the round is stored
    all the same and the user sees why."""
    done: RoundDone | None = None
    shown = ""
    try:
        async for event in events:
            if isinstance(event, Progress):
                shown = event.text
                yield event
            elif isinstance(event, RoundDone):
                done = event
    except Exception as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
        message = cause.message if isinstance(cause, AwelError) else str(cause)
        log.warning("chat: %s failed: %s", call.chat_mode, message, exc_info=exc)
        problem = f"{call.chat_mode} failed: {message}"
        done = RoundDone(shown, error_view(problem), problem)
    if done is None:
        problem = f"{call.chat_mode} ended without an answer"
        done = RoundDone(shown, error_view(problem), problem)
    yield done


async def answer_round(node: BaseOperator, call: SceneCall) -> RoundDone:
    """Run the scene flow ending at ``node`` to its end and store the round; its RoundDone.

    For rounds no route streams (chat_excel's learning round); a chat route's round is its
    flow's own nodes (:mod:`operators.chat.round`).
    """
    done: RoundDone | None = None
    async with contextlib.aclosing(node.call_stream(call)) as events:
        async for item in scene_outcome(events, call):
            if isinstance(item, RoundDone):
                done = item
    assert done is not None
    await save_round(call, done)
    return done


def message_vos(messages: list[Message]) -> list[dict[str, Any]]:
    """DB-GPT's ``MessageVo`` list: per round ``human``, ``ai``, ``view`` (a view made from
    the ai text when none was stored)."""
    default_model: str | None = None
    with contextlib.suppress(NoModel):
        default_model = current_models().llm().name
    rounds: dict[int, dict[str, Message]] = {}
    for message in messages:
        rounds.setdefault(message.round_index, {})[message.role] = message
    out: list[dict[str, Any]] = []
    for order in sorted(rounds):
        parts = rounds[order]
        for role in ("human", "ai", "view"):
            m: Message | None = parts.get(role)
            if m is None and role == "view":
                m = parts.get("ai")
            if m is None:
                continue
            out.append(
                {
                    "role": role,
                    "context": m.content,
                    "order": order,
                    "time_stamp": None,
                    "model_name": default_model or m.model_name,
                    "feedback": {},
                }
            )
    return out
