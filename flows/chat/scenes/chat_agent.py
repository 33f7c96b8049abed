"""chat_agent (v2's chat_app): not served yet; says so in the stream."""

from awel import DAG, InputOperator
from operators.chat.scene_ops import NotAvailable
from operators.chat.scenes import Scene


def flow() -> DAG:
    with DAG("scene_chat_agent", description="Not available yet.") as dag:
        InputOperator.from_callable(task_name="input") >> NotAvailable(
            "agent apps come with their own issue", task_name="answer"
        )
    return dag


scene = Scene(
    "chat_agent",
    "Agent Chat",
    "Talk to an app made of cooperating agents and their tools.",
    ("Plugin Select",),
    # The app (v2's chat_param) that would answer.
    needs="app",
    available=False,
    v2_modes=("chat_app",),
    stream_only=True,
    flow=flow,
)
