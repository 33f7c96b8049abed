"""Benchmark: what routing through the controller and a remote worker costs.

    .venv/bin/python bench/cluster.py [--requests 200] [--duration 20] [--concurrency 8]

Processes, each ``awel`` on loopback with the real smollm2 (``make models``):

- all-in-one: ``awel serve`` (its model API answers with the model in its own process);
- cluster: ``awel start controller``, ``awel start worker`` (one, then two), and
  ``awel start apiserver`` (its model API asks the controller for a healthy worker and
  streams the worker's ``/api/worker/generate_stream``).

Latency: a short generation (a one-token prompt, ``max_tokens`` 1) through each model API's
``/api/v1/completions``, one request at a time, alternating all-in-one and cluster so
both see the same machine load; p50 and p99 of each, the difference of the medians (the
cost of the hop), and the median of the paired differences (each cluster request against the
all-in-one one beside it in time). Throughput: ``--concurrency`` clients, each answer
``--tokens`` tokens, for ``--duration`` seconds through the API server with one worker, then
with two.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cluster.procs import (  # noqa: E402
    AWEL,
    DATA_DIR,
    Cluster,
    free_port,
    get_json,
    healthy_ports,
    model_built,
    wait_until,
)

PROMPT = [{"role": "user", "content": "Hi"}]
#: The latency probe: a raw completion of one prompt token, one new token; the model's own
#: time is then a few milliseconds, so the hop's cost is not lost in its noise.
SHORT = {"model": "smollm2", "prompt": "Hi", "max_tokens": 1}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one(session: aiohttp.ClientSession, url: str, tokens: int) -> float:
    body = {"model": "smollm2", "messages": PROMPT, "max_tokens": tokens}
    started = time.perf_counter()
    async with session.post(url + "/api/v1/chat/completions", json=body) as resp:
        answer = await resp.json()
    if resp.status != 200:
        raise RuntimeError(f"{url} answered {resp.status}: {answer}")
    return time.perf_counter() - started


async def short(session: aiohttp.ClientSession, url: str) -> float:
    started = time.perf_counter()
    async with session.post(url + "/api/v1/completions", json=SHORT) as resp:
        answer = await resp.json()
    if resp.status != 200 or answer["usage"]["completion_tokens"] != 1:
        raise RuntimeError(f"{url} answered {resp.status}: {answer}")
    return time.perf_counter() - started


async def latency(urls: dict[str, str], n: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in urls}
    async with aiohttp.ClientSession() as session:
        for url in urls.values():  # warm up connections and the engines
            for _ in range(10):
                await short(session, url)
        for i in range(n):
            order = list(urls.items()) if i % 2 == 0 else list(reversed(urls.items()))
            for name, url in order:
                times[name].append(await short(session, url))
    return times


async def throughput(url: str, duration: float, concurrency: int, tokens: int) -> float:
    """Answers per second with ``concurrency`` clients asking back to back."""
    done = 0
    stop = time.perf_counter() + duration

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await one(session, url, tokens)
            done += 1

    async with aiohttp.ClientSession() as session:
        await one(session, url, tokens)
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        return done / (time.perf_counter() - started)


def start_all_in_one(tmp: Path) -> tuple[Any, str]:
    import subprocess

    port, api = free_port(), free_port()
    env = {**os.environ, "AWEL_MODELS": "smollm2", "AWEL_ACCESS_LOG": "false"}
    with (tmp / "all-in-one.log").open("ab") as log:
        proc = subprocess.Popen(
            [
                AWEL,
                "serve",
                "--port",
                str(port),
                "--model-api-port",
                str(api),
                "--data-dir",
                str(DATA_DIR),
                "--dags",
                str(tmp / "dags"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{api}"
    wait_until(lambda: bool(get_json(url + "/api/v1/models")["data"]), 60, "all-in-one up")
    return proc, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=16)
    args = parser.parse_args()
    if not model_built():
        raise SystemExit(f"smollm2 is not built in {DATA_DIR}; run `make models`")
    os.environ.setdefault("AWEL_ACCESS_LOG", "false")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        local, local_url = start_all_in_one(tmp)
        cluster = Cluster(tmp, workers=2)
        # Start with one worker; the second joins for the two-worker throughput.
        second, second_port = cluster.workers.pop(), cluster.worker_ports.pop()
        try:
            cluster.start()
            urls = {"all-in-one": local_url, "cluster": cluster.api_url}
            times = asyncio.run(latency(urls, args.requests))
            local.terminate()
            local.wait(10)
            one_worker = asyncio.run(
                throughput(cluster.api_url, args.duration, args.concurrency, args.tokens)
            )
            cluster.workers.append(second)
            cluster.worker_ports.append(second_port)
            second.start()
            wait_until(lambda: len(healthy_ports(cluster.controller_port)) == 2, 60, "worker 2")
            time.sleep(1.5)  # the API server's instance cache follows within a second
            two_workers = asyncio.run(
                throughput(cluster.api_url, args.duration, args.concurrency, args.tokens)
            )
        finally:
            if local.poll() is None:
                local.terminate()
            cluster.stop()
    report = {
        "latency_ms": {
            name: {
                "p50": round(statistics.median(ts) * 1000, 2),
                "p99": round(percentile(ts, 0.99) * 1000, 2),
            }
            for name, ts in times.items()
        },
        "added_p50_ms": round(
            (statistics.median(times["cluster"]) - statistics.median(times["all-in-one"])) * 1000,
            2,
        ),
        # Each cluster request against the all-in-one one next to it in time: steadier than
        # the difference of medians while other work comes and goes on the machine.
        "added_p50_paired_ms": round(
            statistics.median(
                c - a for c, a in zip(times["cluster"], times["all-in-one"], strict=True)
            )
            * 1000,
            2,
        ),
        "added_p99_ms": round(
            (percentile(times["cluster"], 0.99) - percentile(times["all-in-one"], 0.99)) * 1000,
            2,
        ),
        "throughput_answers_per_s": {
            "one_worker": round(one_worker, 2),
            "two_workers": round(two_workers, 2),
        },
        "settings": vars(args),
        "cpus": os.cpu_count(),
        "load": os.getloadavg()[0],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
