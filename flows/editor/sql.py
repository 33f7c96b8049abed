"""The SQL editor: a conversation's SQL rounds, running a statement, saving an edit, and
the history and undo of edits."""

from __future__ import annotations

from flows.editor import _service as svc
from flows.editor._flow import editor_flow

db_tables = editor_flow(
    "editor_db_tables",
    "/api/v1/editor/db/tables",
    "GET",
    svc.TablesQuery,
    svc.db_tables,
    "A datasource's schema tree, one page of tables (search_str matches table and column"
    " names; total counts the matches)",
)
sql_rounds = editor_flow(
    "editor_sql_rounds",
    "/api/v1/editor/sql/rounds",
    "GET",
    svc.ConvQuery,
    svc.sql_rounds_list,
    "The rounds of a conversation that answered with SQL",
)
sql_get = editor_flow(
    "editor_sql",
    "/api/v1/editor/sql",
    "GET",
    svc.RoundQuery,
    svc.sql_get,
    "The stored answer (thoughts, sql, display_type) of one round",
)
sql_run = editor_flow(
    "editor_sql_run",
    "/api/v1/editor/sql/run",
    "POST",
    svc.RunBody,
    svc.sql_run,
    "Run one statement (reads; writes only on a writable datasource); rows capped, timed out",
)
sql_submit = editor_flow(
    "sql_editor_submit",
    "/api/v1/sql/editor/submit",
    "POST",
    svc.SqlSubmit,
    svc.sql_submit,
    "Save edited SQL into a round (the previous version is kept; POST"
    " /api/v1/editor/sql/undo restores it)",
)
sql_history = editor_flow(
    "editor_sql_history",
    "/api/v1/editor/sql/history",
    "GET",
    svc.RoundQuery,
    svc.sql_history,
    "Every version of a round, oldest first (version 1 is what the chat stored; the last is"
    " current)",
)
sql_undo = editor_flow(
    "editor_sql_undo",
    "/api/v1/editor/sql/undo",
    "POST",
    svc.UndoBody,
    svc.sql_undo,
    "Undo the last edit of a round (SQL or chart edit), body {conv_uid, round}: the previous"
    " version becomes current again and the undone one is dropped; answers {round, version}",
)
