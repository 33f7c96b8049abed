"""A space's arguments: how its documents are split and retrieved, and its prompt.

DB-GPT keeps them as JSON in the space's ``context`` and shows them through
``/knowledge/{space}/arguments``; the shape is DB-GPT's (``embedding``, ``prompt``,
``summary``), its values read leniently (the web UI sends numbers as strings) and unknown
keys kept, so what a client saved reads back as it was.

Sizes are in tokens of the space's embeddings model (DB-GPT counts characters); a chunk
longer than the model reads would be cut when embedded, so the splitter caps the size at
the model's limit.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_TEMPLATE", "EmbeddingArguments", "PromptArguments", "SpaceArguments"]

#: The knowledge chat's prompt: ``{context}`` is the retrieved chunks, ``{question}`` the
#: user's question.
DEFAULT_TEMPLATE = (
    "Answer the question using only the known information below. If it does not contain the"
    ' answer, say "The knowledge base does not say." Do not make anything up.\n\n'
    "Known information:\n{context}\n\nQuestion: {question}"
)


class _Lenient(BaseModel):
    # Keys a client saved that we do not use are kept, so they read back.
    model_config = ConfigDict(extra="allow")


class EmbeddingArguments(_Lenient):
    """Retrieval and splitting settings (DB-GPT's ``embedding`` section)."""

    topk: int = Field(5, ge=1, le=100, description="Chunks retrieved per question.")
    recall_score: float = Field(
        0.3, ge=-1.0, le=1.0, description="Least cosine similarity a retrieved chunk has."
    )
    recall_type: str = Field("TopK", description="How chunks are picked (only TopK here).")
    model: str | None = Field(
        None, description="The embeddings model (None: the server's default one)."
    )
    chunk_size: int = Field(
        200, ge=16, description="Most tokens in a chunk (capped at what the model reads)."
    )
    chunk_overlap: int = Field(20, ge=0, description="Tokens neighbouring chunks may share.")


class PromptArguments(_Lenient):
    """The knowledge chat's prompt (DB-GPT's ``prompt`` section)."""

    max_token: int = Field(2000, ge=1, description="Most tokens of context put in the prompt.")
    scene: str = Field("", description="A line describing the assistant, put first.")
    template: str = Field(DEFAULT_TEMPLATE, description="With {context} and {question}.")


class SummaryArguments(_Lenient):
    """DB-GPT's document summary settings, kept for its clients."""

    max_iteration: int = 5
    concurrency_limit: int = 3


class SpaceArguments(_Lenient):
    """Everything a space's ``context`` holds."""

    embedding: EmbeddingArguments = Field(default_factory=EmbeddingArguments)
    prompt: PromptArguments = Field(default_factory=PromptArguments)
    summary: SummaryArguments = Field(default_factory=SummaryArguments)

    @classmethod
    def of(cls, context: dict[str, Any] | None) -> SpaceArguments:
        """The arguments a stored ``context`` holds (defaults for what it lacks)."""
        return cls.model_validate(context or {})

    def context(self) -> dict[str, Any]:
        """The JSON to store in the space's ``context``."""
        return self.model_dump(mode="json")
