"""``/api/v2/chat/completions``'s round: OpenAI's body turned into a scene call.

Unlike DB-GPT, the whole ``messages`` list is used (the last user message is the question,
the messages before it the history) and ``max_tokens`` is honoured.
"""

from __future__ import annotations

import uuid

from awel import MapOperator
from awel.errors import BadRequest
from operators.llm.types import ChatMessage

from .request import V2ChatRequest, param_text
from .round import ChatRound
from .scenes import SCENES, V2_MODES, UnknownScene
from .session import BadSceneParam, check_param, history_of, model_for
from .stream import StreamStyle
from .types import SceneCall

__all__ = ["V2_DEFAULT_MAX_TOKENS", "PrepareV2Round", "v2_round"]

#: New tokens when the body names no limit.
V2_DEFAULT_MAX_TOKENS = 1024


async def v2_round(body: V2ChatRequest) -> ChatRound:
    """The round a v2 body asks for; an :class:`~awel.errors.AwelError` naming the field
    that is wrong."""
    mode = V2_MODES.get(body.chat_mode)
    if mode is None:
        raise BadRequest(
            f"chat_mode: '{body.chat_mode}' is not supported; use one of {', '.join(V2_MODES)}",
            code=UnknownScene.code,
            param="chat_mode",
        )
    found = SCENES[mode]
    if found.stream_only and not body.stream:
        raise BadRequest(
            f"{body.chat_mode} answers only as a stream; set stream to true", param="stream"
        )
    param = param_text(body.chat_param)
    if found.needs and not param:
        raise BadSceneParam(
            f"{body.chat_mode} needs a chat_param (db name, flow name, space)", "chat_param"
        )
    await check_param(found, param, "chat_param")
    messages = list(body.messages)
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    if last_user == -1:
        raise BadRequest("messages: there is no user message to answer", param="messages")
    question = messages[last_user].text
    conv_uid = (body.conv_uid or "").strip() or str(uuid.uuid4())
    history = [
        ChatMessage(role="system" if m.role == "developer" else m.role, content=m.text)
        for m in messages[:last_user]
    ]
    if not history:
        history = await history_of(conv_uid)
    call = SceneCall(
        conv_uid=conv_uid,
        chat_mode=mode,
        user_input=question,
        select_param=param,
        model_name=model_for(body.model),
        temperature=0.7 if body.temperature is None else body.temperature,
        max_new_tokens=body.max_tokens or body.max_new_tokens or V2_DEFAULT_MAX_TOKENS,
        user_name=body.user_name or body.user,
        sys_code=body.sys_code,
        history=history,
    )
    style: StreamStyle = "delta" if body.incremental else "full"
    return ChatRound(call, style, call.model_name, stream=body.stream)


class PrepareV2Round(MapOperator[V2ChatRequest, ChatRound]):
    async def map(self, input_value: V2ChatRequest) -> ChatRound:
        return await v2_round(input_value)
