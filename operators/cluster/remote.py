"""Models served by remote workers, found through the controller.

:class:`RemoteLLM` is a :class:`~operators.llm.types.LanguageModel` (and
:class:`RemoteEmbedder` an embeddings model) whose every call goes to a healthy, enabled
instance of the model: it streams the worker's ``/api/worker/generate_stream`` and turns its
cumulative text back into deltas. :class:`RemoteModelSet` is the model set of a process
without engines of its own (the API server, a webserver with ``--controller-addr``): it
lists the models the cluster serves, refreshed in the background.

Spreading load: the :class:`InstanceRouter` sends each request to the instance with the
fewest requests of ours in flight, taking turns among equals. Failing over: a request that
fails before its first token (the worker cannot be reached, refuses, or reports an error)
is sent to another instance, and the failed one is avoided until the controller has had
time to notice (one refresh); a request that fails after streaming began fails, because
its text was already delivered. With no healthy instance the call fails at once with
:class:`NoInstance` (503), never waits.

    >>> router = InstanceRouter(ControllerClient("http://127.0.0.1:8000"))  # doctest: +SKIP
    >>> llm = RemoteLLM("smollm2", router)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from typing import Any, cast

import aiohttp
import numpy as np
import numpy.typing as npt

from awel.errors import AwelError
from operators.embed.types import EmbeddingModel
from operators.llm.types import Completion, Delta, FinishReason, GenerationRequest, Usage
from operators.models import Kind, ModelCard, ModelSet, NoModel, UnknownModel, WrongModelKind

from .client import ClusterError, WorkerClient, http_session
from .convert import prompt_request
from .errors import NoEngines
from .registry import Registry
from .types import ModelInstance, ModelOutput, split_key, worker_key

__all__ = [
    "InstanceRouter",
    "NoInstance",
    "RemoteEmbedder",
    "RemoteLLM",
    "RemoteModelSet",
    "remote_set",
]

log = logging.getLogger("awel.cluster")

_FINISH: frozenset[str] = frozenset({"stop", "length", "cancelled", "error"})


class NoInstance(AwelError):
    """No healthy instance of the model could answer."""

    code = "model.unavailable"

    def __init__(self, key: str, tried: Sequence[str]) -> None:
        why = f"; tried {', '.join(tried)}" if tried else ""
        super().__init__(f"no healthy instance of '{key}' can answer{why}")
        self.key = key


class RemoteError(Exception):
    """A worker failed after its answer had started."""


class InstanceRouter:
    """Chooses instances for requests: fewest in flight first, failed ones last.

    The controller's listing is cached for ``ttl`` seconds: asking it on every request
    would add a round trip to every answer. An instance that just failed is skipped until
    the cache is refreshed after ``ttl`` (by then the controller knows whether it is dead).
    """

    def __init__(
        self,
        registry: Registry,
        *,
        ttl: float = 1.0,
        key: str | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.registry = registry
        self.ttl = ttl
        #: The cluster key, sent to the workers.
        self.key = key
        self._session = session
        self._cache: dict[str, tuple[float, list[ModelInstance]]] = {}
        self._failed: dict[str, float] = {}
        self._in_flight: dict[str, int] = {}
        self._turn = itertools.count()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = http_session(key=self.key)
        return self._session

    async def instances(self, key: str) -> list[ModelInstance]:
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        found = [i for i in await self.registry.instances(key, healthy_only=True) if i.enabled]
        self._cache[key] = (now, found)
        return found

    async def pick(self, key: str, exclude: set[str]) -> ModelInstance | None:
        """The best instance of ``key`` not in ``exclude`` (addresses), or None."""
        usable = [i for i in await self.instances(key) if i.address not in exclude]
        if not usable:
            return None
        now = time.monotonic()
        turn = next(self._turn)
        n = len(usable)

        def rank(pair: tuple[int, ModelInstance]) -> tuple[bool, int, int]:
            idx, inst = pair
            failed = now - self._failed.get(inst.address, -1e9) < self.ttl
            return (failed, self._in_flight.get(inst.address, 0), (idx - turn) % n)

        return min(enumerate(usable), key=rank)[1]

    def failed(self, inst: ModelInstance) -> None:
        self._failed[inst.address] = time.monotonic()

    @contextlib.contextmanager
    def using(self, inst: ModelInstance) -> Iterator[WorkerClient]:
        """A client of ``inst``, counted as one more request in flight there."""
        addr = inst.address
        self._in_flight[addr] = self._in_flight.get(addr, 0) + 1
        try:
            yield WorkerClient(addr, self.session)
        finally:
            self._in_flight[addr] -= 1

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class RemoteLLM:
    """A language model answered by the cluster's workers of ``name``."""

    def __init__(self, name: str, router: InstanceRouter) -> None:
        self.name = name
        self.router = router
        self.key = worker_key(name, "llm")

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[Delta, None]:
        body = prompt_request(request.model_copy(update={"model": self.name}))
        payload = body.model_dump(mode="json", exclude_none=True)
        tried: list[str] = []
        while True:
            inst = await self.router.pick(self.key, set(tried))
            if inst is None:
                raise NoInstance(self.key, tried)
            tried.append(inst.address)
            started = False
            with self.router.using(inst) as worker:
                try:
                    async with contextlib.aclosing(worker.stream(payload)) as chunks:
                        async for delta in _deltas(chunks):
                            started = True
                            yield delta
                    return
                except (ClusterError, RemoteError, ValueError) as exc:
                    if started:
                        raise RemoteError(f"{inst.address} failed mid-answer: {exc}") from exc
                    log.warning(
                        "%s failed before answering (%s); trying another", inst.address, exc
                    )
                    self.router.failed(inst)

    async def generate(self, request: GenerationRequest) -> Completion:
        parts: list[str] = []
        last = Delta()
        async with contextlib.aclosing(self.stream(request)) as deltas:
            async for delta in deltas:
                parts.append(delta.text)
                last = delta
        return Completion(
            text="".join(parts),
            finish_reason=last.finish_reason or "stop",
            usage=last.usage or Usage(),
        )

    def count_tokens(self, text: str) -> int:
        # The tokenizer lives with the worker; this is an estimate for budgeting only
        # (about four UTF-8 bytes a token). /api/worker/count_token gives the exact count.
        return max(1, len(text.encode()) // 4) if text else 0

    async def aclose(self) -> None:
        return None


async def _deltas(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[Delta]:
    """Cumulative ``ModelOutput`` chunks to deltas; an error chunk raises RemoteError."""
    seen = ""
    finished = False
    async for chunk in chunks:
        out = ModelOutput.model_validate(chunk)
        if out.error_code != 0:
            raise RemoteError(out.answer())
        text = out.answer()
        new = text[len(seen) :] if text.startswith(seen) else text
        seen = text
        finish = out.finish_reason if out.finish_reason in _FINISH else None
        if out.finish_reason is not None and finish is None:
            finish = "stop"
        usage = Usage.model_validate(out.usage) if out.usage else None
        if new or finish is not None:
            finished = finished or finish is not None
            yield Delta(text=new, finish_reason=cast(FinishReason | None, finish), usage=usage)
    if not finished:
        yield Delta(finish_reason="stop")


class RemoteEmbedder:
    """An embeddings model answered by the cluster's workers of ``name``."""

    def __init__(self, name: str, router: InstanceRouter, *, dimension: int = 0) -> None:
        self.name = name
        self.router = router
        self.key = worker_key(name, "text2vec")
        #: Learnt from the first answer (0 until then).
        self.dimension = dimension

    async def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        tried: list[str] = []
        body = {"model": self.name, "input": texts, "worker_type": "text2vec"}
        while True:
            inst = await self.router.pick(self.key, set(tried))
            if inst is None:
                raise NoInstance(self.key, tried)
            tried.append(inst.address)
            with self.router.using(inst) as worker:
                try:
                    rows = await worker.call("embeddings", body)
                except ClusterError as exc:
                    log.warning("%s failed (%s); trying another", inst.address, exc)
                    self.router.failed(inst)
                    continue
            vectors = np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)
            self.dimension = int(vectors.shape[1])
            return vectors

    def count_tokens(self, text: str) -> int:
        return max(1, len(text.encode()) // 4) if text else 0

    async def aclose(self) -> None:
        return None


class RemoteModelSet(ModelSet):
    """The models the cluster serves, as a model set.

    The names come from the controller's healthy listing, refreshed every ``refresh``
    seconds by :meth:`run` (and once by :meth:`refresh`). A model that was listed once keeps
    its name: while none of its instances is healthy, a call fails with :class:`NoInstance`
    (503) rather than the name being unknown (404).
    """

    def __init__(self, router: InstanceRouter, *, refresh: float = 1.0) -> None:
        super().__init__()
        self.router = router
        self.refresh_interval = refresh
        self._llm_names: dict[str, bool] = {}
        self._embed_names: dict[str, bool] = {}
        self._remote_llms: dict[str, RemoteLLM] = {}
        self._remote_embedders: dict[str, RemoteEmbedder] = {}

    async def refresh(self) -> None:
        """Read which models have a healthy instance now."""
        found = await self.router.registry.instances(healthy_only=True)
        healthy: dict[str, set[str]] = {"llm": set(), "text2vec": set()}
        for inst in found:
            model, wtype = split_key(inst.model_name)
            if wtype in healthy and inst.enabled:
                healthy[wtype].add(model)
        for names, wtype in ((self._llm_names, "llm"), (self._embed_names, "text2vec")):
            for name in names:
                names[name] = name in healthy[wtype]
            for name in sorted(healthy[wtype] - names.keys()):
                names[name] = True

    async def run(self) -> None:
        """Refresh forever (run it as a task; cancel it to stop)."""
        while True:
            try:
                await self.refresh()
            except (ClusterError, OSError) as exc:
                log.warning("cannot list the cluster's models: %s", exc)
            await asyncio.sleep(self.refresh_interval)

    def _pick(self, names: dict[str, bool], name: str | None, kind: Kind) -> str:
        if name is None:
            for candidate, healthy in names.items():
                if healthy:
                    return candidate
            raise NoModel(kind)
        if name in names:
            return name
        other = self._embed_names if names is self._llm_names else self._llm_names
        if name in other:
            is_kind: Kind = "embeddings" if kind == "llm" else "llm"
            raise WrongModelKind(name, kind, is_kind)
        raise UnknownModel(name, kind, [n for n, h in names.items() if h])

    def llm(self, name: str | None = None) -> RemoteLLM:
        found = self._pick(self._llm_names, name, "llm")
        model = self._remote_llms.get(found)
        if model is None:
            model = self._remote_llms[found] = RemoteLLM(found, self.router)
        return model

    def embedder(self, name: str | None = None) -> EmbeddingModel:
        found = self._pick(self._embed_names, name, "embeddings")
        model = self._remote_embedders.get(found)
        if model is None:
            model = self._remote_embedders[found] = RemoteEmbedder(found, self.router)
        return model

    def has_llm(self, name: str) -> bool:
        return self._llm_names.get(name, False)

    def cards(self) -> list[ModelCard]:
        return [ModelCard(n, "llm", self.created) for n, h in self._llm_names.items() if h] + [
            ModelCard(n, "embeddings", self.created) for n, h in self._embed_names.items() if h
        ]

    def __len__(self) -> int:
        return len(self.cards())

    def add(self, model: Any, kind: Any) -> None:
        raise NoEngines("this process has no engines of its own; start models on a worker")

    def remove(self, name: str) -> None:
        return None

    async def aclose(self) -> None:
        await self.router.aclose()


def remote_set(registry: Registry, *, ttl: float = 1.0, key: str | None = None) -> RemoteModelSet:
    """A model set over the cluster behind ``registry``, calling its workers with ``key``."""
    return RemoteModelSet(InstanceRouter(registry, ttl=ttl, key=key), refresh=ttl)
