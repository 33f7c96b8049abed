"""Sentence embeddings from an encoder's token states: pooling and normalisation in numpy.

The exported encoder graph stops at the last hidden state; pooling happens here, in the
worker, so one graph serves every pooling mode a model asks for (its build manifest says
which) and a batch padded to its longest sentence pools exactly like one sentence alone.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["cls_pool", "l2_normalize", "mean_pool", "pool"]

FloatArray = npt.NDArray[np.float32]


def mean_pool(hidden: npt.NDArray[np.floating], mask: npt.NDArray[np.integer]) -> FloatArray:
    """The average of each sequence's token states over its real (mask 1) tokens.

    ``hidden`` is (batch, tokens, dim), ``mask`` (batch, tokens); padding contributes nothing.
    """
    weights = mask.astype(np.float32)[..., None]
    summed = (hidden.astype(np.float32) * weights).sum(axis=1)
    # An all-padding row would divide by zero; sentence-transformers clamps the same way.
    counts = np.clip(weights.sum(axis=1), 1e-9, None)
    pooled: FloatArray = (summed / counts).astype(np.float32)
    return pooled


def cls_pool(hidden: npt.NDArray[np.floating], mask: npt.NDArray[np.integer]) -> FloatArray:
    """The first token's state of each sequence."""
    del mask
    return hidden[:, 0].astype(np.float32)


def l2_normalize(vectors: npt.NDArray[np.floating]) -> FloatArray:
    """Each row scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    scaled: FloatArray = (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)
    return scaled


def pool(
    hidden: npt.NDArray[np.floating],
    mask: npt.NDArray[np.integer],
    *,
    mode: str = "mean",
    normalize: bool = True,
) -> FloatArray:
    """Pool token states into one vector per sequence, as a model's manifest prescribes."""
    if mode == "mean":
        vectors = mean_pool(hidden, mask)
    elif mode == "cls":
        vectors = cls_pool(hidden, mask)
    else:
        raise ValueError(f"unknown pooling mode {mode!r} (expected 'mean' or 'cls')")
    return l2_normalize(vectors) if normalize else vectors
