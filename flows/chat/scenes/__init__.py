"""The chat scenes: each module holds a scene's flow and its :class:`Scene` record.

The records are declared here, once, in DB-GPT 0.8.2's order (the order of
``dialogue/scenes`` and of the unknown-scene error), with the order v2 lists its modes in.
"""

from flows.chat.scenes import (
    chat_agent,
    chat_dashboard,
    chat_excel,
    chat_flow,
    chat_knowledge,
    chat_normal,
    chat_with_db_execute,
    chat_with_db_qa,
)
from operators.chat.scenes import Scene, register_scenes

#: Every scene, in DB-GPT 0.8.2's order.
SCENES: tuple[Scene, ...] = (
    chat_with_db_execute.scene,
    chat_with_db_qa.scene,
    chat_excel.scene,
    chat_knowledge.scene,
    chat_dashboard.scene,
    chat_agent.scene,
    chat_normal.scene,
    chat_flow.scene,
)

register_scenes(
    SCENES,
    v2_order=(
        "chat_normal",
        "chat_agent",
        "chat_flow",
        "chat_knowledge",
        "chat_with_db_execute",
        "chat_with_db_qa",
        "chat_dashboard",
    ),
)

#: Builds the inner scene that describes an uploaded file.
excel_learning = chat_excel.learning
