"""``GET /api/v1/models/{model}``: one model's card, or 404 (SDKs probe with it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from awel import DAG, MapOperator
from flows.model_api._openai import card, openai_trigger
from operators.models import current_models


class ModelPath(BaseModel):
    model: str = Field(description="A model id.")


class OneModel(MapOperator[ModelPath, dict[str, Any]]):
    async def map(self, input_value: ModelPath) -> dict[str, Any]:
        return card(current_models().card(input_value.model))


with DAG("openai_model", description="One model's card.") as dag:
    openai_trigger(
        "/api/v1/models/{model}", ModelPath, summary="Retrieve a model", methods="GET"
    ) >> OneModel(task_name="card")
