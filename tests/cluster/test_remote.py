"""Remote models in-process: a worker app (real smollm2) behind a local registry, read
through RemoteLLM, and the failure paths (dead instance, no instance) without a hang."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import pytest
from aiohttp.test_utils import TestServer

from operators.cluster.registry import ModelRegistry
from operators.cluster.remote import InstanceRouter, NoInstance, RemoteLLM, RemoteModelSet
from operators.cluster.state import Cluster, install_cluster
from operators.cluster.types import ERROR_PREFIX, ModelInstance, PromptRequest
from operators.cluster.worker import WorkerManager
from operators.llm.types import ChatMessage, GenerationParams, GenerationRequest
from operators.models import ModelSet, current_models, load_model, using_models
from server.cluster import worker_app
from server.settings import Settings
from tests.cluster.procs import DATA_DIR, free_port, model_built

needs_model = pytest.mark.skipif(
    not (model_built() and model_built("all-minilm-l6-v2")),
    reason="the default models are not built (make models)",
)

REQUEST = GenerationRequest(
    model="smollm2",
    messages=[ChatMessage(role="user", content="Name a colour.")],
    params=GenerationParams(max_new_tokens=6),
)


def dead(port: int) -> ModelInstance:
    return ModelInstance(model_name="smollm2@llm", host="127.0.0.1", port=port)


@asynccontextmanager
async def worker(tmp_path: Path, registry: ModelRegistry) -> AsyncIterator[TestServer]:
    """A worker app with the real model, its manager registered in ``registry``."""
    llm, _ = load_model(DATA_DIR, "smollm2")
    embedder, _ = load_model(DATA_DIR, "all-minilm-l6-v2")
    async with using_models(ModelSet([llm], [embedder])):  # type: ignore[list-item]
        server = TestServer(worker_app(Settings(data_dir=tmp_path, reload=False)), host="127.0.0.1")
        await server.start_server()
        manager = WorkerManager(registry, host="127.0.0.1", port=server.port or 0)
        previous = install_cluster(Cluster(registry, manager))
        try:
            await manager.start()
            yield server
        finally:
            await manager.stop()
            install_cluster(previous)
            await server.close()


@needs_model
async def test_remote_llm_matches_the_local_model_and_fails_over(tmp_path: Path) -> None:
    registry = ModelRegistry(heartbeat_timeout=30)
    # An instance that is registered but dead: the first pick may land on it.
    await registry.register(dead(free_port()))
    async with worker(tmp_path, registry):
        router = InstanceRouter(registry, ttl=5)
        try:
            remote = RemoteLLM("smollm2", router)
            for _ in range(3):  # whichever instance comes first, the answer arrives
                answer = await remote.generate(REQUEST)
                assert answer.text
                assert answer.usage.completion_tokens == 6
                assert answer.finish_reason == "length"
            deltas = [d async for d in remote.stream(REQUEST)]
            assert "".join(d.text for d in deltas) == answer.text
            assert deltas[-1].usage is not None
            # The embeddings model too, through the same worker: the local model's vectors.
            models = RemoteModelSet(router)
            await models.refresh()
            assert [c.id for c in models.cards()] == ["smollm2", "all-minilm-l6-v2"]
            vectors = await models.embedder("all-minilm-l6-v2").embed(["a cat", "a dog"])
            local = await current_models().embedder("all-minilm-l6-v2").embed(["a cat", "a dog"])
            assert vectors.shape == (2, 384)
            assert np.allclose(vectors, local, atol=1e-5)
        finally:
            await router.aclose()


async def test_no_instance_fails_at_once_and_the_worker_route_answers_the_error_output() -> None:
    registry = ModelRegistry(heartbeat_timeout=30)
    await registry.register(dead(free_port()))
    router = InstanceRouter(registry, ttl=5)
    models = RemoteModelSet(router)
    await models.refresh()
    try:
        started = time.monotonic()
        with pytest.raises(NoInstance, match="no healthy instance of 'smollm2@llm'"):
            await models.llm("smollm2").generate(REQUEST)
        # Through the worker protocol: DB-GPT's error output, one chunk, no hang.
        manager = WorkerManager(registry, host="", port=0, models=lambda: models)
        body = PromptRequest.model_validate(
            {"model": "smollm2", "messages": [{"role": "human", "content": "Hi"}]}
        )
        chunks = [c async for c in manager.generate_stream(body)]
        assert len(chunks) == 1
        assert chunks[0]["error_code"] == 1
        assert chunks[0]["text"].startswith(ERROR_PREFIX)
        unknown = PromptRequest(model="nope")
        chunks = [c async for c in manager.generate_stream(unknown)]
        assert chunks[0]["error_code"] == 1 and "nope" in chunks[0]["text"]
        assert time.monotonic() - started < 5
    finally:
        await models.aclose()
