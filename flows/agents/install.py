"""Installing, uninstalling and listing agents: DB-GPT's plugin routes (app ``Result``,
failures answered HTTP 200 with ``success: false`` as DB-GPT's web UI reads them) and the
dbgpts store's (serve ``Result``)."""

from __future__ import annotations

from awel.trigger import ResponseKind
from flows._route import Api
from operators.agents import routes
from operators.agents.requests import (
    AgentInstallRequest,
    AgentUpload,
    AgentUser,
    DbgptsInstall,
    DbgptsMyQuery,
)

# The user comes from DB-GPT's user-id header, or the query's (and body's) user.
api = Api(
    header_fields={"user-id": "user_name"},
    prefix="/api/v1",
    tags=["Agent"],
    ok_failures=("agent.",),
    response=ResponseKind.RESULT,
    errors="result",
)
dbgpts = Api(
    prefix="/api/v1/serve/dbgpts",
    tags=["dbgpts"],
    response=ResponseKind.SERVE_RESULT,
    header_fields={"user-id": "user_name"},
)

agent_install = api.flow(
    dag_id="agent_install",
    path="/agent/install",
    method="POST",
    body=AgentInstallRequest,
    action=routes.install,
    summary="Install a hub agent for a user",
)
agent_uninstall = api.flow(
    dag_id="agent_uninstall",
    path="/agent/uninstall",
    method="POST",
    body=AgentInstallRequest,
    action=routes.uninstall,
    summary="Uninstall a user's agent",
)
agent_my = api.flow(
    dag_id="agent_my",
    path="/agent/my",
    method="POST",
    body=AgentUser,
    action=routes.my,
    summary="A user's installed agents",
)
agent_upload = api.flow(
    dag_id="agent_upload",
    path="/personal/agent/upload",
    method="POST",
    body=AgentUpload,
    action=routes.upload,
    summary="Install an agent package uploaded as a zip",
)
dbgpts_hub_install = dbgpts.flow(
    dag_id="dbgpts_hub_install",
    path="/hub/install",
    method="POST",
    body=DbgptsInstall,
    action=routes.dbgpts_install,
    summary="Install a hub package for a user",
)
dbgpts_my_query_page = dbgpts.flow(
    dag_id="dbgpts_my_query_page",
    path="/my/query_page",
    method="POST",
    body=DbgptsMyQuery,
    action=routes.dbgpts_my_page,
    summary="A user's installed packages, paged",
)
dbgpts_my_uninstall = dbgpts.flow(
    dag_id="dbgpts_my_uninstall",
    path="/my/uninstall",
    method="POST",
    body=DbgptsInstall,
    action=routes.dbgpts_uninstall,
    summary="Uninstall a user's package",
)
