"""chat_knowledge: questions answered from the documents of the knowledge space
``select_param`` names, with the space's own prompt, and the sources cited at the end."""

from flows.chat.scenes._build import asks_model
from operators.chat.knowledge import KnowledgeRound
from operators.chat.scenes import Scene

scene = Scene(
    "chat_knowledge",
    "Chat Knowledge",
    "Ask questions answered from the documents of a knowledge space.",
    needs="space",
    v2_modes=("chat_knowledge",),
    flow=asks_model("Answer from a knowledge space, citing it.", KnowledgeRound, history=True),
)
