"""DB-GPT's app lists, one flow each (app ``Result``): the agents the asking user installed
and the chat flows, as DB-GPT's apps (:mod:`operators.apps`)."""

from __future__ import annotations

from awel.trigger import ResponseKind
from flows._route import Api
from operators.apps import listing
from operators.apps.requests import AppQuery, DbgptsQuery

# DB-GPT's web client names its user in a header, which wins over the body.
api = Api(
    tags=["App"],
    response=ResponseKind.RESULT,
    errors="result",
    header_fields={"user-id": "user_code"},
)

app_list = api.flow(
    dag_id="app_list",
    path="/api/v1/app/list",
    method="POST",
    body=AppQuery,
    action=listing.app_list,
    summary="Apps: the user's agents and the chat flows, a page at a time",
)
dbgpts_list = api.flow(
    dag_id="dbgpts_list",
    path="/api/v1/dbgpts/list",
    method="GET",
    body=DbgptsQuery,
    action=listing.dbgpts_list,
    summary="Every app, as one list",
)
