"""``GET /api/v1/models``: the models this server answers with, OpenAI's model list."""

from __future__ import annotations

from typing import Any

from awel import DAG, MapOperator
from flows.model_api._openai import card, openai_trigger
from operators.models import current_models


class ListModels(MapOperator[Any, dict[str, Any]]):
    async def map(self, input_value: Any) -> dict[str, Any]:
        return {"object": "list", "data": [card(m) for m in current_models().cards()]}


with DAG("openai_models", description="The models this server answers with.") as dag:
    openai_trigger("/api/v1/models", None, summary="List models", methods="GET") >> ListModels(
        task_name="list"
    )
