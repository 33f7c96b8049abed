"""chat_with_db_qa: questions about a datasource's schema, answered from the summaries of
the tables most related to the question (embedding search); no SQL runs."""

from awel import DAG, InputOperator
from flows.chat.scenes._prompts import PROMPTS
from operators.chat.scene_ops import AskModel, Prompt, SchemaOf, TextRound
from operators.chat.scenes import Scene

PROMPT = PROMPTS / "db_qa.j2"


def flow() -> DAG:
    with DAG("scene_chat_with_db_qa", description="Answer questions about a schema.") as dag:
        (
            InputOperator.from_callable(task_name="input")
            >> SchemaOf(task_name="schema")
            >> Prompt(PROMPT, history=True, task_name="prompt")
            >> AskModel(task_name="model")
            >> TextRound(task_name="answer")
        )
    return dag


scene = Scene(
    "chat_with_db_qa",
    "Chat DB",
    "Ask about a database's tables and columns: the model answers from its schema"
    " without running any query.",
    ("DB Select",),
    needs="db",
    v2_modes=("chat_with_db_qa",),
    prompt=PROMPT,
    flow=flow,
)
