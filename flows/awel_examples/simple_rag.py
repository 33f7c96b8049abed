"""``POST /api/v1/awel/trigger/examples/simple_rag``: DB-GPT's RAG example (up to 0.4).

The body is DB-GPT's ``ConversationVo``: ``{conv_uid, model_name, chat_mode:
"chat_knowledge", user_input, select_param: <space name>}``. The space's chunks closest to
the question (its ``topk`` and ``recall_score``) fill its prompt template, and the model's
answer comes back as DB-GPT's ``ModelOutput.to_dict()``, as ``examples/simple_chat``
answers. An unknown space is refused (400 ``knowledge.space_not_found``).
"""

from __future__ import annotations

from awel import DAG
from flows.awel_examples._trigger import example_post
from operators.knowledge.examples import RagPrompt, RagRequest, Recall
from operators.llm.model_output import ToModelOutput
from operators.llm.operators import LLMStream

with DAG(
    "simple_rag_example",
    description="Answer a question from a knowledge space: retrieve, prompt, generate.",
    tags={"label": "example"},
) as dag:
    trigger = example_post("/examples/simple_rag", RagRequest, "Answer from a knowledge space")
    retrieve = Recall(task_name="retrieve")
    prompt = RagPrompt(task_name="request")
    trigger >> retrieve >> prompt >> LLMStream(task_name="llm") >> ToModelOutput(task_name="output")
