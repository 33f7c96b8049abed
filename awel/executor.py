"""Running a node's call on a Ray cluster: the Ray executor.

A node marked to run on Ray (``executor: ray`` in a flow file, ``on_ray(node)`` or
``executor=RayExecutor(...)`` in Python) keeps everything else about the flow: its inputs
and outputs, its place in the plan, its retries and timeout (around the remote call), and
the way its failures are reported (the runner names the node, as for a local one). Only the
call moves: the plan compiles the node as usual (so stream/value problems are found when
the flow loads), then replaces its step by one that

- ships a copy of the node, cut from its DAG, to the cluster once per Ray session
  (``ray.put``), and there compiles the copy's own step and runs it;
- for a value, awaits the task's ``ObjectRef``; for a stream, runs the node as a Ray
  streaming generator read item by item (at most a few items ahead of the reader, Ray's
  generator back-pressure);
- cancels the task (``ray.cancel``, ending its worker process: the node's work may be
  in a thread that nothing else stops) when the call is cancelled;
- re-raises the exception the node raised remotely (so the error reads as it does locally)
  and turns a lost worker, after Ray's own ``max_retries`` tries, into
  :class:`RayWorkerLost`.

With ``actors=N`` the node runs in N Ray actors instead of tasks: each actor holds its copy
of the node for the life of the process (a loaded model, a connection pool stay warm), and
calls go round the actors; Ray restarts a dead actor up to ``max_retries`` times and retries
the call on it.

Ray is an optional dependency (``pip install awel[ray]``): this module imports it at the
first remote call, never when a flow loads, so flows with Ray nodes load (and their other
nodes run) without it. A call of a Ray node fails with :class:`RayUnavailable` when Ray is
not installed or not started in this process (``awel serve --ray off``, the default); see
:func:`start_ray` for the modes.

Measured (bench/ray.py, bench/RESULTS.md): a trivial node costs about 3 ms more on Ray
than locally (a task round trip through the local raylet), so offloading pays for nodes
that run for tens of milliseconds or more, or that need another machine's CPUs or GPUs.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import importlib
import inspect
import itertools
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any

from . import registry
from .errors import AwelError
from .operators import BaseOperator, as_async
from .plan import KindError, Step

__all__ = [
    "RAY_MODES",
    "RayExecutor",
    "RayUnavailable",
    "RayWorkerLost",
    "on_ray",
    "ray_on",
    "ray_status",
    "require_ray",
    "start_ray",
    "stop_ray",
]

#: Items a streaming node may run ahead of its reader (Ray's generator back-pressure).
STREAM_AHEAD = 4

#: What ``awel serve --ray`` takes besides an address (``ray://HOST:PORT`` or ``HOST:PORT``).
RAY_MODES = ("off", "auto", "local")


class RayUnavailable(AwelError):
    """A node runs on Ray, but Ray is not installed or not started in this process."""

    code = "executor.ray_unavailable"


class RayWorkerLost(AwelError):
    """The Ray worker (or actor, or machine) running a node died, on every try."""

    code = "executor.worker_lost"


@dataclasses.dataclass(frozen=True)
class RayExecutor:
    """Where and how a node runs on Ray; the options are Ray's own.

    >>> embed = MapOperator(embed_batch, executor=RayExecutor(num_cpus=1, actors=2))
    """

    #: CPUs, GPUs and bytes of memory one task (or actor) reserves; None: Ray's default.
    num_cpus: float | None = None
    num_gpus: float | None = None
    memory: int | None = None
    #: Extra tries when the worker process (or the actor) dies; not for the node's own
    #: errors, which the node's ``retries`` covers.
    max_retries: int = 1
    #: Ray's runtime environment (pip packages, env vars, a working dir) for the node.
    runtime_env: Mapping[str, Any] | None = None
    #: 0: each call is a task. N: N actors, created at the first call and kept.
    actors: int = 0

    def __post_init__(self) -> None:
        for name in ("num_cpus", "num_gpus", "memory"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not value >= 0):
                raise ValueError(f"{name} is 0 or more, not {value!r}")
        if self.max_retries < 0 or self.actors < 0:
            raise ValueError("max_retries and actors are 0 or more")

    def ray_options(self) -> dict[str, Any]:
        """The ``.options()`` of a task or actor, only those set."""
        out: dict[str, Any] = {}
        if self.num_cpus is not None:
            out["num_cpus"] = self.num_cpus
        if self.num_gpus is not None:
            out["num_gpus"] = self.num_gpus
        if self.memory is not None:
            out["memory"] = self.memory
        if self.runtime_env is not None:
            out["runtime_env"] = dict(self.runtime_env)
        return out

    def as_spec(self) -> dict[str, Any]:
        """The options as a flow file writes them (only those changed from the defaults)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value != field.default:
                out[field.name] = dict(value) if isinstance(value, Mapping) else value
        return out

    def wrap(self, node: BaseOperator, inputs: Sequence[bool], streams: bool) -> Step:
        """The step that runs ``node``'s call on Ray (see the module)."""
        if any(inputs):
            raise _kind_error(
                "reads a stream, so it cannot run on Ray (a node there takes values); move"
                " the Ray executor to the node that makes the stream, or collect it first"
            )
        if node.variables is not None:
            raise _kind_error(
                "takes ${...} variables, which a Ray node cannot resolve; write the values"
            )
        target = _Target(node, self, tuple(inputs))
        if streams:
            return target.stream
        return target.value

    def wrap_each(self, node: BaseOperator | None, each: Any) -> Callable[[Any], Any]:
        """``await f(item)``: ``each`` (a flow's last node, or a function, run with the
        item) on Ray, for nodes that fan items out (``awel.iterate``) and for code that is
        not a node (``node`` None)."""
        return _Target(node, self, (False,), each=each).value


