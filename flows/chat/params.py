"""DB-GPT's chat helper routes: scene parameters, file uploads for chat_excel, prepare.

``POST /api/v1/resource/file/upload`` (and its v0.5 name ``/api/v1/chat/mode/params/
file/load``) keeps the file under a sanitised name in a folder of its own, loads CSV, XLSX,
JSON or Parquet into a DuckDB table for chat_excel, runs the learning round when a model is
loaded, and answers DB-GPT's file descriptor.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from awel import DAG
from flows._route import action_flow
from flows.chat._service import ModeQuery, UploadRequest, mode_params, prepare, upload
from operators.chat.request import ConversationVo


def _flow(
    dag_id: str,
    path: str,
    body: type[Any],
    action: Callable[[Any], Awaitable[Any]],
    summary: str,
    *,
    header_fields: dict[str, str] | None = None,
) -> DAG:
    return action_flow(
        dag_id,
        path,
        "POST",
        body,
        action,
        summary,
        tags=["Chat"],
        response="result",
        errors="result",
        header_fields=header_fields,
    )


params_list = _flow(
    "chat_mode_params_list",
    "/api/v1/chat/mode/params/list",
    ModeQuery,
    mode_params,
    "Choices for a scene's select_param",
)
file_upload = _flow(
    "resource_file_upload",
    "/api/v1/resource/file/upload",
    UploadRequest,
    upload,
    "Upload a file (chat_excel: loaded into DuckDB and learned)",
)
file_load = _flow(
    "chat_mode_params_file_load",
    "/api/v1/chat/mode/params/file/load",
    UploadRequest,
    upload,
    "Upload a file (DB-GPT 0.5's name of resource/file/upload)",
)
chat_prepare = _flow(
    "chat_prepare",
    "/api/v1/chat/prepare",
    ConversationVo,
    prepare,
    "Prepare a chat round",
    # DB-GPT's web client names its user in a header, which wins over the body.
    header_fields={"user-id": "user_name"},
)
