"""``POST /api/worker/generate_stream`` and ``POST /api/worker/generate``.

The stream is DB-GPT's: each chunk one JSON ``ModelOutput`` followed by a NUL byte, the text
in each chunk **cumulative** (``incremental: false``). A model that is not served, or fails,
is answered with DB-GPT's error output (``error_code`` 1, the reason in ``text``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from awel import DAG, StreamifyAbsOperator
from awel.errors import ApiError
from awel.trigger import ResponseKind
from flows._route import Api
from operators.cluster.state import current_cluster
from operators.cluster.types import PromptRequest
from operators.cluster.worker import WorkerManager

api = Api(tags=["Model worker"])


def manager() -> WorkerManager:
    found = current_cluster().manager
    if found is None:
        raise ApiError(503, "this process runs no worker manager", code="E0003")
    return found


class GenerateStream(StreamifyAbsOperator[PromptRequest, dict[str, Any]]):
    async def streamify(self, input_value: PromptRequest) -> AsyncIterator[dict[str, Any]]:
        async for chunk in manager().generate_stream(input_value):
            yield chunk


async def generate(body: PromptRequest) -> dict[str, Any]:
    return await manager().generate(body)


with DAG("worker_generate_stream", description="Stream a model's answer.") as stream_dag:
    api.trigger(
        path="/api/worker/generate_stream",
        method="POST",
        body=PromptRequest,
        summary="Generate, streamed (NUL-delimited ModelOutput)",
        stream=ResponseKind.NUL_JSON,
    ) >> GenerateStream(task_name="generate")

generate_dag = api.flow(
    dag_id="worker_generate",
    path="/api/worker/generate",
    method="POST",
    body=PromptRequest,
    action=generate,
    summary="Generate (one ModelOutput)",
    description="A model's whole answer.",
    node="generate",
)
