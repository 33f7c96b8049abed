"""chat_normal: the model answers with the conversation's history in its prompt."""

from flows.chat.scenes._build import PROMPTS, asks_model
from operators.chat.scene_ops import TextRound
from operators.chat.scenes import Scene

scene = Scene(
    "chat_normal",
    "Chat Normal",
    "Talk with the model; it remembers the conversation.",
    listed=False,
    v2_modes=("chat_normal",),
    prompt=PROMPTS / "chat_normal.j2",
    flow=asks_model("Chat with the model, history-aware.", TextRound, history=True),
)
