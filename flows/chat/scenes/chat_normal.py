"""chat_normal: the model answers with the conversation's history in its prompt."""

from awel import DAG, InputOperator
from flows.chat.scenes._prompts import PROMPTS
from operators.chat.scene_ops import AskModel, Prompt, TextRound
from operators.chat.scenes import Scene

PROMPT = PROMPTS / "chat_normal.j2"


def flow() -> DAG:
    with DAG("scene_chat_normal", description="Chat with the model, history-aware.") as dag:
        (
            InputOperator.from_callable(task_name="input")
            >> Prompt(PROMPT, history=True, task_name="prompt")
            >> AskModel(task_name="model")
            >> TextRound(task_name="answer")
        )
    return dag


scene = Scene(
    "chat_normal",
    "Chat Normal",
    "Talk with the model; it remembers the conversation.",
    listed=False,
    v2_modes=("chat_normal",),
    prompt=PROMPT,
    flow=flow,
)
