"""chat_knowledge and chat_agent: not served yet; each says so in the stream."""

from awel import DAG, InputOperator
from operators.chat.scene_ops import NotAvailable

with DAG("scene_chat_knowledge", description="Not available yet.") as knowledge:
    InputOperator.from_callable(task_name="input") >> NotAvailable(
        "knowledge spaces come with their own issue", task_name="answer"
    )

with DAG("scene_chat_agent", description="Not available yet.") as agent:
    InputOperator.from_callable(task_name="input") >> NotAvailable(
        "agent apps come with their own issue", task_name="answer"
    )
