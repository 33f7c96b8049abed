"""OpenAI's model list and model cards, of the models this process answers with."""

from __future__ import annotations

from typing import Any

from awel import MapOperator
from operators.models import ModelCard, current_models

from .requests import ModelPath


def card(model: ModelCard) -> dict[str, Any]:
    """A model list entry; ``root`` and ``parent`` as vLLM and DB-GPT's API server write them."""
    return {
        "id": model.id,
        "object": "model",
        "created": model.created,
        "owned_by": model.owned_by,
        "root": model.id,
        "parent": None,
    }


class ListModels(MapOperator[Any, dict[str, Any]]):
    async def map(self, input_value: Any) -> dict[str, Any]:
        return {"object": "list", "data": [card(m) for m in current_models().cards()]}


class OneModel(MapOperator[ModelPath, dict[str, Any]]):
    async def map(self, input_value: ModelPath) -> dict[str, Any]:
        return card(current_models().card(input_value.model))
