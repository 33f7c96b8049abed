"""``knowledge.retrieve``: the chunks of a knowledge space closest to a question, for flows.

    nodes:
      found: {op: knowledge.retrieve, params: {space: handbook, top_k: 4}}

The input is the question (a string); the output the chunks found, best first, each with
its text, metadata, document name and score (:class:`RetrievedChunk`).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from awel import MapOperator
from awel.registry import OperatorParams

from .arguments import SpaceArguments
from .base import RetrievedChunk
from .current import current_knowledge

__all__ = ["KnowledgeRetrieve", "KnowledgeRetrieveParams"]


class KnowledgeRetrieveParams(OperatorParams):
    space: str = Field(description="The knowledge space to search, by name.")
    top_k: int | None = Field(
        None, ge=1, le=100, description="Most chunks returned (default: the space's topk)."
    )
    score_threshold: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        description="Least cosine similarity a chunk needs (default: the space's recall_score).",
    )


class KnowledgeRetrieve(MapOperator[str, list[RetrievedChunk]]):
    """A question in, the space's closest chunks out (best first)."""

    Params = KnowledgeRetrieveParams

    def __init__(
        self,
        space: str,
        top_k: int | None = None,
        score_threshold: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.space = space
        self.top_k = top_k
        self.score_threshold = score_threshold

    async def map(self, input_value: str) -> list[RetrievedChunk]:
        kb = current_knowledge()
        space = await kb.store.spaces.require(self.space)
        threshold = self.score_threshold
        if threshold is None:
            threshold = SpaceArguments.of(space.context).embedding.recall_score
        return await kb.retrieve_in(space, input_value, top_k=self.top_k, score_threshold=threshold)
