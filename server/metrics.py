"""Prometheus metrics: requests by route, flow runs, node run times, what is loaded.

Each app owns its :class:`Metrics` and their :class:`~prometheus_client.CollectorRegistry`,
never the process-wide default one, so two apps in one process (tests, a benchmark) don't
clash over metric names.

Requests and node runs are the hot path, so they are not recorded through
prometheus-client's metric objects: those take a lock per increment and a histogram
observation takes two (measured: 1.4 us a request, against 0.3 us here). Instead each label
set gets a :class:`Series`, resolved once and cached in a dict, whose counts are plain
attributes; :class:`_Exporter` turns them into metric families when ``/metrics`` is scraped.
That is safe without locks because every update happens on the event loop's thread: the
dispatcher records requests there, and the engine calls node observers from the coroutine
that ran the node.

Labels stay low-cardinality: the route is its template path (``/items/{id}``, never the
URL), an unknown path is ``<unmatched>``, an unusual method ``OTHER``, and a node without a
task name is known by its class. Node times come from the engine's node observer
(:meth:`awel.dag.DAG.set_node_observer`), set on every mounted flow when flows load.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np
from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from awel.dag import DAG, DAGNode, NodeObserver
from awel.errors import AwelError
from operators.admission import WAIT_BUCKETS
from operators.models import current_models

if TYPE_CHECKING:
    from awel.operators import BaseOperator

#: The route label of requests that matched no flow route.
UNMATCHED = "<unmatched>"

# Flow nodes and requests run from well under a millisecond (a template) to a minute (a model
# writing a long answer), so the buckets span both ends rather than the library's defaults.
BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
# The `le` label values; str() of these bounds is how prometheus-client writes them too.
_LE = [str(b) for b in BUCKETS] + ["+Inf"]
_BOUNDS = np.array(BUCKETS, dtype=np.float64)
#: Observations a series holds before :meth:`Series.observe` folds them into its buckets.
FOLD_AT = 1024
#: Seconds between the app's folds of what the hot paths appended (they check no size).
FOLD_EVERY = 1.0

# Methods get their own label value; anything else a client sends is "OTHER", so a scanner
# trying made-up methods cannot grow the series (or the cache).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


class Series:
    """A count and a histogram of durations for one label set (no lock: see the module).

    Observations are appended to ``pending`` and folded into the buckets in bulk, at scrape
    time, every :data:`FOLD_AT` observations made through :meth:`observe`, and every
    :data:`FOLD_EVERY` seconds while an app runs (:meth:`Metrics.folding`): the hot paths
    append to ``pending`` themselves, a list append rather than a bucket search.
    """

    __slots__ = ("_buckets", "_count", "_sum", "pending")

    def __init__(self) -> None:
        self.pending: list[float] = []
        self._count = 0
        self._sum = 0.0
        #: Per bucket, not cumulative; the last one is +Inf.
        self._buckets = np.zeros(len(BUCKETS) + 1, dtype=np.int64)

    def observe(self, seconds: float) -> None:
        pending = self.pending
        pending.append(seconds)
        if len(pending) >= FOLD_AT:
            self.fold()

    def fold(self) -> None:
        """Move the pending observations into the count, sum and buckets."""
        if not self.pending:
            return
        values = np.array(self.pending, dtype=np.float64)
        self.pending.clear()
        self._count += len(values)
        self._sum += float(values.sum())
        # side="left": the first bound >= the value, as Prometheus buckets are "<=".
        where = np.searchsorted(_BOUNDS, values, side="left")
        self._buckets += np.bincount(where, minlength=len(BUCKETS) + 1)

    @property
    def count(self) -> int:
        self.fold()
        return self._count

    @property
    def sum(self) -> float:
        self.fold()
        return self._sum

    def add(self, other: Series) -> None:
        other.fold()
        self.fold()
        self._count += other._count
        self._sum += other._sum
        self._buckets = self._buckets + other._buckets

    def cumulative(self) -> list[tuple[str, float]]:
        self.fold()
        totals = np.cumsum(self._buckets)
        return [(le, float(n)) for le, n in zip(_LE, totals, strict=True)]


class Count:
    """A counter for one label set."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class Metrics:
    """One app's metrics and the registry they are exposed from."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        #: (route, method, status) -> that answer's count and durations.
        self.requests: dict[tuple[str, str, int], Series] = {}
        #: (dag, node) -> the node's run times.
        self.nodes: dict[tuple[str, str], Series] = {}
        #: (dag, "ok" | "error") -> runs.
        self.runs: dict[tuple[str, str], Count] = {}
        #: (dag, output node) -> its successful run times not yet folded.
        self._taps: dict[tuple[str, str], _OutputTap] = {}
        self.registry.register(_Exporter(self))
        self.flows_loaded = Gauge(
            "awel_flows_loaded", "Flows mounted at an HTTP route.", registry=self.registry
        )
        self.flow_load_errors = Gauge(
            "awel_flow_load_errors",
            "Problems found loading the user's flows (GET /api/v1/awel/flows/errors).",
            registry=self.registry,
        )

    # --- requests ---------------------------------------------------------------------------

    def request_done(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request; ``route`` is a template path or :data:`UNMATCHED`."""
        self.request_series(route, method, status).observe(seconds)

    def request_series(self, route: str, method: str, status: int) -> Series:
        """The series of one route, method and status (routes cache it for their hot path)."""
        series = self.requests.get((route, method, status))
        if series is None:
            if method not in _METHODS:
                method = "OTHER"
            series = self.requests.setdefault((route, method, status), Series())
        return series

    # --- flows ------------------------------------------------------------------------------

    def watch(self, dags: Iterable[DAG], *, load_errors: int) -> None:
        """Observe the nodes of every flow not observed yet, and update the load gauges.

        The flows a flow calls as nodes of its own (sub-flows, such as a chat round's
        scenes) are observed too: their nodes are timed under their own flow's id.

        Call it whenever flows (re)load, before the new flows serve: setting an observer
        recompiles a flow's plans, which is best done before its first call.
        """
        count = 0
        for dag in dags:
            count += 1
            for observed in (dag, *dag.subflows()):
                if observed.node_observer is None:
                    observed.set_node_observer(self.node_observer(observed))
        self.flows_loaded.set(count)
        self.flow_load_errors.set(load_errors)

    def node_observer(self, dag: DAG) -> NodeObserver:
        """An observer for ``dag`` that times its nodes and counts its runs.

        A run counts ``ok`` when the flow's output node finishes and ``error`` when a node
        raises; downstream nodes never run after a failure, so a run counts once. A node
        cancelled (the client left, a sibling failed) is timed but is no failed run. A
        streaming output node finishes when it hands its stream back, so a stream that fails
        later, while being sent, still counts ``ok``.
        """
        return _NodeObserver(self, dag)

    def output_times(self, dag_id: str, name: str) -> list[float]:
        """The list a flow's output node's successful run times go to (see _NodeObserver)."""
        tap = self._taps.get((dag_id, name))
        if tap is None:
            tap = self._taps[(dag_id, name)] = _OutputTap(
                self.nodes.setdefault((dag_id, name), Series()),
                self.runs.setdefault((dag_id, "ok"), Count()),
            )
        return tap.pending

    def fold(self) -> None:
        """Fold every pending observation (a scrape does; so does the app, every second)."""
        for tap in list(self._taps.values()):
            tap.fold()
        for group in (self.requests, self.nodes):
            for series in list(group.values()):
                series.fold()

    async def folding(self, app: web.Application) -> AsyncIterator[None]:
        """A cleanup context that folds the pending observations every FOLD_EVERY seconds.

        Request and node times are appended to plain lists on the hot path, with no size
        check there; this bounds what they hold between scrapes.
        """
        task = asyncio.create_task(self._fold_forever(), name="awel-metrics-fold")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _fold_forever(self) -> None:
        while True:
            await asyncio.sleep(FOLD_EVERY)
            self.fold()

    # --- exposition -------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        """``GET /metrics``: the text format, or OpenMetrics when the scraper asks for it."""
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(self.registry), headers={"Content-Type": content_type})


