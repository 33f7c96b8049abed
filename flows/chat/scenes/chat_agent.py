"""chat_agent (v2's chat_app): not served yet; says so in the stream."""

from flows.chat.scenes._build import not_available
from operators.chat.scenes import Scene

scene = Scene(
    "chat_agent",
    "Agent Chat",
    "Talk to an app made of cooperating agents and their tools.",
    # The app (v2's chat_param) that would answer.
    needs="app",
    available=False,
    v2_modes=("chat_app",),
    stream_only=True,
    flow=not_available("agent apps come with their own issue"),
)
