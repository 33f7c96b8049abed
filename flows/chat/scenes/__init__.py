"""The scene flows by chat mode: each takes a SceneCall and streams its round."""

from awel import BaseOperator
from flows.chat.scenes import (
    chat_dashboard,
    chat_excel,
    chat_flow,
    chat_normal,
    chat_with_db_execute,
    chat_with_db_qa,
    not_available,
)

#: chat mode -> the node whose stream is the round.
SCENE_FLOWS: dict[str, BaseOperator] = {
    "chat_normal": chat_normal.dag.output_node,
    "chat_with_db_qa": chat_with_db_qa.dag.output_node,
    "chat_with_db_execute": chat_with_db_execute.dag.output_node,
    "chat_excel": chat_excel.dag.output_node,
    "chat_dashboard": chat_dashboard.dag.output_node,
    "chat_flow": chat_flow.dag.output_node,
    "chat_knowledge": not_available.knowledge.output_node,
    "chat_agent": not_available.agent.output_node,
}
#: The inner scene that describes an uploaded file.
EXCEL_LEARNING: BaseOperator = chat_excel.learning.output_node
