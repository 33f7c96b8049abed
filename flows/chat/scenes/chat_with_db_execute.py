"""chat_with_db_execute (Chat Data): text-to-SQL. The model answers the JSON
``{thoughts, sql, display_type, direct_response}`` (guided by its schema where the engine
can), the SQL passes the datasource's gate (one reading statement, LIMIT capped, timeout),
runs, and the rows are shown as a ``<chart-view>``."""

from flows.chat.scenes._build import PROMPTS, asks_model
from operators.chat.scene_ops import SqlRound
from operators.chat.scenes import Scene

scene = Scene(
    "chat_with_db_execute",
    "Chat Data",
    "Ask a question about your data: the model writes SQL, the query runs read-only"
    " and the answer comes back as a table or a chart.",
    needs="db",
    v2_modes=("chat_data", "chat_with_db_execute"),
    prompt=PROMPTS / "text_to_sql.j2",
    flow=asks_model("Text-to-SQL with a chart.", SqlRound),
)
