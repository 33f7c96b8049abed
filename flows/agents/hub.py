"""The agent hub's routes, one flow each: DB-GPT's plugin hub (``/api/v1/agent/hub/update``,
``/api/v1/agent/query``, app ``Result``) and dbgpts' (``/api/v1/serve/dbgpts/hub/*``, serve
``Result``).

As DB-GPT does, a hub that cannot be synced is answered HTTP 200 with ``success: false``;
a request that cannot be read stays a 400.
"""

from __future__ import annotations

from dataclasses import replace

from awel.trigger import ResponseKind
from flows._route import Api
from operators.agents import hub_routes as routes
from operators.agents.hub_requests import AgentQuery, DbgptsHubQuery, HubUpdate

# Failures of the hub (no such source, a clone that failed) answer HTTP 200, success false.
api = Api(prefix="/api/v1/agent", tags=["Agent"], errors="result", ok_failures=("agent.",))
api = replace(api, response=ResponseKind.RESULT)
# dbgpts' routes: the serve module's envelope.
dbgpts = replace(
    api,
    prefix="/api/v1/serve/dbgpts/hub",
    tags=["dbgpts"],
    response=ResponseKind.SERVE_RESULT,
    errors="serve_result",
)

hub_update = api.flow(
    dag_id="agent_hub_update",
    path="/hub/update",
    method="POST",
    body=HubUpdate,
    action=routes.hub_update,
    summary="Sync the agent hub from a git repository or a folder",
)
agent_query = api.flow(
    dag_id="agent_query",
    path="/query",
    method="POST",
    body=AgentQuery,
    action=routes.agent_query,
    summary="A page of the agent hub",
)
dbgpts_query_page = dbgpts.flow(
    dag_id="dbgpts_hub_query_page",
    path="/query_page",
    method="POST",
    body=DbgptsHubQuery,
    action=routes.dbgpts_hub_query_page,
    summary="A page of the dbgpts hub",
)
dbgpts_source_refresh = dbgpts.flow(
    dag_id="dbgpts_hub_source_refresh",
    path="/source/refresh",
    method="POST",
    body=None,
    action=routes.dbgpts_source_refresh,
    summary="Sync the configured dbgpts hub",
)
