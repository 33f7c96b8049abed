"""chat_knowledge: not served yet; says so in the stream."""

from flows.chat.scenes._build import not_available
from operators.chat.scenes import Scene

scene = Scene(
    "chat_knowledge",
    "Chat Knowledge",
    "Ask questions answered from the documents of a knowledge space.",
    needs="space",
    available=False,
    v2_modes=("chat_knowledge",),
    flow=not_available("knowledge spaces come with their own issue"),
)
