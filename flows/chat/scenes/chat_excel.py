"""chat_excel: text-to-SQL over the uploaded file's DuckDB table, and the learning round
(:func:`learning`) that describes a freshly uploaded file."""

from awel import DAG, InputOperator
from flows.chat.scenes._prompts import PROMPTS
from operators.chat.answer import SQL_ANSWER_SCHEMA
from operators.chat.scene_ops import AskModel, ExcelTable, Prompt, SqlRound, TextRound
from operators.chat.scenes import Scene

PROMPT = PROMPTS / "excel.j2"
LEARNING_PROMPT = PROMPTS / "excel_learning.j2"


def flow() -> DAG:
    with DAG("scene_chat_excel", description="Text-to-SQL over an uploaded file.") as dag:
        (
            InputOperator.from_callable(task_name="input")
            >> ExcelTable(task_name="table")
            >> Prompt(PROMPT, json_schema=SQL_ANSWER_SCHEMA, task_name="prompt")
            >> AskModel(draft=True, task_name="model")
            >> SqlRound(task_name="answer")
        )
    return dag


def learning() -> DAG:
    with DAG("scene_excel_learning", description="Describe an uploaded file.") as dag:
        (
            InputOperator.from_callable(task_name="input")
            >> ExcelTable(task_name="table")
            >> Prompt(LEARNING_PROMPT, task_name="prompt")
            >> AskModel(task_name="model")
            >> TextRound(task_name="answer")
        )
    return dag


scene = Scene(
    "chat_excel",
    "Chat Excel",
    "Upload a CSV, Excel, JSON or Parquet file and ask questions about it in plain language.",
    ("File Select",),
    needs="file",
    prompt=PROMPT,
    flow=flow,
)
