"""DB-GPT's dialogue routes, ``/api/v1/chat/dialogue/*``, one flow each (serve ``Result``).

``messages`` and ``messages/history`` are one route under two names (0.8.2 serves the
second; the brief and older clients call the first). ``export_messages`` answers the JSON
document itself (not a Result), as a download.
"""

from functools import partial

from awel.trigger import ResponseKind
from flows._route import action_flow
from flows.dialogue import _service as svc

_PREFIX = "/api/v1/chat/dialogue"


_flow = partial(action_flow, prefix=_PREFIX, tags=["Dialogue"], response=ResponseKind.SERVE_RESULT)


dialogue_list = _flow(
    "dialogue_list", "/list", "GET", svc.ListQuery, svc.list_dialogues, "Recent conversations"
)
dialogue_new = _flow("dialogue_new", "/new", "POST", svc.NewQuery, svc.new, "A new conversation id")
dialogue_delete = _flow(
    "dialogue_delete", "/delete", "POST", svc.ConvQuery, svc.delete, "Delete a conversation"
)
dialogue_scenes = _flow(
    "dialogue_scenes", "/scenes", "POST", None, svc.scenes, "The chat scenes the UI offers"
)
dialogue_messages = _flow(
    "dialogue_messages",
    "/messages",
    "GET",
    svc.ConvQuery,
    svc.messages,
    "A conversation's messages",
)
dialogue_messages_history = _flow(
    "dialogue_messages_history",
    "/messages/history",
    "GET",
    svc.ConvQuery,
    svc.messages,
    "A conversation's messages",
)
dialogue_clear = _flow(
    "dialogue_clear", "/clear", "POST", svc.ConvQuery, svc.clear, "Remove a conversation's messages"
)
dialogue_query = _flow(
    "dialogue_query", "/query", "POST", svc.QueryBody, svc.query, "Find a conversation"
)
dialogue_query_page = _flow(
    "dialogue_query_page",
    "/query_page",
    "POST",
    svc.QueryBody,
    svc.query_page,
    "Find conversations, a page at a time",
)
dialogue_export = _flow(
    "dialogue_export_messages",
    "/export_messages",
    "GET",
    svc.ExportQuery,
    svc.export_messages,
    "Export conversations with their messages",
    response=ResponseKind.FILE,
    media_type="application/json",
)