def on_ray(node: BaseOperator, executor: RayExecutor | None = None, **options: Any) -> Any:
    """Mark ``node`` to run on Ray and return it: ``on_ray(MapOperator(fn), num_cpus=2)``."""
    node.executor = executor if executor is not None else RayExecutor(**options)
    dag = node.dag
    if dag is not None:
        dag.version += 1  # cached plans compiled the local step
    return node


def _kind_error(message: str) -> Exception:
    return KindError(message)


# --- Ray in this process -------------------------------------------------------------------


def _import_ray() -> Any:
    # Through importlib, typed Any: Ray is optional, and its annotations cost mypy dearly.
    return importlib.import_module("ray")


def require_ray() -> Any:
    """The ray module, started; :class:`RayUnavailable` saying what to do otherwise."""
    try:
        ray = _import_ray()
    except ImportError:
        raise RayUnavailable(
            "runs on Ray (executor: ray), but Ray is not installed; pip install 'awel[ray]'"
        ) from None
    if not ray.is_initialized():
        raise RayUnavailable(
            "runs on Ray (executor: ray), but Ray is off in this process; serve with"
            " --ray auto, --ray local or --ray ray://HOST:PORT (or call awel.start_ray)"
        )
    return ray


def start_ray(mode: str, *, num_cpus: int | None = None) -> str:
    """Start Ray in this process; returns what it did, for the server's log.

    ``off``: nothing. ``local``: a new single-machine cluster bound to 127.0.0.1.
    ``auto``: the cluster this machine runs (``ray start``, ``RAY_ADDRESS``), else a local
    one. ``ray://HOST:PORT`` (Ray Client) or ``HOST:PORT`` (a head's GCS): that cluster.
    """
    if mode == "off":
        return "ray: off"
    try:
        ray = _import_ray()
    except ImportError:
        raise RayUnavailable(
            f"--ray {mode} needs Ray, which is not installed; pip install 'awel[ray]'"
        ) from None
    if ray.is_initialized():
        return "ray: already started"
    quiet = {"log_to_driver": False, "logging_level": "warning"}
    local = {"include_dashboard": False, "_node_ip_address": "127.0.0.1", "num_cpus": num_cpus}
    if mode == "local":
        ray.init(address="local", **local, **quiet)
        return "ray: a local cluster on 127.0.0.1"
    if mode == "auto":
        try:
            ray.init(address="auto", **quiet)
            return "ray: joined this machine's cluster"
        except ConnectionError:
            ray.init(address="local", **local, **quiet)
            return "ray: no cluster running here, started a local one on 127.0.0.1"
    ray.init(address=mode, **quiet)
    return f"ray: connected to {mode}"


