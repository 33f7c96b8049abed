"""Hello, AWEL: a trigger and one map, the smallest useful flow.

    awel run examples/hello.py --input '{"name": "Alice", "age": 30}'

The same flow in YAML is examples/hello.yaml. Once the server exists (``make serve``), the
trigger also answers ``POST /api/v1/awel/trigger/examples/greet`` with the same JSON body.
"""

from __future__ import annotations

from typing import Any

from awel import DAG, MapOperator
from awel.trigger import HttpTrigger


class GreetOperator(MapOperator[dict[str, Any], str]):
    """Formats a greeting from a dict with ``name`` and ``age``."""

    async def map(self, input_value: dict[str, Any]) -> str:
        return f"Hello, {input_value['name']}, your age is {input_value['age']}"


with DAG("examples.hello", description="Greets a person by name and age.") as dag:
    trigger = HttpTrigger("/examples/greet", methods="POST", request_body=dict, task_name="trigger")
    greet = GreetOperator(task_name="greet")
    trigger >> greet
