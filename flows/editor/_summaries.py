"""The editor routes' summaries in the API docs. DB-GPT's editor documents its parameters
and answers in them, so most are too long for a declaration's line; kept here together, the
declarations in ``sql.py`` and ``chart.py`` stay six keywords each."""

#: What an edit does to the round's history, said by both editors' submit routes.
_KEPT = " (the previous version is kept; POST /api/v1/editor/sql/undo restores it)"

# --- the SQL editor ------------------------------------------------------------------------

DB_TABLES = (
    "A datasource's schema tree, one page of tables (search_str matches table and column"
    " names; total counts the matches)"
)
SQL_ROUNDS = "The rounds of a conversation that answered with SQL"
SQL = "The stored answer (thoughts, sql, display_type) of one round"
SQL_RUN = "Run one statement (reads; writes only on a writable datasource); rows capped, timed out"
SQL_SUBMIT = "Save edited SQL into a round" + _KEPT
SQL_HISTORY = (
    "Every version of a round, oldest first (version 1 is what the chat stored; the last is"
    " current)"
)
SQL_UNDO = (
    "Undo the last edit of a round (SQL or chart edit), body {conv_uid, round}: the previous"
    " version becomes current again and the undone one is dropped; answers {round, version}"
)

# --- the chart editor ----------------------------------------------------------------------

CHART_LIST = "The charts of a conversation's latest dashboard round"
CHART_INFO = "One dashboard chart, its SQL run again (chart_value, table_value, vega_lite)"
CHART_RUN = (
    "Run a chart's query: sql_data, chart_values for line/bar/pie/scatter/table (and area,"
    " donut, heatmap), and vega_lite, a Vega-Lite v5 spec that draws it"
)
CHART_SUBMIT = "Save an edited chart into its dashboard round" + _KEPT
CHART_RENDER = (
    "A chart drawn on the server as PNG or SVG (format=png|svg): of db_name+sql+chart_type, of"
    " a dashboard chart (con_uid+chart_title) or of a SQL round (con_uid+round)"
)
