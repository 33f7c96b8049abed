"""``POST /api/v1/awel/trigger/examples/simple_chat``: DB-GPT's simple chat example.

The body is ``{"model": ..., "user_input": ...}``, both required; the answer is DB-GPT's
``ModelOutput.to_dict()``: ``{"error_code": 0, "text", "incremental": false,
"model_context", "finish_reason", "usage", "metrics"}``. A model name this server does not
serve is answered by the default model (DB-GPT's clients name the models of their own
deployment), and ``model_context.model`` says which one answered. No model, or one failing
midway, gives ``error_code`` 1 and the reason in ``text`` (HTTP 200), as DB-GPT's does.
"""

from __future__ import annotations

import contextlib

from pydantic import BaseModel, Field

from awel import DAG, MapOperator
from awel.trigger import HttpTrigger
from operators.llm.model_output import ToModelOutput
from operators.llm.operators import LLMStream
from operators.llm.types import ChatMessage, GenerationRequest
from operators.models import NoModel, current_models


class ChatInput(BaseModel):
    model: str = Field(description="The model to answer with (else the default model).")
    user_input: str = Field(description="What the user says.")


class ToRequest(MapOperator[ChatInput, GenerationRequest]):
    async def map(self, input_value: ChatInput) -> GenerationRequest:
        models = current_models()
        name = input_value.model
        if not models.has_llm(name):
            # With no model at all the name stays, and the answer says it does not exist
            # (error_code 1, as DB-GPT's worker manager answers when it finds no model).
            with contextlib.suppress(NoModel):
                name = models.llm().name
        message = ChatMessage(role="user", content=input_value.user_input)
        return GenerationRequest(model=name, messages=[message])


with DAG(
    "dbgpt_awel_simple_dag_example",
    description="Answer one user message with a language model (DB-GPT's ModelOutput).",
    tags={"label": "example"},
) as dag:
    trigger = HttpTrigger(
        "/examples/simple_chat",
        methods="POST",
        request_body=ChatInput,
        summary="Chat with a model",
        task_name="trigger",
    )
    (
        trigger
        >> ToRequest(task_name="request")
        >> LLMStream(task_name="llm")
        >> ToModelOutput(task_name="output")
    )
