"""DB-GPT's datasource routes, ``/api/v1/chat/db/*``, one flow each (app ``Result``).

``db/list`` masks passwords; ``db/add`` tests the connection before storing and builds the
schema summary in the background; ``db/summary`` and ``db/refresh`` rebuild it and answer
when done (DB-GPT's ``db/summary`` does nothing); ``db/test/connect`` answers a failure as
DB-GPT does, HTTP 200 with ``err_code`` E1001.
"""

from __future__ import annotations

from dataclasses import replace

from awel.trigger import ResponseKind
from flows._route import Api
from operators.datasource import manage
from operators.datasource.requests import DBConfig, DBListQuery, DBName, DBSummaryQuery

api = Api(
    prefix="/api/v1/chat/db", tags=["Datasource"], response=ResponseKind.RESULT, errors="result"
)
# DB-GPT's web client names its user in a header.
user_api = replace(api, header_fields={"user-id": "user_id"})
# DB-GPT answers a datasource that does not work with HTTP 200, success false and its
# err_code (E1001: cannot connect); a request the server refuses stays a 400.
test_api = replace(api, ok_failures=("datasource.", "sql."))

db_list = user_api.flow(
    dag_id="chat_db_list",
    path="/list",
    method="GET",
    body=DBListQuery,
    action=manage.db_list,
    summary="List datasources",
)
db_add = api.flow(
    dag_id="chat_db_add",
    path="/add",
    method="POST",
    body=DBConfig,
    action=manage.db_add,
    summary="Add a datasource",
)
db_edit = api.flow(
    dag_id="chat_db_edit",
    path="/edit",
    method="POST",
    body=DBConfig,
    action=manage.db_edit,
    summary="Edit a datasource",
)
db_delete = api.flow(
    dag_id="chat_db_delete",
    path="/delete",
    method="POST",
    body=DBName,
    action=manage.db_delete,
    summary="Delete a datasource",
)
db_test_connect = test_api.flow(
    dag_id="chat_db_test_connect",
    path="/test/connect",
    method="POST",
    body=DBConfig,
    action=manage.db_test_connect,
    summary="Test a datasource's connection",
)
db_summary = api.flow(
    dag_id="chat_db_summary",
    path="/summary",
    method="POST",
    body=DBSummaryQuery,
    action=manage.db_summary,
    summary="Rebuild a datasource's schema summary",
)
db_refresh = api.flow(
    dag_id="chat_db_refresh",
    path="/refresh",
    method="POST",
    body=DBConfig,
    action=manage.db_refresh,
    summary="Rebuild a datasource's schema summary",
)
db_support_type = api.flow(
    dag_id="chat_db_support_type",
    path="/support/type",
    method="GET",
    body=None,
    action=manage.db_support_type,
    summary="Supported datasource types",
)
