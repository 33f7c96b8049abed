"""chat_flow: the question goes to the user's flow whose id is ``select_param`` (as DB-GPT's
``CommonLLMHttpRequestBody``), and what it answers is the round's answer."""

from awel import DAG, InputOperator
from operators.chat.scene_ops import RunFlow
from operators.chat.scenes import Scene


def flow(scene: Scene) -> DAG:
    with DAG(f"scene_{scene.code}", description="Run a named flow.") as dag:
        InputOperator.from_callable(task_name="input") >> RunFlow(task_name="flow")
    return dag


scene = Scene(
    "chat_flow",
    "Flow Chat",
    "Send the question to a deployed AWEL flow and stream its answer.",
    needs="flow",
    listed=False,
    v2_modes=("chat_flow",),
    flow=flow,
)
