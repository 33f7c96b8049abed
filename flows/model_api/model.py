"""``GET /api/v1/models/{model}``: one model's card, or 404 (SDKs probe with it)."""

from __future__ import annotations

from awel import DAG
from flows.model_api._api import api
from operators.openai.models import OneModel
from operators.openai.requests import ModelPath

with DAG("openai_model", description="One model's card.") as dag:
    api.trigger(
        path="/api/v1/models/{model}", method="GET", body=ModelPath, summary="Retrieve a model"
    ) >> OneModel(task_name="card")
