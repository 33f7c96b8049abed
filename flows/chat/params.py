"""DB-GPT's chat helper routes: scene parameters, file uploads for chat_excel, prepare.

``POST /api/v1/resource/file/upload`` (and its v0.5 name ``/api/v1/chat/mode/params/
file/load``) keeps the file under a sanitised name in a folder of its own, loads CSV, XLSX,
JSON or Parquet into a DuckDB table for chat_excel, runs the learning round when a model is
loaded, and answers DB-GPT's file descriptor.
"""

from functools import partial

from flows._route import action_flow
from flows.chat.scenes import excel_learning
from operators.chat.learning import prepare, upload
from operators.chat.request import ConversationVo, ModeQuery, UploadRequest
from operators.chat.scenes import mode_params

_flow = partial(action_flow, tags=["Chat"], response="result", errors="result")


params_list = _flow(
    "chat_mode_params_list",
    "/api/v1/chat/mode/params/list",
    "POST",
    ModeQuery,
    mode_params,
    "Choices for a scene's select_param",
)
file_upload = _flow(
    "resource_file_upload",
    "/api/v1/resource/file/upload",
    "POST",
    UploadRequest,
    partial(upload, learning=excel_learning().output_node),
    "Upload a file (chat_excel: loaded into DuckDB and learned)",
)
file_load = _flow(
    "chat_mode_params_file_load",
    "/api/v1/chat/mode/params/file/load",
    "POST",
    UploadRequest,
    partial(upload, learning=excel_learning().output_node),
    "Upload a file (DB-GPT 0.5's name of resource/file/upload)",
)
chat_prepare = _flow(
    "chat_prepare",
    "/api/v1/chat/prepare",
    "POST",
    ConversationVo,
    partial(prepare, learning=excel_learning().output_node),
    "Prepare a chat round",
    # DB-GPT's web client names its user in a header, which wins over the body.
    header_fields={"user-id": "user_name"},
)
