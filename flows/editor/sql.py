"""The SQL editor: a conversation's SQL rounds, running a statement, saving an edit, and
the history and undo of edits."""

from __future__ import annotations

from flows.editor import _summaries as doc
from flows.editor._flow import api
from operators.editor import sql_editor as sql
from operators.editor.requests import (
    ConvQuery,
    RoundQuery,
    RunBody,
    SqlSubmit,
    TablesQuery,
    UndoBody,
)

db_tables = api.flow(
    dag_id="editor_db_tables",
    path="/api/v1/editor/db/tables",
    method="GET",
    body=TablesQuery,
    action=sql.db_tables,
    summary=doc.DB_TABLES,
)
sql_rounds = api.flow(
    dag_id="editor_sql_rounds",
    path="/api/v1/editor/sql/rounds",
    method="GET",
    body=ConvQuery,
    action=sql.sql_rounds_list,
    summary=doc.SQL_ROUNDS,
)
sql_get = api.flow(
    dag_id="editor_sql",
    path="/api/v1/editor/sql",
    method="GET",
    body=RoundQuery,
    action=sql.sql_get,
    summary=doc.SQL,
)
sql_run = api.flow(
    dag_id="editor_sql_run",
    path="/api/v1/editor/sql/run",
    method="POST",
    body=RunBody,
    action=sql.sql_run,
    summary=doc.SQL_RUN,
)
sql_submit = api.flow(
    dag_id="sql_editor_submit",
    path="/api/v1/sql/editor/submit",
    method="POST",
    body=SqlSubmit,
    action=sql.sql_submit,
    summary=doc.SQL_SUBMIT,
)
sql_history = api.flow(
    dag_id="editor_sql_history",
    path="/api/v1/editor/sql/history",
    method="GET",
    body=RoundQuery,
    action=sql.sql_history,
    summary=doc.SQL_HISTORY,
)
sql_undo = api.flow(
    dag_id="editor_sql_undo",
    path="/api/v1/editor/sql/undo",
    method="POST",
    body=UndoBody,
    action=sql.sql_undo,
    summary=doc.SQL_UNDO,
)
