"""A real cluster on loopback: controller, two workers of smollm2, an API server.

Each process is ``awel start ...``; the workers serve the real model with short answers.
Heartbeats every 0.2 s, expiry after 1 s, so the failure cases take seconds.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.cluster.procs import (
    TIMEOUT,
    Cluster,
    get_json,
    healthy_ports,
    model_built,
    post_json,
    running_cluster,
    wait_until,
)

pytestmark = [
    pytest.mark.skipif(not model_built(), reason="smollm2 is not built (make models)"),
    pytest.mark.timeout(240),
]

CHAT = {"model": "smollm2", "messages": [{"role": "user", "content": "Name a colour."}]}


def served(port: int) -> int:
    """How many generate_stream requests the worker at ``port`` has answered."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
        text = resp.read().decode()
    total = 0
    for line in text.splitlines():
        if line.startswith("awel_http_requests_total") and "/api/worker/generate_stream" in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


async def stream_one(session: aiohttp.ClientSession, url: str, max_tokens: int) -> dict[str, Any]:
    """Stream one chat completion; say whether text arrived and whether it ended well."""
    got_text = False
    ok = False
    error: str | None = None
    try:
        body = {**CHAT, "stream": True, "max_tokens": max_tokens}
        async with session.post(url + "/api/v1/chat/completions", json=body) as resp:
            if resp.status != 200:
                return {"started": False, "ok": False, "error": await resp.text()}
            async for raw in resp.content:
                line = raw.decode().strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    ok = error is None
                    break
                event = json.loads(data)
                if "error" in event:
                    error = event["error"]["message"]
                    continue
                if event["choices"] and event["choices"][0]["delta"].get("content"):
                    got_text = True
    except aiohttp.ClientError as exc:
        error = str(exc)
    return {"started": got_text, "ok": ok, "error": error}


def test_routes_through_the_controller_and_spreads_load(tmp_path: Path) -> None:
    with running_cluster(tmp_path, webserver=True) as cluster:
        asyncio.run(_spread(cluster))
        listed = get_json(f"{cluster.addr}/api/controller/models")
        keys = {(i["model_name"], i["port"]) for i in listed}
        for port in cluster.worker_ports:
            assert ("smollm2@llm", port) in keys
            assert ("WorkerManager@service", port) in keys
        _manage_through_the_webserver(cluster)


def _manage_through_the_webserver(cluster: Cluster) -> None:
    """The webserver (--controller-addr) lists, stops and starts models on remote workers."""
    web = cluster.web_url
    rows = get_json(web + "/api/v1/worker/models")["data"]
    assert {(r["model_name"], r["port"], r["manager_port"]) for r in rows} == {
        ("smollm2", p, p) for p in cluster.worker_ports
    }
    assert all(r["worker_type"] == r["model_type"] == "llm" for r in rows)
    supported = get_json(web + "/api/v1/worker/model-types")["data"]
    assert {(m["model"], m["port"]) for m in supported} >= {
        ("smollm2", p) for p in cluster.worker_ports
    }
    chat = post_json(
        web + "/api/v1/awel/trigger/examples/simple_chat",
        {"model": "smollm2", "user_input": "Hi"},
    )
    assert chat["error_code"] == 0 and chat["text"]
    target = {"host": "127.0.0.1", "port": cluster.worker_ports[1], "model": "smollm2"}
    stopped = time.monotonic()
    assert post_json(web + "/api/v1/worker/models/stop", target)["data"] is True
    assert cluster.worker_ports[1] not in healthy_ports(cluster.controller_port)
    assert time.monotonic() - stopped < 1
    assert post_json(web + "/api/v1/worker/model/start", target)["data"] is True
    assert cluster.worker_ports[1] in healthy_ports(cluster.controller_port)
    for body, named in (
        ({**target, "host": "10.1.2.3"}, "10.1.2.3"),
        ({**target, "model": "no-such-model"}, "no-such-model"),
        ({**target, "worker_type": "vision"}, "worker_type"),
    ):
        answer = post_json(web + "/api/v1/worker/models/stop", body)
        assert answer["success"] is False and named in answer["err_msg"], answer


