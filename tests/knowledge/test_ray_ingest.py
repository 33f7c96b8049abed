"""Ingestion on Ray: while Ray is on in the process, a document's chunks are embedded by Ray
actors holding the same build (the test session's two-node cluster), with the same vectors
as the local model and the same answers from retrieval."""

from __future__ import annotations

import numpy as np
import pytest

from operators.embed.engine import OnnxEmbedder
from operators.embed.on_ray import RayEmbedder, embedder_for_ingest
from operators.knowledge import KnowledgeBase
from operators.storage import FINISHED

pytestmark = pytest.mark.usefixtures("ray_cluster")

TEXT = "\n\n".join(
    f"## Section {i}\n\nRoom {i} of the office holds {i % 7} desks and a plant called {name}."
    for i, name in enumerate(["fern", "ivy", "basil", "mint", "sage", "thyme"] * 40)
)


async def test_while_ray_is_on_ingestion_embeds_on_actors_with_the_same_vectors(
    embedder: OnnxEmbedder,
) -> None:
    on_ray = embedder_for_ingest(embedder)
    assert isinstance(on_ray, RayEmbedder) and embedder_for_ingest(embedder) is on_ray
    texts = [f"plant number {i} is a fern" for i in range(70)]
    remote, local = await on_ray.embed(texts), await embedder.embed(texts)
    assert remote.shape == local.shape and np.allclose(remote, local, atol=1e-4)


async def test_a_document_synced_while_ray_is_on_is_retrieved_as_locally(
    kb: KnowledgeBase,
) -> None:
    await kb.create_space("office")
    doc = await kb.add_document("office", "rooms", "TEXT", content=TEXT)
    done = await kb.sync(doc.id)
    assert done.status == FINISHED and done.chunk_count > 1, done.result
    found = await kb.retrieve("office", "which plant is in room 3?", top_k=3)
    assert any("basil" in c.content for c in found)
