"""``POST /api/v1/embeddings``: OpenAI's embeddings, as float lists or base64."""

from __future__ import annotations

from awel import DAG
from flows.model_api._api import api
from operators.embed.operators import Embed
from operators.openai.embeddings import EmbeddingsAnswer, Texts
from operators.openai.requests import EmbeddingsRequest

with DAG("openai_embeddings", description="OpenAI's embeddings.") as dag:
    trigger = api.trigger(
        path="/api/v1/embeddings", method="POST", body=EmbeddingsRequest, summary="Embeddings"
    )
    (
        trigger
        >> Texts(task_name="texts")
        >> Embed(task_name="embed")
        >> EmbeddingsAnswer(task_name="answer")
    )
