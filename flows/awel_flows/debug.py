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
from operators.userflows import debug, validate

_PREFIXES = {"v1": "/api/v1/serve/awel", "v2": "/api/v2/serve/awel"}


def _routes(version: str, prefix: str) -> tuple[DAG, DAG, DAG]:
    api = Api(prefix=prefix, tags=["AWEL flows"], response=ResponseKind.SERVE_RESULT)
    streaming = replace(api, stream=ResponseKind.SSE)
    with DAG(f"serve_awel_flow_debug_{version}", description="Run a flow that is not saved.") as d:
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
    check = api.flow(
        dag_id=f"serve_awel_flow_validate_{version}",
        path="/flow/validate",
        method="POST",
        body=validate.ValidateRequest,
        action=validate.validate,
        summary="Check flow YAML: every problem at its line, and the graph to draw",
    )
    schema = replace(api, response=ResponseKind.JSON).flow(
        dag_id=f"serve_awel_flow_schema_{version}",
        path="/flow/schema",
        method="GET",
        body=None,
        action=validate.schema,
        summary="The JSON Schema of flow files (operators and their params)",
    )
    return d, check, schema


debug_v1, validate_v1, schema_v1 = _routes("v1", _PREFIXES["v1"])
debug_v2, validate_v2, schema_v2 = _routes("v2", _PREFIXES["v2"])
