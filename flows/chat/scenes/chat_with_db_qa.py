"""chat_with_db_qa: questions about a datasource's schema, answered from the summaries of
the tables most related to the question (embedding search); no SQL runs."""

from flows.chat.scenes._build import PROMPTS, asks_model
from operators.chat.scene_ops import TextRound
from operators.chat.scenes import Scene

scene = Scene(
    "chat_with_db_qa",
    "Chat DB",
    "Ask about a database's tables and columns: the model answers from its schema"
    " without running any query.",
    needs="db",
    v2_modes=("chat_with_db_qa",),
    prompt=PROMPTS / "db_qa.j2",
    flow=asks_model("Answer questions about a schema.", TextRound, history=True),
)
