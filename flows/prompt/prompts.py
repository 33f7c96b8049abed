"""DB-GPT's prompt routes, ``/prompt/*`` with no ``/api`` prefix (DB-GPT mounts its prompt
serve module there, and nowhere else), one flow each (serve ``Result``).

Prompts are stored in the metadata db; a chat round names one by ``prompt_code`` and the
stored template becomes its system prompt (:mod:`operators.prompts`).
"""

from __future__ import annotations

from awel.trigger import ResponseKind
from flows._route import Api
from operators.prompts import manage
from operators.prompts.requests import PromptBody, PromptPage

api = Api(prefix="/prompt", tags=["Prompt"], response=ResponseKind.SERVE_RESULT)

prompt_list = api.flow(
    dag_id="prompt_list",
    path="/list",
    method="POST",
    body=PromptBody,
    action=manage.prompt_list,
    summary="Stored prompts matching the body's fields",
)
prompt_query_page = api.flow(
    dag_id="prompt_query_page",
    path="/query_page",
    method="POST",
    body=PromptPage,
    action=manage.prompt_page,
    summary="Stored prompts, a page at a time",
)
prompt_add = api.flow(
    dag_id="prompt_add",
    path="/add",
    method="POST",
    body=PromptBody,
    action=manage.prompt_add,
    summary="Store a prompt",
)
prompt_update = api.flow(
    dag_id="prompt_update",
    path="/update",
    method="POST",
    body=PromptBody,
    action=manage.prompt_update,
    summary="Change a stored prompt (by prompt_code)",
)
prompt_delete = api.flow(
    dag_id="prompt_delete",
    path="/delete",
    method="POST",
    body=PromptBody,
    action=manage.prompt_delete,
    summary="Delete a stored prompt (by prompt_name)",
)