def stop_ray() -> None:
    """Disconnect from Ray (stopping a local cluster this process started)."""
    with contextlib.suppress(ImportError):
        ray = _import_ray()
        if ray.is_initialized():
            ray.shutdown()


def ray_on() -> bool:
    """Whether Ray is started in this process (cheap: never imports Ray)."""
    ray = sys.modules.get("ray")
    return ray is not None and bool(ray.is_initialized())


def ray_status() -> dict[str, Any]:
    """Whether Ray is on here, and the cluster's resources when it is."""
    try:
        ray = _import_ray()
    except ImportError:
        return {"installed": False, "on": False}
    if not ray.is_initialized():
        return {"installed": True, "on": False}
    return {
        "installed": True,
        "on": True,
        "nodes": sum(1 for n in ray.nodes() if n.get("Alive")),
        "resources": ray.cluster_resources(),
    }


# --- the driver's side -----------------------------------------------------------------------


class _Target:
    """One Ray node of one plan: the copy shipped to the cluster, its actors, the steps."""

    def __init__(
        self,
        node: BaseOperator | None,
        executor: RayExecutor,
        inputs: tuple[bool, ...],
        each: Any = None,
    ) -> None:
        self.node = node
        self.executor = executor
        self.inputs = inputs
        self.each = each
        # (ray session, ObjectRef of the copy, actor handles): made at the first call.
        self.session: Any = None
        self.shipped: Any = None
        self.actors: list[Any] = []
        self.turn: Iterator[int] = itertools.count()

    def _ready(self) -> Any:
        ray = require_ray()
        session = ray.get_runtime_context().get_job_id()
        if self.session != session:
            if self.each is not None:
                self.shipped = ray.put(self.each)
            else:
                assert self.node is not None, "a target without a node ships what it runs"
                self.shipped = ray.put(_shippable(self.node))
            self.actors = []
            self.session = session
        wanted = self.executor.actors
        if wanted and len(self.actors) < wanted:
            remote = _remotes(ray)
            opts = self.executor.ray_options()
            retries = self.executor.max_retries
            while len(self.actors) < wanted:
                actor = remote.actor.options(
                    max_restarts=retries, max_task_retries=retries, **opts
                ).remote(self.shipped, self.inputs, self.each is not None)
                self.actors.append(actor)
        return ray

    async def value(self, *args: Any) -> Any:
        ray = self._ready()
        remote = _remotes(ray)
        if self.actors:
            actor = self.actors[next(self.turn) % len(self.actors)]
            ref = actor.run.remote(*args)
        else:
            opts = self.executor.ray_options()
            fn = remote.flow if self.each is not None else remote.value
            ref = fn.options(max_retries=self.executor.max_retries, **opts).remote(
                self.shipped, self.inputs, *args
            )
        try:
            return await ref
        except asyncio.CancelledError:
            # A task's worker process is ended (force): the node's work may be in a thread
            # (a sync function, offloaded), which an interrupt would not stop. An actor's
            # call is an asyncio task there, cancelled as such; the actor lives on.
            ray.cancel(ref, force=not self.actors)
            raise
        except ray.exceptions.RayTaskError as exc:
            raise _cause(exc) from None
        except ray.exceptions.RayError as exc:
            raise self._lost(exc) from exc

    async def stream(self, *args: Any) -> AsyncIterator[Any]:
        ray = self._ready()
        remote = _remotes(ray)
        ahead = {"_generator_backpressure_num_objects": STREAM_AHEAD}
        if self.actors:
            actor = self.actors[next(self.turn) % len(self.actors)]
            refs = actor.stream.options(num_returns="streaming", **ahead).remote(*args)
        else:
            opts = self.executor.ray_options()
            refs = remote.stream.options(
                num_returns="streaming", max_retries=self.executor.max_retries, **ahead, **opts
            ).remote(self.shipped, self.inputs, *args)
        return self._items(ray, refs)

    async def _items(self, ray: Any, refs: Any) -> AsyncIterator[Any]:
        done = False
        try:
            async for ref in refs:
                yield await ref
            done = True
        except ray.exceptions.RayTaskError as exc:
            raise _cause(exc) from None
        except ray.exceptions.RayError as exc:
            raise self._lost(exc) from exc
        finally:
            if not done:
                # The reader stopped early or was cancelled: stop the generator there too.
                with contextlib.suppress(Exception):
                    ray.cancel(refs)

    def _lost(self, exc: BaseException) -> RayWorkerLost:
        tries = self.executor.max_retries + 1
        what = "actor" if self.actors else "worker"
        self.session = None  # dead actors are made again at the next call
        return RayWorkerLost(
            f"the Ray {what} running it died ({tries} tr{'y' if tries == 1 else 'ies'},"
            f" max_retries {self.executor.max_retries}): {type(exc).__name__}"
        )