class _OutputTap:
    """Successful run times of a flow's output node, each one also an ``ok`` run.

    The engine appends to ``pending`` without calling anything (see
    :class:`_NodeObserver`); folding moves them into the node's series and counts the runs.
    """

    __slots__ = ("ok", "pending", "series")

    def __init__(self, series: Series, ok: Count) -> None:
        self.pending: list[float] = []
        self.series = series
        self.ok = ok

    def fold(self) -> None:
        pending = self.pending
        if pending:
            self.ok.value += len(pending)
            self.series.pending.extend(pending)
            pending.clear()


class _NodeObserver:
    """Times one flow's nodes and counts its runs (:meth:`Metrics.node_observer`).

    ``timings`` hands the engine a list per node to append successful run times to, which
    in a linear flow replaces a call per node; other flows, and failures, come through
    ``__call__``.
    """

    def __init__(self, metrics: Metrics, dag: DAG) -> None:
        self.metrics = metrics
        self.dag_id = dag.dag_id
        self.names = node_names(dag)
        self.series: dict[DAGNode, Series] = {
            node: metrics.nodes.setdefault((dag.dag_id, name), Series())
            for node, name in self.names.items()
        }
        self.ok = metrics.runs.setdefault((dag.dag_id, "ok"), Count())
        self.failed = metrics.runs.setdefault((dag.dag_id, "error"), Count())
        try:
            self.output: DAGNode | None = dag.output_node
        except AwelError:
            # Several leaves: no single output, so only failures count. (A mounted flow
            # always has one: its route answers with it.)
            self.output = None

    def _series(self, node: DAGNode) -> Series:
        timer = self.series.get(node)
        if timer is None:
            # A node added after the flow was mounted: rare, so resolve it here.
            key = (self.dag_id, _name_of(node))
            timer = self.series[node] = self.metrics.nodes.setdefault(key, Series())
        return timer

    def timings(self, node: DAGNode) -> list[float]:
        if node is self.output:
            name = self.names.get(node) or _name_of(node)
            return self.metrics.output_times(self.dag_id, name)
        return self._series(node).pending

    def __call__(self, node: BaseOperator, seconds: float, error: BaseException | None) -> None:
        self._series(node).pending.append(seconds)
        if error is None:
            if node is self.output:
                self.ok.value += 1
        elif not isinstance(error, asyncio.CancelledError):
            self.failed.value += 1


