"""DB-GPT's ``POST /api/v1/beta/relevance``: how relevant each document is to a query.

DB-GPT asks a reranker (a cross-encoder) for the scores. awel serves no rerankers, so the
named model is an embedding model and each score is the cosine similarity of the query's
vector and the document's (in [-1, 1]; higher is more relevant). The answer is DB-GPT's:
``{"object": "list", "model", "data": [score per document, in their order], "usage"}``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from awel import MapOperator
from operators.embed.operators import Embeddings, EmbedRequest
from operators.models import current_models

from .answers import TRIGGER
from .requests import Body, note_ignored

__all__ = ["MAX_DOCUMENTS", "RelevanceAnswer", "RelevanceRequest", "RelevanceTexts"]

#: The most documents one request scores.
MAX_DOCUMENTS = 1000


class RelevanceRequest(Body):
    """POST /api/v1/beta/relevance."""

    model: str = Field(description="An embeddings model id from GET /api/v1/models.")
    query: str = Field(min_length=1, description="What the documents should answer.")
    documents: list[str] = Field(
        min_length=1, max_length=MAX_DOCUMENTS, description="The texts to score."
    )
    user: str | None = None


class RelevanceTexts(MapOperator[RelevanceRequest, EmbedRequest]):
    """The query, then the documents, to embed with the named model."""

    async def map(self, input_value: RelevanceRequest) -> EmbedRequest:
        body = input_value
        note_ignored(body)
        current_models().embedder(body.model)  # a missing or wrong model, named first
        return EmbedRequest(texts=[body.query, *body.documents], model=body.model)


class RelevanceAnswer(MapOperator[Embeddings, dict[str, Any]]):
    async def map(self, input_value: Embeddings) -> dict[str, Any]:
        body: RelevanceRequest = self.current_dag_context.get_task_output(TRIGGER)
        vectors = input_value.vectors.astype(np.float64)
        norms = np.maximum(np.linalg.norm(vectors, axis=1), 1e-12)
        unit = vectors / norms[:, None]
        scores = unit[1:] @ unit[0]
        tokens = input_value.prompt_tokens
        return {
            "object": "list",
            "model": body.model,
            "data": [round(float(s), 6) for s in scores],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0},
        }
