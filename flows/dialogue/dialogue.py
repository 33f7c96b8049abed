"""DB-GPT's dialogue routes, ``/api/v1/chat/dialogue/*``, one flow each (serve ``Result``).

``scenes`` answers in the app ``Result`` (with ``host_name``): DB-GPT serves it from its chat
app module, not from the conversation serve module the other routes belong to.
``messages`` and ``messages/history`` are one route under two names (0.8.2 serves the
second; the brief and older clients call the first). ``export_messages`` answers the JSON
document itself (not a Result), as a download.
"""

from __future__ import annotations

from dataclasses import replace

from awel.trigger import ResponseKind
from flows._route import Api
from operators.dialogue import conversations as conv
from operators.dialogue.requests import (
    ConvQuery,
    ExportQuery,
    HistoryQuery,
    ListQuery,
    NewQuery,
    QueryBody,
)

api = Api(prefix="/api/v1/chat/dialogue", tags=["Dialogue"], response=ResponseKind.SERVE_RESULT)
# The export is the JSON document itself, as a download.
download_api = replace(api, response=ResponseKind.FILE, media_type="application/json")
scenes_api = replace(api, response=ResponseKind.RESULT, errors="result")

dialogue_list = api.flow(
    dag_id="dialogue_list",
    path="/list",
    method="GET",
    body=ListQuery,
    action=conv.list_dialogues,
    summary="Recent conversations",
)
dialogue_new = api.flow(
    dag_id="dialogue_new",
    path="/new",
    method="POST",
    body=NewQuery,
    action=conv.new,
    summary="A new conversation id",
)
dialogue_delete = api.flow(
    dag_id="dialogue_delete",
    path="/delete",
    method="POST",
    body=ConvQuery,
    action=conv.delete,
    summary="Delete a conversation",
)
dialogue_scenes = scenes_api.flow(
    dag_id="dialogue_scenes",
    path="/scenes",
    method="POST",
    body=None,
    action=conv.scenes,
    summary="The chat scenes the UI offers",
)
dialogue_messages = api.flow(
    dag_id="dialogue_messages",
    path="/messages",
    method="GET",
    body=HistoryQuery,
    action=conv.messages,
    summary="A conversation's messages",
)
dialogue_messages_history = api.flow(
    dag_id="dialogue_messages_history",
    path="/messages/history",
    method="GET",
    body=HistoryQuery,
    action=conv.messages,
    summary="A conversation's messages",
)
dialogue_clear = api.flow(
    dag_id="dialogue_clear",
    path="/clear",
    method="POST",
    body=ConvQuery,
    action=conv.clear,
    summary="Remove a conversation's messages",
)
dialogue_query = api.flow(
    dag_id="dialogue_query",
    path="/query",
    method="POST",
    body=QueryBody,
    action=conv.query,
    summary="Find a conversation",
)
dialogue_query_page = api.flow(
    dag_id="dialogue_query_page",
    path="/query_page",
    method="POST",
    body=QueryBody,
    action=conv.query_page,
    summary="Find conversations, a page at a time",
)
dialogue_export = download_api.flow(
    dag_id="dialogue_export_messages",
    path="/export_messages",
    method="GET",
    body=ExportQuery,
    action=conv.export_messages,
    summary="Export conversations with their messages",
)
