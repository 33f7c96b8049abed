"""chat_excel: text-to-SQL over the uploaded file's DuckDB table, and the learning round
(:func:`learning`) that describes a freshly uploaded file."""

from awel import DAG
from flows.chat.scenes._build import PROMPTS, asks_model, model_chain
from operators.chat.scene_ops import SqlRound, TextRound
from operators.chat.scenes import Scene


def learning() -> DAG:
    return model_chain(
        "scene_excel_learning",
        "Describe an uploaded file.",
        needs="file",
        prompt=PROMPTS / "excel_learning.j2",
        answer=TextRound,
    )


scene = Scene(
    "chat_excel",
    "Chat Excel",
    "Upload a CSV, Excel, JSON or Parquet file and ask questions about it in plain language.",
    needs="file",
    prompt=PROMPTS / "excel.j2",
    flow=asks_model("Text-to-SQL over an uploaded file.", SqlRound),
)
