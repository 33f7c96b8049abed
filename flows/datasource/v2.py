"""DB-GPT's v2 datasource routes, ``/api/v2/serve/datasources`` (serve ``Result``).

Bodies are ``{type, params, description}`` (the older flat ``db_type``/``db_name`` form is
taken too); answers are ``{id, type, params, description, ...}`` with the password masked.
"""

from __future__ import annotations

from awel.trigger import ResponseKind
from flows._route import Api
from operators.datasource import serve
from operators.datasource.requests import DatasourceId, DatasourceRequest, Page

api = Api(prefix="/api/v2/serve", tags=["Datasource"], response=ResponseKind.SERVE_RESULT)

create = api.flow(
    dag_id="serve_datasource_create",
    path="/datasources",
    method="POST",
    body=DatasourceRequest,
    action=serve.v2_create,
    summary="Create a datasource",
)
update = api.flow(
    dag_id="serve_datasource_update",
    path="/datasources",
    method="PUT",
    body=DatasourceRequest,
    action=serve.v2_update,
    summary="Update a datasource",
)
listing = api.flow(
    dag_id="serve_datasource_list",
    path="/datasources",
    method="GET",
    body=Page,
    action=serve.v2_list,
    summary="List datasources",
)
get = api.flow(
    dag_id="serve_datasource_get",
    path="/datasources/{datasource_id}",
    method="GET",
    body=DatasourceId,
    action=serve.v2_get,
    summary="One datasource",
)
delete = api.flow(
    dag_id="serve_datasource_delete",
    path="/datasources/{datasource_id}",
    method="DELETE",
    body=DatasourceId,
    action=serve.v2_delete,
    summary="Delete a datasource",
)
test_connection = api.flow(
    dag_id="serve_datasource_test_connection",
    path="/datasources/test-connection",
    method="POST",
    body=DatasourceRequest,
    action=serve.v2_test_connection,
    summary="Test a datasource's connection",
)
refresh = api.flow(
    dag_id="serve_datasource_refresh",
    path="/datasources/{datasource_id}/refresh",
    method="POST",
    body=DatasourceId,
    action=serve.v2_refresh,
    summary="Rebuild a datasource's schema summary",
)
types = api.flow(
    dag_id="serve_datasource_types",
    path="/datasource-types",
    method="GET",
    body=None,
    action=serve.v2_types,
    summary="Supported datasource types",
)
