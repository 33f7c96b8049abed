"""DB-GPT's chat helper routes: scene parameters, file uploads for chat_excel, prepare.

``POST /api/v1/resource/file/upload`` keeps the file under a sanitised name in a folder of its
own, loads CSV, XLSX, JSON or Parquet into a DuckDB table for chat_excel, runs the learning
round when a model is loaded, and answers DB-GPT's file descriptor. Its v0.5 name,
``/api/v1/chat/mode/params/file/load``, does the same and answers the conversation's
messages, as DB-GPT's old route did.
"""

from dataclasses import replace

from awel.trigger import ResponseKind
from flows._route import Api
from flows.chat.scenes import excel_learning
from operators.chat import scenes
from operators.chat.learning import FileLearning
from operators.chat.request import ConversationVo, ModeQuery, UploadRequest

api = Api(tags=["Chat"], response=ResponseKind.RESULT, errors="result")
# DB-GPT's web client names its user in a header, which wins over the body.
user_api = replace(api, header_fields={"user-id": "user_name"})

#: The routes that learn an uploaded file, with the learning round's flow they run.
files = FileLearning(excel_learning().output_node)

params_list = user_api.flow(
    dag_id="chat_mode_params_list",
    path="/api/v1/chat/mode/params/list",
    method="POST",
    body=ModeQuery,
    action=scenes.mode_params,
    summary="Choices for a scene's select_param",
)
file_upload = api.flow(
    dag_id="resource_file_upload",
    path="/api/v1/resource/file/upload",
    method="POST",
    body=UploadRequest,
    action=files.upload,
    summary="Upload a file (chat_excel: loaded into DuckDB and learned)",
)
file_load = api.flow(
    dag_id="chat_mode_params_file_load",
    path="/api/v1/chat/mode/params/file/load",
    method="POST",
    body=UploadRequest,
    action=files.load,
    summary="Upload a file and answer the conversation's messages (DB-GPT 0.5's route)",
)
chat_prepare = user_api.flow(
    dag_id="chat_prepare",
    path="/api/v1/chat/prepare",
    method="POST",
    body=ConversationVo,
    action=files.prepare,
    summary="Prepare a chat round",
)
