"""DB-GPT's app lists, one flow each (app ``Result``): the agents the asking user installed
and the chat flows, as DB-GPT's apps (:mod:`operators.apps`); and the serve module's
``/api/v2/serve/apps`` (serve ``Result``), as ``dbgpt-client`` reads it."""

from __future__ import annotations

from dataclasses import replace

from awel.trigger import ResponseKind
from flows._route import Api
from operators.apps import listing
from operators.apps.requests import AppCode, AppQuery, DbgptsQuery

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

serve = replace(api, response=ResponseKind.SERVE_RESULT, errors="serve_result")
serve_list = serve.flow(
    dag_id="serve_app_list",
    path="/api/v2/serve/apps",
    method="GET",
    body=AppQuery,
    action=listing.app_list,
    summary="Apps, a page at a time ({app_list, total_count, ...})",
)
serve_get = serve.flow(
    dag_id="serve_app_get",
    path="/api/v2/serve/apps/{app_id}",
    method="GET",
    body=AppCode,
    action=listing.get_app,
    summary="One app: an installed agent by name, or a chat flow by uid",
)