async def _spread(cluster: Cluster) -> None:
    before = [served(p) for p in cluster.worker_ports]
    async with aiohttp.ClientSession() as session:
        results = await asyncio.gather(*(stream_one(session, cluster.api_url, 4) for _ in range(8)))
    assert all(r["ok"] for r in results), results
    after = [served(p) for p in cluster.worker_ports]
    counts = [a - b for a, b in zip(after, before, strict=True)]
    assert sum(counts) == 8
    assert min(counts) >= 2, counts  # both workers took a share


def test_sigkill_a_worker_mid_load(tmp_path: Path) -> None:
    with running_cluster(tmp_path) as cluster:
        results, noticed = asyncio.run(_load_and_kill(cluster))
        # No request that had not started streaming failed.
        unstarted_failures = [r for r in results if not r["ok"] and not r["started"]]
        assert not unstarted_failures, unstarted_failures
        assert sum(r["ok"] for r in results) >= len(results) - 4
        # The dead instance is marked unhealthy within the timeout (plus a beat of slack).
        dead = cluster.worker_ports[0]
        assert noticed <= float(TIMEOUT) + 0.5, noticed
        listed = get_json(f"{cluster.addr}/api/controller/models?model_name=smollm2@llm")
        assert any(i["port"] == dead and not i["healthy"] for i in listed)
        # Restarted on the same port, it is back, and takes requests again.
        cluster.workers[0].start()
        wait_until(lambda: dead in healthy_ports(cluster.controller_port), 60, "worker back")
        before = served(dead)
        again = asyncio.run(_burst(cluster.api_url, 6))
        assert all(r["ok"] for r in again), again
        assert served(dead) > before


async def _burst(url: str, n: int) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        return list(await asyncio.gather(*(stream_one(session, url, 4) for _ in range(n))))


async def _load_and_kill(cluster: Cluster) -> tuple[list[dict[str, Any]], float]:
    """Requests keep coming while worker 0 is killed; give their results and how long
    after the kill the controller listed the worker as unhealthy."""
    tasks: list[asyncio.Task[dict[str, Any]]] = []
    watcher: asyncio.Task[float] | None = None
    async with aiohttp.ClientSession() as session:
        for i in range(16):
            tasks.append(asyncio.create_task(stream_one(session, cluster.api_url, 12)))
            await asyncio.sleep(0.05)
            if i == 6:
                cluster.workers[0].kill(signal.SIGKILL)
                watcher = asyncio.create_task(_until_unhealthy(session, cluster))
        results = list(await asyncio.gather(*tasks))
        assert watcher is not None
        noticed = await asyncio.wait_for(watcher, 10)
    return results, noticed


async def _until_unhealthy(session: aiohttp.ClientSession, cluster: Cluster) -> float:
    killed = time.monotonic()
    url = f"{cluster.addr}/api/controller/models"
    params = {"model_name": "smollm2@llm", "healthy_only": "true"}
    while True:
        async with session.get(url, params=params) as resp:
            ports = {i["port"] for i in await resp.json()}
        if cluster.worker_ports[0] not in ports:
            return time.monotonic() - killed
        await asyncio.sleep(0.05)


def test_no_healthy_instance_is_an_error_output_not_a_hang(tmp_path: Path) -> None:
    with running_cluster(tmp_path, workers=1) as cluster:
        cluster.workers[0].kill(signal.SIGKILL)
        wait_until(lambda: not healthy_ports(cluster.controller_port), 3, "worker marked unhealthy")
        started = time.monotonic()
        body = {**CHAT, "max_tokens": 4}
        req = urllib.request.Request(
            cluster.api_url + "/api/v1/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        # NoInstance is a 503 the operator chose: its message reaches the client.
        assert err.value.code == 503
        error = json.loads(err.value.read())["error"]
        assert re.search(r"no healthy instance of 'smollm2@llm'", error["message"])
        assert time.monotonic() - started < 3
