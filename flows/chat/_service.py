"""What the chat route flows do, beside running scenes: scene parameters, file uploads, the
excel learning round, and the v2 body turned into a round."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, Field

from awel.errors import AwelError, BadRequest
from awel.trigger import UploadedFile
from flows.chat.scenes import EXCEL_LEARNING, SCENE_FLOWS
from operators.chat.files import BadUpload, descriptor, store_upload
from operators.chat.request import ConversationVo, V2ChatRequest, param_text
from operators.chat.scenes import SCENES, UnknownScene
from operators.chat.session import (
    BadSceneParam,
    answer_round,
    check_param,
    history_of,
    message_vos,
    model_for,
    run_round,
    scene_call,
)
from operators.chat.stream import ChatFramer
from operators.chat.types import RoundDone, SceneCall
from operators.llm.types import ChatMessage
from operators.models import NoModel, current_models
from operators.storage import current_store

# --- /api/v1/chat/completions -------------------------------------------------------------


async def v1_stream(body: ConversationVo) -> AsyncIterator[bytes]:
    """The round as DB-GPT's stream; a request naming nothing usable is told so in it."""
    style = "delta" if body.incremental else body.stream_format
    framer = ChatFramer(style, model=model_for(body.model_name))
    try:
        call = await scene_call(body)
    except AwelError as exc:
        # DB-GPT answers a bad scene or argument inside the stream, which its UI shows;
        # "[ERROR]" is how that UI tells an error from an answer.
        yield framer.message(f"[ERROR]{exc.message}")
        return
    async for chunk in run_round(SCENE_FLOWS[call.chat_mode], call, framer):
        yield chunk


# --- /api/v2/chat/completions -------------------------------------------------------------

#: v2's chat modes and the scenes they run.
V2_MODES = {
    "chat_normal": "chat_normal",
    "chat_app": "chat_agent",
    "chat_flow": "chat_flow",
    "chat_knowledge": "chat_knowledge",
    "chat_data": "chat_with_db_execute",
    "chat_with_db_execute": "chat_with_db_execute",
    "chat_with_db_qa": "chat_with_db_qa",
    "chat_dashboard": "chat_dashboard",
}
#: New tokens when the body names no limit.
V2_DEFAULT_MAX_TOKENS = 1024


class V2Call(BaseModel):
    call: Any
    stream: bool
    incremental: bool


async def v2_call(body: V2ChatRequest) -> V2Call:
    """The round a v2 body asks for: the whole ``messages`` list (the last user message is
    the question, what comes before it the history) and ``max_tokens`` honoured."""
    mode = V2_MODES.get(body.chat_mode)
    if mode is None:
        raise BadRequest(
            f"chat_mode: '{body.chat_mode}' is not supported; use one of {', '.join(V2_MODES)}",
            code=UnknownScene.code,
            param="chat_mode",
        )
    if mode == "chat_agent" and not body.stream:
        raise BadRequest("chat_app answers only as a stream; set stream to true", param="stream")
    param = param_text(body.chat_param)
    found = SCENES[mode]
    if mode != "chat_normal" and not param:
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
    return V2Call(call=call, stream=body.stream, incremental=body.incremental)


async def v2_stream(prepared: V2Call) -> AsyncIterator[bytes]:
    call: SceneCall = prepared.call
    framer = ChatFramer("delta" if prepared.incremental else "json", model=call.model_name)
    async for chunk in run_round(SCENE_FLOWS[call.chat_mode], call, framer):
        yield chunk


async def v2_answer(prepared: V2Call) -> dict[str, Any]:
    call: SceneCall = prepared.call
    done: RoundDone = await answer_round(SCENE_FLOWS[call.chat_mode], call)
    return {
        "id": call.conv_uid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": call.model_name,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": done.view},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


# --- scene parameters ---------------------------------------------------------------------


class ModeQuery(BaseModel):
    chat_mode: str = Field("chat_normal", description="The scene whose choices to list.")