class _Exporter:
    """Turns a :class:`Metrics`' series into metric families at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        m.fold()
        requests = CounterMetricFamily(
            "awel_http_requests",
            "HTTP requests answered by flow routes, by route template, method and status.",
            labels=["route", "method", "status"],
        )
        # The duration histogram has no status label: sum each route's statuses.
        durations: dict[tuple[str, str], Series] = {}
        for (route, method, status), series in list(m.requests.items()):
            requests.add_metric([route, method, str(status)], series.count)
            durations.setdefault((route, method), Series()).add(series)
        yield requests
        yield _histogram(
            "awel_http_request_duration_seconds",
            "Time to answer a flow route's request (a stream: until its last chunk).",
            ["route", "method"],
            durations,
        )
        runs = CounterMetricFamily(
            "awel_dag_runs",
            "Flow runs: ok when the output node finished, error when a node raised.",
            labels=["dag", "status"],
        )
        for (dag, outcome), count in list(m.runs.items()):
            runs.add_metric([dag, outcome], count.value)
        yield runs
        yield _histogram(
            "awel_node_duration_seconds",
            "Run time of each node of each flow call.",
            ["dag", "node"],
            m.nodes,
        )
        yield from _model_queues()


_WAIT_LE = [str(b) for b in WAIT_BUCKETS] + ["+Inf"]


def _model_queues() -> Iterator[Metric]:
    """The process's model queues (operators.admission), read at scrape time."""
    queues = current_models().queues()
    length = GaugeMetricFamily(
        "awel_model_queue_length", "Requests waiting for the model now.", labels=["model"]
    )
    running = GaugeMetricFamily(
        "awel_model_running", "Requests the model is serving now.", labels=["model"]
    )
    oldest = GaugeMetricFamily(
        "awel_model_queue_oldest_wait_seconds",
        "How long the request at the head of the model's queue has waited.",
        labels=["model"],
    )
    refused = CounterMetricFamily(
        "awel_model_queue_refused",
        "Requests answered 429: the queue was full, or the wait too long.",
        labels=["model", "reason"],
    )
    dropped = CounterMetricFamily(
        "awel_model_queue_dropped",
        "Requests that left the queue because their client went away.",
        labels=["model"],
    )
    waits = HistogramMetricFamily(
        "awel_model_queue_wait_seconds",
        "Time requests waited in the model's queue before it took them.",
        labels=["model"],
    )
    for queue in queues:
        name, stats = queue.name, queue.stats
        length.add_metric([name], queue.waiting)
        running.add_metric([name], queue.running)
        oldest.add_metric([name], queue.oldest_wait())
        refused.add_metric([name, "full"], stats.refused_full)
        refused.add_metric([name, "wait"], stats.refused_timeout)
        dropped.add_metric([name], stats.dropped)
        buckets = list(stats.wait_buckets)
        total = 0
        cumulative = []
        for le, n in zip(_WAIT_LE, buckets, strict=True):
            total += n
            cumulative.append((le, float(total)))
        waits.add_metric([name], cumulative, stats.wait_sum)
    yield from (length, running, oldest, refused, dropped, waits)


def _histogram(
    name: str, doc: str, labels: list[str], series: dict[tuple[str, str], Series]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=labels)
    for key, s in list(series.items()):
        family.add_metric(list(key), s.cumulative(), s.sum)
    return family


def node_names(dag: DAG) -> dict[DAGNode, str]:
    """Stable, readable node labels: the task name, else the class name.

    Unnamed nodes' labels end in a random id, which would start new series at every reload;
    their class (numbered when a flow has several unnamed ones) stays put.
    """
    out: dict[DAGNode, str] = {}
    seen: dict[str, int] = {}
    for node in dag.topological_nodes():
        base = _name_of(node)
        n = seen.get(base, 0) + 1
        seen[base] = n
        out[node] = base if n == 1 else f"{base}_{n}"
    return out


def _name_of(node: DAGNode) -> str:
    return node.node_name or type(node).__name__
