"""``POST /api/worker/generate_stream`` and ``POST /api/worker/generate``.

The stream is DB-GPT's: each chunk one JSON ``ModelOutput`` followed by a NUL byte, the text
in each chunk **cumulative** (``incremental: false``). A model that is not served, or fails,
is answered with DB-GPT's error output (``error_code`` 1, the reason in ``text``).
"""

from __future__ import annotations

from dataclasses import replace

from awel import DAG
from awel.trigger import ResponseKind
from flows._route import Api
from operators.cluster import worker_ops as ops
from operators.cluster.types import PromptRequest

api = Api(tags=["Model worker"], node=None, described_by_action=True)
streaming_api = replace(api, stream=ResponseKind.NUL_JSON)


with DAG("worker_generate_stream", description="Stream a model's answer.") as stream_dag:
    streaming_api.trigger(
        path="/api/worker/generate_stream",
        method="POST",
        body=PromptRequest,
        summary="Generate, streamed (NUL-delimited ModelOutput)",
    ) >> ops.GenerateStream(task_name="generate")

generate_dag = api.flow(
    dag_id="worker_generate",
    path="/api/worker/generate",
    method="POST",
    body=PromptRequest,
    action=ops.generate,
    summary="Generate (one ModelOutput)",
)
