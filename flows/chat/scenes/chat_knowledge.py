"""chat_knowledge: not served yet; says so in the stream."""

from awel import DAG, InputOperator
from operators.chat.scene_ops import NotAvailable
from operators.chat.scenes import Scene


def flow() -> DAG:
    with DAG("scene_chat_knowledge", description="Not available yet.") as dag:
        InputOperator.from_callable(task_name="input") >> NotAvailable(
            "knowledge spaces come with their own issue", task_name="answer"
        )
    return dag


scene = Scene(
    "chat_knowledge",
    "Chat Knowledge",
    "Ask questions answered from the documents of a knowledge space.",
    ("Knowledge Space Select",),
    needs="space",
    available=False,
    v2_modes=("chat_knowledge",),
    flow=flow,
)
