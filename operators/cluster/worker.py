"""A worker manager: the process's models behind DB-GPT's ``/api/worker/*`` routes.

It serves the process's :class:`~operators.models.ModelSet` (local engines, or remote models
reached through the controller), registers each model with the registry as
``<model>@<worker_type>`` plus itself as ``WorkerManager@service``, heartbeats every
``heartbeat_interval`` seconds, and deregisters when it stops cleanly. Starting a model
loads its build from the data folder and registers it at once; stopping one deregisters it,
takes it out of the set and closes it.

In the all-in-one process the registry is the process's own (no HTTP); a standalone worker
(``awel start worker``) talks to its controller through a
:class:`~operators.cluster.client.ControllerClient`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio.to_thread

from awel.errors import AwelError
from operators.export.cache import list_models
from operators.export.sources import KNOWN_MODELS
from operators.llm.timing import GenerationTimer
from operators.llm.types import Delta
from operators.models import Kind, ModelSet, current_models, load_model

from .client import ClusterError
from .convert import generation_request, output_of
from .errors import BadWorkerType, ModelNotRunning
from .registry import Registry
from .types import (
    MANAGER_KEY,
    CountTokenRequest,
    EmbeddingsRequest,
    ModelInstance,
    ModelMetadata,
    ModelMetadataRequest,
    ModelOutput,
    ParameterDescription,
    PromptRequest,
    SupportedModel,
    WorkerApplyOutput,
    WorkerApplyRequest,
    WorkerStartupRequest,
    worker_key,
)

__all__ = ["WorkerManager", "parameter_descriptions"]

log = logging.getLogger("awel.cluster")

_TYPE_OF_KIND: dict[str, str] = {"llm": "llm", "embeddings": "text2vec"}
_KIND_OF_TYPE: dict[str, Kind] = {"llm": "llm", "text2vec": "embeddings"}


def parameter_descriptions(model: str, worker_type: str) -> list[ParameterDescription]:
    """The deploy parameters a model of ours takes (what DB-GPT's UI shows in its form)."""
    cls = "awel.OnnxDeployParameters"
    return [
        ParameterDescription(
            required=True,
            param_name="name",
            param_class=cls,
            param_type="str",
            label="Model name",
            description="The name of a model built with `awel model build`.",
            default_value=model,
        ),
        ParameterDescription(
            param_name="provider",
            param_class=cls,
            param_type="str",
            description="The runtime that serves the model.",
            default_value="onnx",
            valid_values=["onnx"],
        ),
        ParameterDescription(
            param_name="device",
            param_class=cls,
            param_type="str",
            description="Where the model runs.",
            default_value="cpu",
            valid_values=["cpu", "cuda"],
        ),
        ParameterDescription(
            param_name="worker_type",
            param_class=cls,
            param_type="str",
            description="The kind of worker.",
            default_value=worker_type,
            valid_values=["llm", "text2vec"],
        ),
    ]


class WorkerManager:
    """The models of this process, as one worker manager at ``host:port``."""

    def __init__(
        self,
        registry: Registry,
        *,
        host: str,
        port: int,
        data_dir: Path = Path("data"),
        device: str = "cpu",
        heartbeat_interval: float = 20.0,
        models: Callable[[], ModelSet] = current_models,
        on_model_dropped: Callable[[], None] = lambda: None,
    ) -> None:
        if heartbeat_interval <= 0:
            raise ValueError("heartbeat_interval must be positive")
        self.registry = registry
        self.host = host
        self.port = port
        self.data_dir = data_dir
        self.device = device
        self.heartbeat_interval = heartbeat_interval
        self.models = models
        #: Called once a stopped model is closed and dropped. The server passes its heap
        #: helper here (``server.heap.refreeze``): a model loaded before start-up finished
        #: is frozen out of the collector's reach, and would otherwise outlive its stop.
        self.on_model_dropped = on_model_dropped
        self._beating: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    # --- registration --------------------------------------------------------------------

    def instance(self, key: str) -> ModelInstance:
        return ModelInstance(model_name=key, host=self.host, port=self.port)

    def keys(self) -> list[str]:
        """The worker keys this manager serves, its own ``WorkerManager@service`` last."""
        keys = [worker_key(c.id, _TYPE_OF_KIND[c.kind]) for c in self.models().cards()]
        return [*keys, MANAGER_KEY]

    async def start(self) -> None:
        """Register every model and start heartbeating (a controller that is down is
        retried by the heartbeats, which register what they find missing)."""
        await self._beat_once(register=True)
        self._beating = asyncio.create_task(self._beat_forever(), name="awel-heartbeat")

    async def stop(self) -> None:
        """Stop heartbeating and deregister; errors are logged, never raised."""
        if self._beating is not None:
            self._beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beating
            self._beating = None
        for key in self.keys():
            try:
                await self.registry.deregister(key, self.host, self.port)
            except (ClusterError, OSError) as exc:
                log.warning("could not deregister %s: %s", key, exc)

    async def _beat_once(self, *, register: bool) -> None:
        for key in self.keys():
            inst = self.instance(key)
            try:
                if register:
                    await self.registry.register(inst)
                else:
                    await self.registry.heartbeat(inst)
            except (ClusterError, OSError) as exc:
                log.warning("controller unreachable for %s: %s", key, exc)

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            await self._beat_once(register=False)

    # --- generation ----------------------------------------------------------------------

    async def generate_stream(self, body: PromptRequest) -> AsyncIterator[dict[str, Any]]:
        """``ModelOutput`` chunks with the cumulative text; failures as DB-GPT's error
        output (error_code 1), never as a broken stream."""
        try:
            llm = self.models().llm(body.model)
            request = generation_request(body)
        except (AwelError, ValueError) as exc:
            yield ModelOutput.failure(str(exc)).wire()
            return
        text = ""
        # DB-GPT reports timings with each chunk only when the request asks for them.
        timer = GenerationTimer() if body.metrics else None
        stream = llm.stream(request)
        try:
            async for delta in stream:
                if timer is not None:
                    timer.saw(delta)
                if delta.text:
                    text += delta.text
                elif delta.finish_reason is None:
                    continue
                output = output_of(text, delta, body.model)
                if timer is not None:
                    output.metrics = timer.report(delta.usage)
                yield output.wire()
        except Exception as exc:
            log.exception("generation by %s failed", body.model)
            yield ModelOutput.failure(str(exc) or type(exc).__name__).wire()
        finally:
            # Close the engine's stream now: a client that hangs up frees its model slot.
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    async def generate(self, body: PromptRequest) -> dict[str, Any]:
        """The last chunk of :meth:`generate_stream`: the whole answer."""
        last: dict[str, Any] = output_of("", Delta(finish_reason="stop"), body.model).wire()
        async for chunk in self.generate_stream(body):
            last = chunk
        return last

    async def embeddings(self, body: EmbeddingsRequest) -> list[list[float]]:
        if body.worker_type == "reranker":
            raise BadWorkerType(
                "worker_type 'reranker' is not served here; no reranker model is loaded",
            )
        vectors = await self.models().embedder(body.model).embed(list(body.input))
        return [[float(x) for x in row] for row in vectors.tolist()]

    async def count_token(self, body: CountTokenRequest) -> int:
        models = self.models()
        if models.has_llm(body.model):
            return models.llm(body.model).count_tokens(body.prompt)
        return models.embedder(body.model).count_tokens(body.prompt)

    async def model_metadata(self, body: ModelMetadataRequest) -> ModelMetadata:
        models = self.models()
        if models.has_llm(body.model):
            llm = models.llm(body.model)
            context = getattr(llm, "context_length", None)
            known = KNOWN_MODELS.get(body.model)
            return ModelMetadata(
                model=body.model,
                label=body.model,
                context_length=context if isinstance(context, int) else None,
                max_output_length=context if isinstance(context, int) else None,
                description=known.description if known else None,
                chat_model=True,
            )
        models.embedder(body.model)  # 404 unless it is served
        known = KNOWN_MODELS.get(body.model)
        return ModelMetadata(
            model=body.model,
            label=body.model,
            description=known.description if known else None,
            chat_model=False,
        )

    # --- managing models -----------------------------------------------------------------

    def supported(self) -> list[SupportedModel]:
        """Every model this manager could start: the built ones and the known ones."""
        served = {c.id for c in self.models().cards()}
        found: dict[str, SupportedModel] = {}
        for info in list_models(self.data_dir):
            wtype = _TYPE_OF_KIND.get(info.kind)
            if wtype is None:
                continue
            known = KNOWN_MODELS.get(info.name)
            found[info.name] = self._supported(
                info.name, wtype, str(info.path), True, known.description if known else None
            )
        for known in KNOWN_MODELS.values():
            if known.name not in found:
                wtype = _TYPE_OF_KIND[known.kind]
                found[known.name] = self._supported(known.name, wtype, "", False, known.description)
        for name in served - found.keys():
            wtype = "llm" if self.models().has_llm(name) else "text2vec"
            found[name] = self._supported(name, wtype, "", False, None)
        return list(found.values())

    def _supported(
        self, name: str, wtype: str, path: str, exists: bool, description: str | None
    ) -> SupportedModel:
        return SupportedModel(
            model=name,
            worker_type=wtype,
            provider="onnx",
            path=path,
            path_exist=exists,
            proxy=False,
            enabled=True,
            params=parameter_descriptions(name, wtype),
            description=description,
            host=self.host,
            port=self.port,
        )

    async def startup(self, body: WorkerStartupRequest) -> None:
        """Load the model and register it; nothing happens if it is already served."""
        kind = _KIND_OF_TYPE.get(body.worker_type)
        if kind is None:
            raise BadWorkerType(
                f"worker_type '{body.worker_type}' cannot be started here; use llm or text2vec",
            )
        async with self._lock:
            if any(c.id == body.model for c in self.models().cards()):
                return
            load = functools.partial(load_model, self.data_dir, body.model, device=self.device)
            started = time.perf_counter()
            model, is_kind = await anyio.to_thread.run_sync(load)
            if is_kind != kind:
                await model.aclose()
                raise BadWorkerType(
                    f"the model '{body.model}' is a {_TYPE_OF_KIND[is_kind]} model, not"
                    f" worker_type '{body.worker_type}'",
                )
            self.models().add(model, kind)
            log.info("started %s in %.1fs", body.model, time.perf_counter() - started)
        await self.registry.register(self.instance(worker_key(body.model, body.worker_type)))

    async def shutdown(self, body: WorkerStartupRequest) -> None:
        """Deregister the model, take it out of the set and close it."""
        models = self.models()
        served = {c.id: c.kind for c in models.cards()}
        if body.model not in served:
            raise ModelNotRunning(
                f"the model '{body.model}' is not running on the worker manager at"
                f" {self.host}:{self.port}; running: {', '.join(served) or 'none'}",
            )
        wtype = _TYPE_OF_KIND[served[body.model]]
        if body.worker_type != wtype:
            raise BadWorkerType(
                f"the model '{body.model}' runs as worker_type '{wtype}', not '{body.worker_type}'",
            )
        async with self._lock:
            try:
                await self.registry.deregister(worker_key(body.model, wtype), self.host, self.port)
            except ClusterError as exc:
                log.warning("could not deregister %s: %s", body.model, exc)
            model = models.remove(body.model)
        if model is not None:
            await model.aclose()
            del model
            self.on_model_dropped()

    async def apply(self, body: WorkerApplyRequest) -> WorkerApplyOutput:
        """DB-GPT's ``apply``: start, stop, restart (or update_params, a restart here)."""
        started = time.perf_counter()
        startup = WorkerStartupRequest(
            host=self.host,
            port=self.port,
            model=body.model,
            worker_type=body.worker_type,
            params=body.params,
        )
        try:
            if body.apply_type in ("stop", "restart", "update_params"):
                await self.shutdown(startup)
            if body.apply_type in ("start", "restart", "update_params"):
                await self.startup(startup)
        except AwelError as exc:
            return WorkerApplyOutput(
                message=exc.message, success=False, timecost=time.perf_counter() - started
            )
        return WorkerApplyOutput(
            message=f"{body.apply_type} {body.model}@{body.worker_type} done",
            success=True,
            timecost=time.perf_counter() - started,
        )
