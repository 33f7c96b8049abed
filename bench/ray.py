"""The Ray executor's cost and what it buys (awel/executor.py; results in bench/RESULTS.md).

1. Per-node overhead: one node called in sequence, locally and as a Ray task, for a trivial
   node and for a node that spins the CPU for 10 ms. The difference is the price of a
   round trip through the raylet; it tells where offloading a node starts to pay.
2. Embedding 2,000 chunks (batches of 32 through ``awel.iterate``) with the default
   embeddings model: the local engine, then a Ray executor with 1 and 2 actors on one Ray
   node of 2 CPUs, then 2 actors on two Ray nodes of 1 CPU each (a simulated second
   machine: a second node process), to show that the work spreads.

    python bench/ray.py --data-dir data

Prints the load average beside the numbers: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Run as a script, this file's folder leads sys.path and its name would hide the ray package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from awel import DAG, MapOperator  # noqa: E402
from awel.executor import RayExecutor  # noqa: E402
from awel.iteration import IterateNode  # noqa: E402

NAME = "all-minilm-l6-v2"
BATCH = 32
STORE_BYTES = 80 * 2**20


def trivial(x: int) -> int:
    return x + 1


def spin_10ms(x: int) -> int:
    end = time.perf_counter() + 0.010
    while time.perf_counter() < end:
        pass
    return x + 1


class EmbedBatch:
    """One batch of texts to vectors; the model is loaded once per process (per actor)."""

    def __init__(self, data_dir: str, threads: int | None) -> None:
        self.data_dir = data_dir
        self.threads = threads
        self.model: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "model": None}

    async def __call__(self, texts: list[str]) -> int:
        if self.model is None:
            from operators.embed.engine import load_embedder
            from operators.export.cache import find_model

            info = find_model(Path(self.data_dir), NAME, kind="embeddings")
            assert info is not None, f"no {NAME} build in {self.data_dir}"
            self.model = load_embedder(info.path, name=NAME, threads=self.threads)
        vectors = await self.model.embed(texts)
        return int(vectors.shape[0])


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


@contextlib.contextmanager
def _cluster(cpus: list[int]) -> Iterator[None]:
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray = importlib.import_module("ray")
    cluster_utils = importlib.import_module("ray.cluster_utils")
    node = {"object_store_memory": STORE_BYTES, "node_ip_address": "127.0.0.1"}
    cluster = cluster_utils.Cluster(
        initialize_head=True,
        head_node_args={**node, "num_cpus": cpus[0], "include_dashboard": False},
    )
    try:
        for n in cpus[1:]:
            cluster.add_node(**node, num_cpus=n)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False, logging_level="warning")
        try:
            yield
        finally:
            ray.shutdown()
    finally:
        cluster.shutdown()


async def _per_call(node: MapOperator[Any, Any], calls: int) -> float:
    await node.call(0)  # warm: plan compiled, worker started, node shipped
    times = []
    for i in range(calls):
        started = time.perf_counter()
        await node.call(i)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def overhead(calls: int) -> list[str]:
    lines = []
    for name, fn in (("trivial", trivial), ("10 ms CPU", spin_10ms)):
        with DAG(f"bench.{name}.local"):
            local: MapOperator[Any, Any] = MapOperator(fn, offload=False)
        with DAG(f"bench.{name}.ray"):
            remote: MapOperator[Any, Any] = MapOperator(fn, executor=RayExecutor(num_cpus=1))
        t_local = await _per_call(local, calls)
        t_ray = await _per_call(remote, calls)
        lines.append(
            f"| {name} node | {t_local * 1e3:.3f} ms | {t_ray * 1e3:.3f} ms |"
            f" +{(t_ray - t_local) * 1e3:.2f} ms | {_load()} |"
        )
    return lines


def _batches(chunks: int) -> list[list[str]]:
    texts = [
        f"Chunk {i}: the quarterly report lists revenue by region and product line {i % 17}."
        for i in range(chunks)
    ]
    return [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]


async def embed_run(data_dir: str, executor: RayExecutor | None, threads: int | None) -> float:
    with DAG("bench.embed"):
        node = IterateNode(EmbedBatch(data_dir, threads), concurrency=4, executor=executor)
    await node.call(_batches(BATCH * 4))  # warm: models loaded in every actor
    batches = _batches(2000)
    started = time.perf_counter()
    counts = await node.call(batches)
    elapsed = time.perf_counter() - started
    assert sum(counts) == 2000
    return 2000 / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    data_dir = str(Path(args.data_dir).resolve())
    print("| node | local | Ray task | overhead | load |\n|---|---|---|---|---|")
    with _cluster([2]):
        for line in asyncio.run(overhead(args.calls)):
            print(line, flush=True)
    print("\n| embedding 2,000 chunks | chunks/s | load |\n|---|---|---|")
    local = asyncio.run(embed_run(data_dir, None, None))
    print(f"| local engine (2 threads) | {local:.0f} | {_load()} |", flush=True)
    with _cluster([2]):
        for actors in (1, 2):
            executor = RayExecutor(actors=actors, num_cpus=1)
            rate = asyncio.run(embed_run(data_dir, executor, 1 if actors == 2 else 2))
            print(f"| Ray, {actors} actor(s), one node | {rate:.0f} | {_load()} |", flush=True)
    with _cluster([1, 1]):
        executor = RayExecutor(actors=2, num_cpus=1)
        rate = asyncio.run(embed_run(data_dir, executor, 1))
        print(f"| Ray, 2 actors on two nodes (1 CPU each) | {rate:.0f} | {_load()} |")


if __name__ == "__main__":
    main()
