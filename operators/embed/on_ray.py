"""Embedding on Ray actors, for ingesting many documents while Ray is on in the process.

When the server runs with ``--ray`` (awel.executor), :func:`embedder_for_ingest` turns the
local ONNX embedder into one whose batches go to Ray actors, each of which loads the same
build (by its folder, which must be readable on the Ray nodes: one machine, or a shared
path) once and keeps it. Questions (retrieval) keep the local model: one short text is
cheaper here than a round trip. Without Ray, or for a model that is not a local ONNX
build (a remote worker's), the model is used as it is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from awel.executor import RayExecutor, ray_on

from .engine import FloatArray, OnnxEmbedder, load_embedder
from .types import EmbeddingModel

__all__ = ["ACTORS", "EmbedOnWorker", "RayEmbedder", "embedder_for_ingest"]

#: Actors embedding at once (AWEL_RAY_EMBED_ACTORS); each reserves one CPU.
ACTORS = int(os.environ.get("AWEL_RAY_EMBED_ACTORS", "2"))


class EmbedOnWorker:
    """What an actor runs: the build at ``folder``, loaded at its first batch."""

    def __init__(self, folder: str, name: str) -> None:
        self.folder = folder
        self.name = name
        self.model: OnnxEmbedder | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"folder": self.folder, "name": self.name, "model": None}

    async def __call__(self, texts: list[str]) -> FloatArray:
        if self.model is None:
            # One intra-op thread: the actor has one CPU; the cluster gives the parallelism.
            self.model = load_embedder(Path(self.folder), name=self.name, threads=1)
        return await self.model.embed(texts)


class RayEmbedder:
    """An embeddings model whose batches run on Ray actors (see the module)."""

    def __init__(self, local: OnnxEmbedder, *, actors: int = ACTORS) -> None:
        self.local = local
        self.name = local.name
        self.dimension = local.dimension
        self.max_length = local.max_length
        executor = RayExecutor(actors=actors, num_cpus=1)
        self._call = executor.wrap_each(None, EmbedOnWorker(str(local.encoder.folder), local.name))

    async def embed(self, texts: list[str]) -> FloatArray:
        if not texts:
            return await self.local.embed(texts)
        out: FloatArray = await self._call(list(texts))
        return out

    def count_tokens(self, text: str) -> int:
        return self.local.count_tokens(text)

    async def aclose(self) -> None:
        """The actors live as long as the process's Ray session; the local model is not ours."""


_MADE: dict[int, tuple[OnnxEmbedder, RayEmbedder]] = {}


def embedder_for_ingest(model: EmbeddingModel) -> EmbeddingModel:
    """``model``, or its Ray twin while Ray is on here (made once per model and kept)."""
    if not ray_on() or not isinstance(model, OnnxEmbedder):
        return model
    made = _MADE.get(id(model))
    if made is None or made[0] is not model:
        made = (model, RayEmbedder(model))
        _MADE[id(model)] = made
    return made[1]
