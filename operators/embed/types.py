"""What an embeddings model takes and gives back, whoever runs it."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["EmbeddingModel"]


@runtime_checkable
class EmbeddingModel(Protocol):
    """A model that turns texts into unit-length vectors (one float32 row per text).

    Safe to call from many tasks at once: concurrent calls are batched together.
    """

    name: str
    dimension: int

    async def embed(self, texts: list[str]) -> npt.NDArray[np.float32]: ...

    def count_tokens(self, text: str) -> int: ...

    async def aclose(self) -> None: ...
