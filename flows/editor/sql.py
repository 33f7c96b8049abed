"""The SQL editor: a conversation's SQL rounds, running a statement, saving an edit, and
the history and undo of edits."""

from __future__ import annotations

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
    summary="A datasource's schema tree, one page of tables (search_str matches table and"
    " column names; total counts the matches)",
)
sql_rounds = api.flow(
    dag_id="editor_sql_rounds",
    path="/api/v1/editor/sql/rounds",
    method="GET",
    body=ConvQuery,
    action=sql.sql_rounds_list,
    summary="The rounds of a conversation that answered with SQL",
)
sql_get = api.flow(
    dag_id="editor_sql",
    path="/api/v1/editor/sql",
    method="GET",
    body=RoundQuery,
    action=sql.sql_get,
    summary="The stored answer (thoughts, sql, display_type) of one round",
)
sql_run = api.flow(
    dag_id="editor_sql_run",
    path="/api/v1/editor/sql/run",
    method="POST",
    body=RunBody,
    action=sql.sql_run,
    summary="Run one statement (reads; writes only on a writable datasource); rows capped,"
    " timed out",
)
sql_submit = api.flow(
    dag_id="sql_editor_submit",
    path="/api/v1/sql/editor/submit",
    method="POST",
    body=SqlSubmit,
    action=sql.sql_submit,
    summary="Save edited SQL into a round (the previous version is kept; POST"
    " /api/v1/editor/sql/undo restores it)",
)
sql_history = api.flow(
    dag_id="editor_sql_history",
    path="/api/v1/editor/sql/history",
    method="GET",
    body=RoundQuery,
    action=sql.sql_history,
    summary="Every version of a round, oldest first (version 1 is what the chat stored; the"
    " last is current)",
)
sql_undo = api.flow(
    dag_id="editor_sql_undo",
    path="/api/v1/editor/sql/undo",
    method="POST",
    body=UndoBody,
    action=sql.sql_undo,
    summary="Undo the last edit of a round (SQL or chart edit), body {conv_uid, round}: the"
    " previous version becomes current again and the undone one is dropped; answers {round,"
    " version}",
)
