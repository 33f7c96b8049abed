"""chat_flow: the question goes to the user's flow whose id is ``select_param`` (as DB-GPT's
``CommonLLMHttpRequestBody``), and what it answers is the round's answer."""

from flows.chat.scenes._build import runs_named
from operators.chat.scene_ops import RunFlow
from operators.chat.scenes import Scene

scene = Scene(
    "chat_flow",
    "Flow Chat",
    "Send the question to a deployed AWEL flow and stream its answer.",
    needs="flow",
    listed=False,
    v2_modes=("chat_flow",),
    flow=runs_named("Run a named flow.", lambda: RunFlow(task_name="flow")),
)