async def mode_params(query: ModeQuery) -> Any:
    """The choices for ``select_param``: datasources for the DB scenes, knowledge spaces
    (none yet) for chat_knowledge, null for the others."""
    mode = query.chat_mode or "chat_normal"
    if mode in ("chat_with_db_qa", "chat_with_db_execute", "chat_dashboard"):
        found = await current_store().datasources.list()
        return [{"param": ds.db_name, "type": ds.db_type} for ds in found]
    if mode in ("chat_knowledge", "extract_refine_summary"):
        return []
    return None


# --- uploads ------------------------------------------------------------------------------


class UploadRequest(BaseModel):
    conv_uid: str = Field(description="The conversation the file belongs to.")
    chat_mode: str = Field("chat_excel", description="The scene the file is for.")
    model_name: str | None = None
    temperature: float | None = None
    max_new_tokens: int | None = None
    sys_code: str | None = None
    user_name: str | None = None
    # Typed as files: a text part is refused by name, the route gets the upload size limit,
    # and the OpenAPI document shows a multipart body.
    doc_files: list[UploadedFile] = Field(
        default_factory=list, description="The files (multipart)."
    )
    doc_file: UploadedFile | None = Field(None, description="One file (the v0.5 route's field).")


async def learn_file(prepared: SceneCall) -> bool:
    """The excel learning round: the model describes the file; stored as the
    conversation's first round. False when no model could answer."""
    try:
        current_models().llm()
    except NoModel:
        return False
    done = await answer_round(EXCEL_LEARNING, prepared)
    return done.error is None


async def upload(body: UploadRequest) -> Any:
    uploads = [f for f in [*body.doc_files, body.doc_file] if f is not None]
    if not uploads:
        raise BadUpload("no file was sent; send it as the multipart field doc_files")
    excel = body.chat_mode == "chat_excel"
    if excel and len(uploads) > 1:
        raise BadUpload(f"chat_excel takes one file at a time; {len(uploads)} were sent")
    store = current_store()
    out: list[dict[str, Any]] = []
    for one in uploads:
        record = await store_upload(
            store, one, conv_uid=body.conv_uid, user_name=body.user_name, load=excel
        )
        learned = False
        if excel:
            desc = descriptor(record, learned=False)
            await store.conversations.ensure(
                body.conv_uid,
                chat_mode="chat_excel",
                user_name=body.user_name,
                sys_code=body.sys_code,
                select_param=json.dumps(desc),
            )
            call = SceneCall(
                conv_uid=body.conv_uid,
                chat_mode="chat_excel",
                user_input=f"Learn the file {record.file_name}",
                select_param=json.dumps(desc),
                model_name=model_for(body.model_name),
                temperature=body.temperature if body.temperature is not None else 0.5,
                max_new_tokens=body.max_new_tokens or 512,
                user_name=body.user_name,
                sys_code=body.sys_code,
            )
            learned = await learn_file(call)
        out.append(descriptor(record, learned=learned))
    return out[0] if len(out) == 1 else out


# --- prepare ------------------------------------------------------------------------------


async def prepare(body: ConversationVo) -> list[dict[str, Any]]:
    """The conversation's messages after the scene's prepare step (chat_excel learns its
    file when the conversation has no round yet)."""
    call = await scene_call(body)
    store = current_store()
    if call.chat_mode == "chat_excel" and not await store.messages.list(call.conv_uid):
        await learn_file(
            SceneCall(
                conv_uid=call.conv_uid,
                chat_mode="chat_excel",
                user_input="Learn the file",
                select_param=call.select_param,
                model_name=call.model_name,
                temperature=call.temperature,
                max_new_tokens=min(call.max_new_tokens, 512),
                user_name=call.user_name,
                sys_code=call.sys_code,
            )
        )
    return message_vos(await store.messages.list(call.conv_uid))
