"""The flow editor's palette and templates, at ``/api/v1/serve/awel`` and again at
``/api/v2/serve/awel`` (serve ``Result``; spec 4.8): ``GET /nodes`` (every registered
operator as DB-GPT's ``ViewMetadata``), ``POST /nodes/refresh`` (one of them again) and
``GET /flow/templates`` (the example flows)."""

from __future__ import annotations

from awel.trigger import ResponseKind
from flows.awel_flows._api import serve_awel
from operators.userflows import nodes as palette
from operators.userflows import templates

both = serve_awel(tags=["Flow editor"], response=ResponseKind.SERVE_RESULT)


nodes, nodes_v2 = both(
    lambda at: at.flow(
        dag_id="flow_nodes",
        path="/nodes",
        method="GET",
        body=palette.NodesQuery,
        action=palette.nodes,
        summary="The operators a flow can use (the editor's palette)",
    )
)
refresh, refresh_v2 = both(
    lambda at: at.flow(
        dag_id="flow_nodes_refresh",
        path="/nodes/refresh",
        method="POST",
        body=palette.RefreshNode,
        action=palette.refresh,
        summary="One operator of the palette again (no option of ours is dynamic)",
    )
)
flow_templates, flow_templates_v2 = both(
    lambda at: at.flow(
        dag_id="flow_templates",
        path="/flow/templates",
        method="GET",
        body=templates.TemplatesQuery,
        action=templates.listing,
        summary="The example flows, as templates to start from",
    )
)
