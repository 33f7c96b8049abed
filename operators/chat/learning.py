"""chat_excel's files: the upload (kept, loaded into DuckDB, learned) and ``chat/prepare``,
which learns the conversation's file when it has no round yet.

The learning round is a scene flow of its own (``flows/chat/scenes/chat_excel.py``), handed
to :class:`FileLearning` by the flows (this layer does not import them), whose methods are
the routes' actions.
"""

from __future__ import annotations

import json
from typing import Any

from awel import BaseOperator
from operators.models import NoModel, current_models
from operators.storage import current_store

from .files import BadUpload, descriptor, store_upload
from .request import ConversationVo, UploadRequest
from .session import answer_round, message_vos, model_for, scene_call
from .types import SceneCall

__all__ = ["FileLearning"]


class FileLearning:
    """chat_excel's file routes (upload, prepare) with the learning round they run."""

    def __init__(self, learning: BaseOperator) -> None:
        #: The learning round's flow (its output node): the model describes the file.
        self.learning = learning

    async def learn(self, prepared: SceneCall) -> bool:
        """The excel learning round: the model describes the file; stored as the
        conversation's first round. False when no model could answer."""
        try:
            current_models().llm()
        except NoModel:
            return False
        done = await answer_round(self.learning, prepared)
        return done.error is None

    async def upload(self, body: UploadRequest) -> Any:
        """Keep the files; for chat_excel, load the one file and learn it. DB-GPT's file
        descriptor (a list of them for several files)."""
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
                learned = await self.learn(call)
            out.append(descriptor(record, learned=learned))
        return out[0] if len(out) == 1 else out

    async def load(self, body: UploadRequest) -> list[dict[str, Any]]:
        """DB-GPT 0.5's ``mode/params/file/load``: the upload, then the conversation's
        messages (with chat_excel's learning round, when a model answered it)."""
        await self.upload(body)
        return message_vos(await current_store().messages.list(body.conv_uid))

    async def prepare(self, body: ConversationVo) -> list[dict[str, Any]]:
        """The conversation's messages after the scene's prepare step (chat_excel learns its
        file when the conversation has no round yet)."""
        call = await scene_call(body)
        store = current_store()
        if call.chat_mode == "chat_excel" and not await store.messages.list(call.conv_uid):
            await self.learn(
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
                ),
            )
        return message_vos(await store.messages.list(call.conv_uid))
