"""chat_flow: the question goes to the loaded flow whose id is ``select_param`` (as DB-GPT's
``CommonLLMHttpRequestBody``), and what it answers is the round's answer."""

from awel import DAG, InputOperator
from operators.chat.scene_ops import RunFlow

with DAG("scene_chat_flow", description="Run a named flow.") as dag:
    InputOperator.from_callable(task_name="input") >> RunFlow(task_name="flow")
