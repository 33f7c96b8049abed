"""DB-GPT's flow serve routes for stored flows, at ``/api/v1/serve/awel`` and again at
``/api/v2/serve/awel`` (serve ``Result``): create, update, read, list, delete, versions and
rollback, export and import. A flow is our YAML (``yaml``) and answers DB-GPT's
``FlowPanel`` around it; ``state: deployed`` serves its trigger at once."""

from __future__ import annotations

from awel.trigger import ResponseKind
from flows.awel_flows._api import serve_awel
from operators.userflows import reads, store_ops
from operators.userflows.panel import FlowPanel
from operators.userflows.requests import (
    ExportQuery,
    FlowQuery,
    FlowUid,
    ImportForm,
    Rollback,
    VersionsQuery,
)

# The user comes from DB-GPT's user-id header, or the query's (and body's) user_name.
both = serve_awel(
    tags=["AWEL flows"],
    response=ResponseKind.SERVE_RESULT,
    header_fields={"user-id": "user_name"},
)


create, create_v2 = both(
    lambda at: at.flow(
        dag_id="serve_awel_flow_create",
        path="/flows",
        method="POST",
        body=FlowPanel,
        action=store_ops.create,
        summary="Save a flow (state deployed: serve it)",
    )
)
update, update_v2 = both(
    lambda at: at.flow(
        dag_id="serve_awel_flow_update",
        path="/flows/{uid}",
        method="PUT",
        body=FlowPanel,
        action=store_ops.update,
        summary="Save a new version of a flow",
    )
)
get, get_v2 = both(
    lambda at: at.flow(
        dag_id="serve_awel_flow_get",
        path="/flows/{uid}",
        method="GET",
        body=FlowUid,
        action=reads.get,
        summary="One flow",
    )
)
delete, delete_v2 = both(
    lambda at: at.flow(
        dag_id="serve_awel_flow_delete",
        path="/flows/{uid}",
        method="DELETE",
        body=FlowUid,
        action=store_ops.delete,
        summary="Stop serving a flow and delete it",
    )
)
listing, listing_v2 = both(
    lambda at: at.flow(
        dag_id="serve_awel_flow_list",
        path="/flows",
        method="GET",
        body=FlowQuery,
        action=reads.listing,
        summary="List flows",
    )
)
chat_flows, chat_flows_v2 = both(
    lambda at: at.flow(
        dag_id="serve_awel_chat_flows",
        path="/chat/flows",
        method="GET",
        body=FlowQuery,
        action=reads.chat_flows,
        summary="List the flows chat offers",
    )
)
versions, versions_v2 = both(
    lambda at: at.flow(
        dag_id="serve_awel_flow_versions",
        path="/flows/{uid}/versions",
        method="GET",
        body=VersionsQuery,
        action=reads.versions,
        summary="A flow's saved versions",
    )
)
rollback, rollback_v2 = both(
    lambda at: at.flow(
        dag_id="serve_awel_flow_rollback",
        path="/flows/{uid}/rollback",
        method="POST",
        body=Rollback,
        action=store_ops.rollback,
        summary="Make an old version of a flow current",
    )
)
export, export_v2 = both.replace(response=ResponseKind.FILE, media_type="application/json")(
    lambda at: at.flow(
        dag_id="serve_awel_flow_export",
        path="/flow/export/{uid}",
        method="GET",
        body=ExportQuery,
        action=reads.export,
        summary="Export a flow as JSON",
    )
)
import_flow, import_flow_v2 = both(
    lambda at: at.flow(
        dag_id="serve_awel_flow_import",
        path="/flow/import",
        method="POST",
        body=ImportForm,
        action=store_ops.import_flow,
        summary="Import a flow exported as JSON",
    )
)
