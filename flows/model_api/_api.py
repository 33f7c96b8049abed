"""What the model API's routes share: OpenAI's error shape, and streams that end with
``[DONE]`` (also after an error event, which openai-python raises as ``APIError``); and the
graph of the two generating routes, a branch on ``stream`` (:func:`generation`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from awel import BranchOperator, MapOperator
from awel.operators import EitherJoin
from awel.trigger import HttpTrigger
from flows._route import Api
from operators.llm.operators import LLMGenerate, LLMStream
from operators.llm.types import GenerationRequest
from operators.openai.answers import (
    TRIGGER,
    AnswerWriter,
    ChunkWriter,
    is_stream_request,
    is_value_request,
)

api = Api(
    tags=["OpenAI"], errors="openai", sse_end="[DONE]", stream_errors="openai", trigger_name=TRIGGER
)


def generation(
    trigger: HttpTrigger,
    *,
    requests: Callable[..., MapOperator[Any, list[GenerationRequest]]],
    chunks: Callable[..., ChunkWriter],
    answer: Callable[..., AnswerWriter],
) -> None:
    """The graph of a generating route, built after its ``trigger`` in the same ``with DAG``
    block: the trigger hands the body to a branch on ``stream``; one side streams the
    model's deltas and writes them as ``chunks``, the other waits for the whole answers and
    writes one ``answer`` object; a join passes on whichever ran."""
    branch = BranchOperator[Any](
        {is_stream_request: "stream_requests", is_value_request: "requests"},
        task_name="stream_or_not",
    )
    join = EitherJoin(task_name="answer")
    trigger >> branch
    (
        branch
        >> requests(task_name="stream_requests")
        >> LLMStream(task_name="llm_stream")
        >> chunks(task_name="chunks")
        >> join
    )
    (
        branch
        >> requests(task_name="requests")
        >> LLMGenerate(task_name="llm")
        >> answer(task_name="completion")
        >> join
    )