def _cause(exc: Any) -> BaseException:
    """What the node raised on the worker, as it raised it (Ray wraps it)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, Exception):
        cause.add_note("(raised on a Ray worker)")
        return cause
    return RayWorkerLost(str(exc))


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A node built from a registered operator and its parameters, built again on the
    worker: what it holds once built (a compiled template, a client) need not pickle."""

    op: str
    params: dict[str, Any]
    name: str | None

    def compile_step(self, inputs: Sequence[bool]) -> tuple[Step, bool]:
        node = registry.build(self.op, self.params, task_name=self.name)
        return node.compile_step(inputs)


def _shippable(node: BaseOperator) -> BaseOperator | Recipe:
    """What goes to the cluster for ``node``: its recipe when it was built from one (a flow
    file's node), else a copy cut from its DAG (the cluster needs the operator and its
    parameters, not the flow around it); either runs locally there."""
    if node.op_name is not None and node.params is not None:
        return Recipe(node.op_name, dict(node.params), node.node_name)
    twin = copy.copy(node)
    twin.dag = None
    twin.upstream = []
    twin.downstream = []
    twin._plans = None
    twin.executor = None
    twin.variables = None
    return twin


# --- the cluster's side (plain functions, so workers import them by name) --------------------


def run_value(node: BaseOperator | Recipe, inputs: tuple[bool, ...], *args: Any) -> Any:
    """A Ray task: the node's step, run to its value."""
    step, _ = node.compile_step(inputs)
    return asyncio.run(_awaited(step(*args)))


def run_flow(each: Any, inputs: tuple[bool, ...], item: Any) -> Any:
    """A Ray task: a flow (its last node) or a function, called with one item."""
    return asyncio.run(_awaited(_each_step(each)(item)))


async def _awaited(pending: Awaitable[Any]) -> Any:
    return await pending


def _each_step(each: Any) -> Step:
    if isinstance(each, BaseOperator):
        return each.call
    if not inspect.isfunction(each) and inspect.iscoroutinefunction(type(each).__call__):
        return each  # type: ignore[no-any-return]
    return as_async(each, offload=False)


def run_stream(node: BaseOperator | Recipe, inputs: tuple[bool, ...], *args: Any) -> Iterator[Any]:
    """A Ray streaming generator: the node's stream, item by item."""
    step, _ = node.compile_step(inputs)
    loop = asyncio.new_event_loop()
    try:
        stream = loop.run_until_complete(step(*args))
        while True:
            try:
                item = loop.run_until_complete(stream.__anext__())
            except StopAsyncIteration:
                return
            yield item
    finally:
        aclose = getattr(locals().get("stream"), "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                loop.run_until_complete(aclose())
        loop.close()


class NodeActor:
    """A Ray actor holding one node (or flow) for good: its step compiled once."""

    def __init__(self, node: Any, inputs: tuple[bool, ...], is_flow: bool) -> None:
        self.node = node
        self.step = _each_step(node) if is_flow else node.compile_step(inputs)[0]

    async def run(self, *args: Any) -> Any:
        return await self.step(*args)

    async def stream(self, *args: Any) -> AsyncIterator[Any]:
        async for item in await self.step(*args):
            yield item

    def pid(self) -> int:
        import os

        return os.getpid()


@dataclasses.dataclass
class _Remotes:
    value: Any
    flow: Any
    stream: Any
    actor: Any


_REMOTES: list[_Remotes] = []


def _remotes(ray: Any) -> _Remotes:
    if not _REMOTES:
        _REMOTES.append(
            _Remotes(
                value=ray.remote(run_value),
                flow=ray.remote(run_flow),
                stream=ray.remote(run_stream),
                actor=ray.remote(NodeActor),
            )
        )
    return _REMOTES[0]
