"""The embeddings operator for flows: ``embeddings.embed``.

It takes texts (a string, a list of strings, or an :class:`EmbedRequest` naming the model)
and gives back :class:`Embeddings`: one unit-length float32 row per text, in input order,
and the token count that usage reports.

    nodes:
      vectors: {op: embeddings.embed, params: {model: all-minilm-l6-v2}}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from awel import MapOperator
from awel.registry import OperatorParams

from ..models import current_models

__all__ = ["Embed", "EmbedParams", "EmbedRequest", "Embeddings"]


class EmbedRequest(BaseModel):
    """Texts to embed, and the model to embed them with (None: the default one)."""

    texts: list[str]
    model: str | None = None


@dataclass(frozen=True, slots=True)
class Embeddings:
    """The vectors of some texts: row ``i`` belongs to text ``i``."""

    model: str
    vectors: npt.NDArray[np.float32]
    prompt_tokens: int


class EmbedParams(OperatorParams):
    model: str | None = Field(
        None, description="Embed with this model, whatever the request names (default: the set's)."
    )


class Embed(MapOperator[EmbedRequest | list[str] | str, Embeddings]):
    """Texts in, :class:`Embeddings` out."""

    Params = EmbedParams

    def __init__(self, model: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model

    async def map(self, input_value: EmbedRequest | list[str] | str) -> Embeddings:
        name = self.model
        if isinstance(input_value, EmbedRequest):
            texts = input_value.texts
            name = name or input_value.model
        else:
            texts = [input_value] if isinstance(input_value, str) else list(input_value)
        model = current_models().embedder(name)
        vectors = await model.embed(texts)
        # Usage counts the model's own tokens, as OpenAI's does.
        tokens = sum(model.count_tokens(t) for t in texts)
        return Embeddings(model.name, vectors, tokens)
