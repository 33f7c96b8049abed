"""chat_agent (v2's chat_app): the question goes to the installed agent ``select_param``
names (its entry flow), among the asking user's installs."""

from flows.chat.scenes._build import runs_named
from operators.agents.chat import RunAgent
from operators.chat.scenes import Scene

scene = Scene(
    "chat_agent",
    "Agent Chat",
    "Talk to an app made of cooperating agents and their tools.",
    # The installed agent that answers (v2's chat_param).
    needs="app",
    v2_modes=("chat_app",),
    stream_only=True,
    flow=runs_named("Run an installed agent.", lambda: RunAgent(task_name="agent")),
)
