"""DB-GPT's datasource routes, ``/api/v1/chat/db/*``, one flow each (app ``Result``).

``db/list`` masks passwords; ``db/add`` tests the connection before storing and builds the
schema summary in the background; ``db/summary`` and ``db/refresh`` rebuild it and answer
when done (DB-GPT's ``db/summary`` does nothing); ``db/test/connect`` answers a failure as
DB-GPT does, HTTP 200 with ``err_code`` E1001.
"""

from __future__ import annotations

from functools import partial

from awel.trigger import ResponseKind
from flows._route import action_flow
from flows.datasource import _service as svc

_PREFIX = "/api/v1/chat/db"


_flow = partial(
    action_flow, prefix=_PREFIX, tags=["Datasource"], response=ResponseKind.RESULT, errors="result"
)


db_list = _flow(
    "chat_db_list",
    "/list",
    "GET",
    svc.DBListQuery,
    svc.db_list,
    "List datasources",
    # DB-GPT's web client names its user in a header.
    header_fields={"user-id": "user_id"},
)
db_add = _flow("chat_db_add", "/add", "POST", svc.DBConfig, svc.db_add, "Add a datasource")
db_edit = _flow("chat_db_edit", "/edit", "POST", svc.DBConfig, svc.db_edit, "Edit a datasource")
db_delete = _flow(
    "chat_db_delete", "/delete", "POST", svc.DBName, svc.db_delete, "Delete a datasource"
)
db_test_connect = _flow(
    "chat_db_test_connect",
    "/test/connect",
    "POST",
    svc.DBConfig,
    svc.db_test_connect,
    "Test a datasource's connection",
    # DB-GPT answers a datasource that does not work with HTTP 200, success false and
    # its err_code (E1001: cannot connect).
    ok_failures=("datasource.", "sql."),
)
db_summary = _flow(
    "chat_db_summary",
    "/summary",
    "POST",
    svc.DBSummaryQuery,
    svc.db_summary,
    "Rebuild a datasource's schema summary",
)
db_refresh = _flow(
    "chat_db_refresh",
    "/refresh",
    "POST",
    svc.DBConfig,
    svc.db_refresh,
    "Rebuild a datasource's schema summary",
)
db_support_type = _flow(
    "chat_db_support_type",
    "/support/type",
    "GET",
    None,
    svc.db_support_type,
    "Supported datasource types",
)
