"""``GET /api/v1/models``: the models this server answers with, OpenAI's model list."""

from __future__ import annotations

from awel import DAG
from flows.model_api._api import api
from operators.openai.models import ListModels

with DAG("openai_models", description="The models this server answers with.") as dag:
    api.trigger(path="/api/v1/models", method="GET", summary="List models") >> ListModels(
        task_name="list"
    )
