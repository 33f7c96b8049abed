"""DB-GPT's v2 datasource routes, ``/api/v2/serve/datasources`` (serve ``Result``).

Bodies are ``{type, params, description}`` (the older flat ``db_type``/``db_name`` form is
taken too); answers are ``{id, type, params, description, ...}`` with the password masked.
"""

from __future__ import annotations

from functools import partial

from flows._route import action_flow
from flows.datasource import _service as svc

_PREFIX = "/api/v2/serve"


_flow = partial(action_flow, prefix=_PREFIX, tags=["Datasource"], response="serve_result")


create = _flow(
    "serve_datasource_create",
    "/datasources",
    "POST",
    svc.DatasourceRequest,
    svc.v2_create,
    "Create a datasource",
)
update = _flow(
    "serve_datasource_update",
    "/datasources",
    "PUT",
    svc.DatasourceRequest,
    svc.v2_update,
    "Update a datasource",
)
listing = _flow(
    "serve_datasource_list", "/datasources", "GET", svc.Page, svc.v2_list, "List datasources"
)
get = _flow(
    "serve_datasource_get",
    "/datasources/{datasource_id}",
    "GET",
    svc.DatasourceId,
    svc.v2_get,
    "One datasource",
)
delete = _flow(
    "serve_datasource_delete",
    "/datasources/{datasource_id}",
    "DELETE",
    svc.DatasourceId,
    svc.v2_delete,
    "Delete a datasource",
)
test_connection = _flow(
    "serve_datasource_test_connection",
    "/datasources/test-connection",
    "POST",
    svc.DatasourceRequest,
    svc.v2_test_connection,
    "Test a datasource's connection",
)
refresh = _flow(
    "serve_datasource_refresh",
    "/datasources/{datasource_id}/refresh",
    "POST",
    svc.DatasourceId,
    svc.v2_refresh,
    "Rebuild a datasource's schema summary",
)
types = _flow(
    "serve_datasource_types",
    "/datasource-types",
    "GET",
    None,
    svc.v2_types,
    "Supported datasource types",
)
