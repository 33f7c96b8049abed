"""Embeddings: the ONNX Runtime encoder with dynamic micro-batching, and its operator."""

from .types import EmbeddingModel

__all__ = ["EmbeddingModel"]
