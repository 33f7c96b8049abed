"""Editing flows: run one that is not saved (``/flow/debug``, streamed), check one as it is
typed (``/flow/validate``, our extension) and the flow files' JSON Schema (``/flow/schema``,
ours), under both ``/api/v1/serve/awel`` and ``/api/v2/serve/awel``.

``/flow/debug`` streams DB-GPT's ``data:<text>`` form by default and one JSON event per node
step with ``format: "nodes"`` (the flow editor's run view); see
:mod:`operators.userflows.debug`.
"""

from __future__ import annotations

from dataclasses import replace

from awel import DAG
from awel.trigger import ResponseKind
from flows._route import Api
from flows.awel_flows._api import serve_awel
from operators.userflows import debug, validate

both = serve_awel(tags=["AWEL flows"], response=ResponseKind.SERVE_RESULT)


def _debug(api: Api) -> DAG:
    streaming = replace(api, stream=ResponseKind.SSE)
    with DAG(
        f"serve_awel_flow_debug{api.dag_id_suffix}", description="Run a flow that is not saved."
    ) as d:
        (
            streaming.trigger(
                path="/flow/debug",
                method="POST",
                body=debug.DebugRequest,
                summary="Run a flow that is not saved, streaming its output or each node's",
            )
            >> debug.PrepareDebug(task_name="prepare")
            >> debug.DebugStream(task_name="run")
        )
    return d


debug_v1, debug_v2 = both(_debug)
validate_v1, validate_v2 = both(
    lambda at: at.flow(
        dag_id="serve_awel_flow_validate",
        path="/flow/validate",
        method="POST",
        body=validate.ValidateRequest,
        action=validate.validate,
        summary="Check flow YAML: every problem at its line, and the graph to draw",
    )
)
schema_v1, schema_v2 = both.replace(response=ResponseKind.JSON)(
    lambda at: at.flow(
        dag_id="serve_awel_flow_schema",
        path="/flow/schema",
        method="GET",
        body=None,
        action=validate.schema,
        summary="The JSON Schema of flow files (operators and their params)",
    )
)
