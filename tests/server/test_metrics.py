"""``GET /metrics`` against the real app: request, run and node metrics move as flows serve."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

import server.metrics as metrics_module
from awel import DAG, MapOperator
from server.app import FLOWS, METRICS, reload_user_flows
from server.metrics import Metrics, Series, node_names

from . import flows_src
from .conftest import FLOWS as SHIPPED_DIR
from .conftest import abandon_slow_request, running, until

HELLO = [SHIPPED_DIR / "awel_examples" / "hello.py"]
HELLO_ROUTE = "/api/v1/awel/trigger/examples/hello"

ITEM = """
from pydantic import BaseModel
from awel import DAG, MapOperator
from awel.trigger import HttpTrigger


class Ask(BaseModel):
    id: str


class Show(MapOperator[Ask, str]):
    async def map(self, ask: Ask) -> str:
        return ask.id


with DAG("item") as dag:
    HttpTrigger("/items/{id}", methods="GET", request_body=Ask) >> Show(task_name="show")
"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: TestClient[web.Request, web.Application]) -> Samples:
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(await resp.text()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_requests_are_counted_by_route_template_method_and_status(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=HELLO) as client:
        for name in ("a", "b"):
            assert (await client.get(HELLO_ROUTE, params={"name": name})).status == 200
        assert (await client.get(HELLO_ROUTE)).status == 400
        assert (await client.post(HELLO_ROUTE)).status == 405
        assert (await client.get("/no/such/path?x=1")).status == 404
        samples = await scrape(client)

    requests = "awel_http_requests_total"
    assert value(samples, requests, route=HELLO_ROUTE, method="GET", status="200") == 2
    assert value(samples, requests, route=HELLO_ROUTE, method="GET", status="400") == 1
    assert value(samples, requests, route=HELLO_ROUTE, method="POST", status="405") == 1
    assert value(samples, requests, route="<unmatched>", method="GET", status="404") == 1
    duration = "awel_http_request_duration_seconds_count"
    assert value(samples, duration, route=HELLO_ROUTE, method="GET") == 3
    assert value(samples, "awel_http_request_duration_seconds_sum", route=HELLO_ROUTE, method="GET")
    # Labels never carry a raw URL: no query strings, no unknown paths.
    routes = {dict(labels).get("route") for _, labels in samples}
    assert routes == {None, HELLO_ROUTE, "<unmatched>"}


async def test_a_path_with_parameters_is_labelled_by_its_template(
    tmp_path: Path, dags: Path
) -> None:
    (dags / "item.py").write_text(ITEM)
    async with running(tmp_path, shipped=[]) as client:
        for item in ("1", "2", "3"):
            assert await (await client.get(f"/api/v1/awel/trigger/items/{item}")).json() == item
        samples = await scrape(client)
    route = "/api/v1/awel/trigger/items/{id}"
    assert value(samples, "awel_http_requests_total", route=route, method="GET", status="200") == 3
    assert not any("/items/1" in str(labels) for _, labels in samples)


async def test_node_durations_and_runs_of_the_hello_flow(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=HELLO) as client:
        for _ in range(3):
            await client.get(HELLO_ROUTE, params={"name": "x"})
        samples = await scrape(client)
    dag = "simple_dag_example"
    # Nodes are labelled by task name (unnamed ones by class, tested below). The trigger
    # only passes the request on, so a plan seeds it and there is nothing to time.
    assert value(samples, "awel_node_duration_seconds_count", dag=dag, node="greet") == 3
    assert value(samples, "awel_node_duration_seconds_bucket", dag=dag, node="greet", le="+Inf")
    assert value(samples, "awel_node_duration_seconds_count", dag=dag, node="trigger") == 0
    assert value(samples, "awel_dag_runs_total", dag=dag, status="ok") == 3
    assert value(samples, "awel_dag_runs_total", dag=dag, status="error") == 0
    assert value(samples, "awel_flows_loaded") == 1
    assert value(samples, "awel_flow_load_errors") == 0


TWO_STEPS = """
from awel import DAG, MapOperator
from awel.trigger import HttpTrigger

with DAG("two_steps") as dag:
    t = HttpTrigger("/two", methods="POST", request_body=dict, task_name="trigger")
    t >> MapOperator(lambda body: len(body), task_name="size") >> MapOperator(
        lambda n: n * 2, task_name="double"
    )
"""


async def test_each_node_of_a_linear_flow_is_timed_and_each_run_counted_once(
    tmp_path: Path, dags: Path
) -> None:
    # Successful nodes of a linear flow are timed without a call to the observer (the
    # engine appends to the lists it hands out); the scrape must still see every one.
    (dags / "two.py").write_text(TWO_STEPS)
    async with running(tmp_path, shipped=[]) as client:
        for _ in range(4):
            assert (await client.post("/api/v1/awel/trigger/two", json={"a": 1})).status == 200
        samples = await scrape(client)
    for node in ("size", "double"):
        assert value(samples, "awel_node_duration_seconds_count", dag="two_steps", node=node) == 4
    assert value(samples, "awel_dag_runs_total", dag="two_steps", status="ok") == 4


async def test_the_app_folds_what_the_hot_paths_append(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Requests and node times go to plain lists with no size check; the app folds them
    # on its own, so they stay small between scrapes.
    monkeypatch.setattr(metrics_module, "FOLD_EVERY", 0.01)
    async with running(tmp_path, shipped=HELLO) as client:
        for _ in range(3):
            await client.get(HELLO_ROUTE, params={"name": "x"})
        metrics = client.app[METRICS]
        assert metrics is not None
        (series,) = [s for (route, *_), s in metrics.requests.items() if route == HELLO_ROUTE]
        greet = metrics.nodes[("simple_dag_example", "greet")]
        await until(lambda: not series.pending and greet._count == 3)
        assert series._count == 3
        assert metrics.runs[("simple_dag_example", "ok")].value == 3


async def test_a_failing_flow_counts_an_error_run(tmp_path: Path, dags: Path) -> None:
    (dags / "boom.py").write_text(flows_src.FAIL)
    async with running(tmp_path, shipped=[]) as client:
        assert (await client.post("/api/v1/awel/trigger/boom", json={})).status == 500
        samples = await scrape(client)
    assert value(samples, "awel_dag_runs_total", dag="boom", status="error") == 1
    assert value(samples, "awel_dag_runs_total", dag="boom", status="ok") == 0
    assert value(samples, "awel_node_duration_seconds_count", dag="boom", node="divide") == 1
    route = "/api/v1/awel/trigger/boom"
    assert value(samples, "awel_http_requests_total", route=route, method="POST", status="500") == 1


async def test_a_client_that_leaves_is_counted_499_and_not_as_a_failed_run(
    tmp_path: Path, dags: Path
) -> None:
    (dags / "slow.py").write_text(flows_src.SLOW)
    async with running(tmp_path, shipped=[]) as client:
        assert (await abandon_slow_request(client))["cancelled"] == 1
        samples: Samples = {}
        route = "/api/v1/awel/trigger/slow"
        for _ in range(100):
            samples = await scrape(client)
            if value(samples, "awel_http_requests_total", route=route, method="POST", status="499"):
                break
            await asyncio.sleep(0.01)
    assert value(samples, "awel_http_requests_total", route=route, method="POST", status="499") == 1
    assert value(samples, "awel_dag_runs_total", dag="slow", status="error") == 0
    assert value(samples, "awel_dag_runs_total", dag="slow", status="ok") == 0


async def test_reloaded_flows_are_observed_and_the_load_gauges_follow(
    tmp_path: Path, dags: Path
) -> None:
    async with running(tmp_path, shipped=HELLO) as client:
        (dags / "echo.py").write_text(flows_src.ECHO)
        (dags / "broken.py").write_text("x = (\n")
        await reload_user_flows(client.app)
        assert (await client.post("/api/v1/awel/trigger/echo", json={"name": "n"})).status == 200
        samples = await scrape(client)
        assert value(samples, "awel_flows_loaded") == 2
        assert value(samples, "awel_flow_load_errors") == 1
        assert value(samples, "awel_node_duration_seconds_count", dag="echo", node="echo") == 1
        assert value(samples, "awel_dag_runs_total", dag="echo", status="ok") == 1

        (dags / "broken.py").unlink()
        await reload_user_flows(client.app)
        samples = await scrape(client)
        assert value(samples, "awel_flow_load_errors") == 0


async def test_metrics_off_means_no_metrics_route(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=HELLO, metrics=False) as client:
        assert (await client.get(HELLO_ROUTE, params={"name": "x"})).status == 200
        resp = await client.get("/metrics")
        assert resp.status == 404
        assert (await resp.json())["success"] is False
        dag = next(iter(client.app[FLOWS].dags()))
        # No observer either: the flow's plans stay untimed.
        assert dag.node_observer is None


async def test_two_apps_in_one_process_keep_their_own_counts(tmp_path: Path) -> None:
    async with (
        running(tmp_path / "a", shipped=HELLO) as first,
        running(tmp_path / "b", shipped=[]) as second,
    ):
        await first.get(HELLO_ROUTE, params={"name": "x"})
        await second.get("/nothing")
        a, b = await scrape(first), await scrape(second)
    requests = "awel_http_requests_total"
    assert value(a, requests, route=HELLO_ROUTE, method="GET", status="200") == 1
    assert value(a, requests, route="<unmatched>", method="GET", status="404") == 0
    assert value(b, requests, route="<unmatched>", method="GET", status="404") == 1
    assert value(b, "awel_flows_loaded") == 0


async def test_openmetrics_when_the_scraper_asks(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=[]) as client:
        resp = await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
        assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
        assert (await resp.text()).endswith("# EOF\n")


def test_made_up_methods_share_one_label_and_are_not_cached() -> None:
    metrics = Metrics()
    for method in ("BREW", "WHEN", "GET"):
        metrics.request_done("/r", method, 200, 0.001)
    assert {key: s.count for key, s in metrics.requests.items()} == {
        ("/r", "OTHER", 200): 2,
        ("/r", "GET", 200): 1,
    }


def test_unnamed_nodes_get_stable_class_names_numbered_when_repeated() -> None:
    with DAG("names") as dag:
        first = MapOperator(str.upper)
        second = MapOperator(str.lower)
        named = MapOperator(str.strip, task_name="strip")
        first >> second >> named
    assert list(node_names(dag).values()) == ["MapOperator", "MapOperator_2", "strip"]


def test_series_buckets_are_cumulative_and_inclusive_like_prometheus() -> None:
    series = Series()
    for seconds in (0.0004, 0.001, 0.0011, 120.0):
        series.observe(seconds)
    buckets = dict(series.cumulative())
    assert buckets["0.0005"] == 1
    assert buckets["0.001"] == 2  # "le": a value on a bound falls in that bucket
    assert buckets["0.0025"] == 3
    assert buckets["60.0"] == 3
    assert buckets["+Inf"] == series.count == 4
    assert series.sum == 0.0004 + 0.001 + 0.0011 + 120.0
