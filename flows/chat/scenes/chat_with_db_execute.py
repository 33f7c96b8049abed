"""chat_with_db_execute (Chat Data): text-to-SQL. The model answers the JSON
``{thoughts, sql, display_type, direct_response}`` (guided by its schema where the engine
can), the SQL passes the datasource's gate (one reading statement, LIMIT capped, timeout),
runs, and the rows are shown as a ``<chart-view>``."""

from awel import DAG, InputOperator
from flows.chat.scenes._prompts import PROMPTS
from operators.chat.answer import SQL_ANSWER_SCHEMA
from operators.chat.scene_ops import AskModel, Prompt, SchemaOf, SqlRound
from operators.chat.scenes import Scene

PROMPT = PROMPTS / "text_to_sql.j2"


def flow() -> DAG:
    with DAG("scene_chat_with_db_execute", description="Text-to-SQL with a chart.") as dag:
        (
            InputOperator.from_callable(task_name="input")
            >> SchemaOf(task_name="schema")
            >> Prompt(PROMPT, json_schema=SQL_ANSWER_SCHEMA, task_name="prompt")
            >> AskModel(draft=True, task_name="model")
            >> SqlRound(task_name="answer")
        )
    return dag


scene = Scene(
    "chat_with_db_execute",
    "Chat Data",
    "Ask a question about your data: the model writes SQL, the query runs read-only"
    " and the answer comes back as a table or a chart.",
    ("DB Select",),
    needs="db",
    v2_modes=("chat_data", "chat_with_db_execute"),
    prompt=PROMPT,
    flow=flow,
)
