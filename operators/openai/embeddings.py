"""OpenAI's embeddings: the body as an embedding request, and the vectors as OpenAI's list.

Vectors come back as float lists, or with ``encoding_format: base64`` as the base64 of
their little-endian float32 bytes, which openai-python asks for by default and decodes.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from awel import MapOperator
from awel.errors import BadRequest
from operators.embed.operators import Embeddings, EmbedRequest
from operators.models import current_models

from .answers import TRIGGER
from .requests import EmbeddingsRequest, note_ignored


class Texts(MapOperator[EmbeddingsRequest, EmbedRequest]):
    async def map(self, input_value: EmbeddingsRequest) -> EmbedRequest:
        body = input_value
        note_ignored(body)
        model = current_models().embedder(body.model)
        if body.dimensions is not None and body.dimensions > model.dimension:
            raise BadRequest(
                f"dimensions is {body.dimensions}, but '{body.model}' makes vectors of"
                f" {model.dimension}",
                code="request.invalid_value",
                param="dimensions",
            )
        texts = [body.input] if isinstance(body.input, str) else body.input
        return EmbedRequest(texts=texts, model=body.model)


class EmbeddingsAnswer(MapOperator[Embeddings, dict[str, Any]]):
    async def map(self, input_value: Embeddings) -> dict[str, Any]:
        body: EmbeddingsRequest = self.current_dag_context.get_task_output(TRIGGER)
        vectors = input_value.vectors
        if body.dimensions is not None and body.dimensions < vectors.shape[1]:
            # OpenAI's shortened embeddings: the first d dimensions, unit length again.
            vectors = vectors[:, : body.dimensions]
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.maximum(norms, 1e-12)
        vectors = np.ascontiguousarray(vectors, dtype="<f4")
        if body.encoding_format == "base64":
            encoded: list[Any] = [base64.b64encode(row.tobytes()).decode() for row in vectors]
        else:
            encoded = vectors.tolist()
        tokens = input_value.prompt_tokens
        return {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(encoded)
            ],
            "model": body.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
