"""DB-GPT's flow variables routes, at ``/api/v1/serve/awel/variables`` and again at
``/api/v2/serve/awel/variables`` (serve ``Result``; spec 4.9).

``POST /variables``, ``PUT /variables/{id}``, ``GET /variables`` (paged),
``GET /variables/keys`` as DB-GPT serves them; ``GET`` and ``DELETE /variables/{id}`` are
ours. A secret's value is masked in every answer.
"""

from __future__ import annotations

from awel.trigger import ResponseKind
from flows.awel_flows._api import serve_awel
from operators.userflows import variables as v

both = serve_awel(tags=["Flow variables"], response=ResponseKind.SERVE_RESULT)


create, create_v2 = both(
    lambda at: at.flow(
        dag_id="flow_variables_create",
        path="/variables",
        method="POST",
        body=v.VariableBody,
        action=v.create,
        summary="Create a flow variable",
    )
)
update, update_v2 = both(
    lambda at: at.flow(
        dag_id="flow_variables_update",
        path="/variables/{id}",
        method="PUT",
        body=v.VariableUpdate,
        action=v.update,
        summary="Update a flow variable (no value, or the mask, keeps its value)",
    )
)
listing, listing_v2 = both(
    lambda at: at.flow(
        dag_id="flow_variables_list",
        path="/variables",
        method="GET",
        body=v.VariableQuery,
        action=v.listing,
        summary="List flow variables, a page at a time",
    )
)
keys, keys_v2 = both(
    lambda at: at.flow(
        dag_id="flow_variables_keys",
        path="/variables/keys",
        method="GET",
        body=v.VariableKeysQuery,
        action=v.keys,
        summary="The keys of the flow variables",
    )
)
get, get_v2 = both(
    lambda at: at.flow(
        dag_id="flow_variables_get",
        path="/variables/{id}",
        method="GET",
        body=v.VariableId,
        action=v.get,
        summary="One flow variable",
    )
)
delete, delete_v2 = both(
    lambda at: at.flow(
        dag_id="flow_variables_delete",
        path="/variables/{id}",
        method="DELETE",
        body=v.VariableId,
        action=v.delete,
        summary="Delete a flow variable",
    )
)
