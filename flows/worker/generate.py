"""``POST /api/worker/generate_stream`` and ``POST /api/worker/generate``.

The stream is DB-GPT's: each chunk one JSON ``ModelOutput`` followed by a NUL byte, the text
in each chunk **cumulative** (``incremental: false``). A model that is not served, or fails,
is answered with DB-GPT's error output (``error_code`` 1, the reason in ``text``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from awel import DAG, MapOperator, StreamifyAbsOperator
from awel.trigger import HttpTrigger, ResponseKind
from operators.cluster.errors import NoWorkerManager
from operators.cluster.state import current_cluster
from operators.cluster.types import PromptRequest
from operators.cluster.worker import WorkerManager

_TAGS = ["Model worker"]


def manager() -> WorkerManager:
    found = current_cluster().manager
    if found is None:
        raise NoWorkerManager()
    return found


class GenerateStream(StreamifyAbsOperator[PromptRequest, dict[str, Any]]):
    async def streamify(self, input_value: PromptRequest) -> AsyncIterator[dict[str, Any]]:
        async for chunk in manager().generate_stream(input_value):
            yield chunk


async def generate(body: PromptRequest) -> dict[str, Any]:
    return await manager().generate(body)


with DAG("worker_generate_stream", description="Stream a model's answer.") as stream_dag:
    HttpTrigger(
        path="/api/worker/generate_stream",
        methods="POST",
        request_body=PromptRequest,
        streaming_response=True,
        stream_response=ResponseKind.NUL_JSON,
        summary="Generate, streamed (NUL-delimited ModelOutput)",
        tags=_TAGS,
        task_name="trigger",
    ) >> GenerateStream(task_name="generate")

with DAG("worker_generate", description="A model's whole answer.") as generate_dag:
    HttpTrigger(
        path="/api/worker/generate",
        methods="POST",
        request_body=PromptRequest,
        summary="Generate (one ModelOutput)",
        tags=_TAGS,
        task_name="trigger",
    ) >> MapOperator(map_function=generate, task_name="generate")
