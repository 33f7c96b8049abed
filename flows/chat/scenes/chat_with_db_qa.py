"""chat_with_db_qa: questions about a datasource's schema, answered from the summaries of
the tables most related to the question (embedding search); no SQL runs."""

from awel import DAG, InputOperator
from flows.chat.scenes._prompts import PROMPTS
from operators.chat.scene_ops import AskModel, Prompt, SchemaOf, TextRound

with DAG("scene_chat_with_db_qa", description="Answer questions about a schema.") as dag:
    (
        InputOperator.from_callable(task_name="input")
        >> SchemaOf(task_name="schema")
        >> Prompt(PROMPTS / "db_qa.j2", history=True, task_name="prompt")
        >> AskModel(task_name="model")
        >> TextRound(task_name="answer")
    )
