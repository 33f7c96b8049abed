"""Benchmark: a burst of connections, and more chat requests than the model can serve.

    .venv/bin/python bench/load.py [--burst 500] [--rounds 3] [--chats 64] [--queue 16]

Each case runs a real ``awel serve`` in a child process (access log off, on a data folder
that borrows the built models) and drives it from this process:

- **Burst**: ``--burst`` clients open a connection each at the same moment and send
  ``GET /api/v1/awel/trigger/examples/hello?name=x`` (``Connection: close``); the time of each,
  from the burst's start to the whole answer, gives p50 and p99; a refused, reset or
  unanswered connection (10 s) is an error. Run with the listening backlog at aiohttp's old
  default (``AWEL_BACKLOG=128``) and at the new default (the system's ``somaxconn``);
  medians over ``--rounds`` bursts.
- **Queue**: ``--chats`` streamed chat completions to the default language model at once,
  with ``AWEL_MAX_QUEUED_REQUESTS=--queue``: how many are accepted and how many refused (429
  with ``Retry-After``), and p50/p99 time to first token of the accepted ones.

The load average is printed with the numbers: on a shared machine it says how much to
trust them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
HELLO = "/api/v1/awel/trigger/examples/hello?name=x"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``awel serve`` in a child process with ``env`` settings."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="awel-load-"))
        (self.tmp / "models").symlink_to((data_dir / "models").resolve())
        self.port = free_port()
        self.api_port = free_port()
        awel = Path(sys.executable).parent / "awel"
        self.proc = subprocess.Popen(
            [
                str(awel),
                "serve",
                "--data-dir",
                str(self.tmp),
                "--port",
                str(self.port),
                "--model-api-port",
                str(self.api_port),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "AWEL_ACCESS_LOG": "false", "AWEL_RELOAD": "false", **env},
        )

    async def ready(self) -> None:
        deadline = time.monotonic() + 180
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"awel serve exited with {self.proc.returncode}")
                try:
                    url = f"http://127.0.0.1:{self.api_port}/api/v1/models"
                    async with session.get(url) as r:
                        if r.status == 200 and (await r.json())["data"]:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.5)
        raise RuntimeError("awel serve did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _hello(port: int, started: float) -> float | None:
    request = f"GET {HELLO} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    try:
        async with asyncio.timeout(10):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            answer = await reader.read()
            writer.close()
    except (OSError, TimeoutError):
        return None
    if not answer.startswith(b"HTTP/1.1 200"):
        return None
    return time.perf_counter() - started


async def burst(port: int, clients: int) -> dict[str, float]:
    started = time.perf_counter()
    times = await asyncio.gather(*(_hello(port, started) for _ in range(clients)))
    ok = [t for t in times if t is not None]
    return {
        "p50_ms": _pct(ok, 0.5) * 1000,
        "p99_ms": _pct(ok, 0.99) * 1000,
        "errors": float(clients - len(ok)),
    }


async def _chat(session: aiohttp.ClientSession, url: str, tokens: int) -> tuple[str, float]:
    body = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": "Write a long story about a dragon."}],
        "max_tokens": tokens,
        "stream": True,
    }
    started = time.perf_counter()
    async with session.post(url, json=body) as resp:
        if resp.status == 429:
            assert "Retry-After" in resp.headers
            return "refused", 0.0
        if resp.status != 200:
            return f"status {resp.status}", 0.0
        first = 0.0
        async for line in resp.content:
            # The first chunk with text (the role chunk's content is empty).
            text = b'"content":"' in line and b'"content":""' not in line
            if not first and line.startswith(b"data: {") and text:
                first = time.perf_counter() - started
        return "accepted", first


async def queue_case(port: int, chats: int, tokens: int) -> dict[str, float]:
    url = f"http://127.0.0.1:{port}/api/v1/chat/completions"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        results = await asyncio.gather(*(_chat(session, url, tokens) for _ in range(chats)))
    ttft = [t for outcome, t in results if outcome == "accepted"]
    return {
        "accepted": float(len(ttft)),
        "refused": float(sum(1 for outcome, _ in results if outcome == "refused")),
        "other": float(sum(1 for outcome, _ in results if outcome not in ("accepted", "refused"))),
        "ttft_p50_s": _pct(ttft, 0.5),
        "ttft_p99_s": _pct(ttft, 0.99),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"load_before": os.getloadavg()}
    for label, env in (("backlog 128", {"AWEL_BACKLOG": "128"}), ("default backlog", {})):
        server = Server(args.data_dir, env)
        try:
            await server.ready()
            await burst(server.port, 20)  # warm up the route
            rounds = []
            for _ in range(args.rounds):
                rounds.append(await burst(server.port, args.burst))
                await asyncio.sleep(1.0)
            out[label] = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]} | {
                "rounds": rounds
            }
        finally:
            server.stop()
    server = Server(args.data_dir, {"AWEL_MAX_QUEUED_REQUESTS": str(args.queue)})
    try:
        await server.ready()
        out["queue"] = await queue_case(server.api_port, args.chats, args.tokens)
    finally:
        server.stop()
    out["load_after"] = os.getloadavg()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chats", type=int, default=64)
    parser.add_argument("--queue", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"load average before: {results['load_before']}, after: {results['load_after']}")
    print(f"\nburst of {args.burst} connections to hello (median of {args.rounds}):")
    print("| listening backlog | p50 | p99 | worst round's p99 | errors |")
    print("|---|---|---|---|---|")
    for label in ("backlog 128", "default backlog"):
        r = results[label]
        print(
            f"| {label} | {r['p50_ms']:.0f} ms | {r['p99_ms']:.0f} ms |"
            f" {r['worst_p99_ms']:.0f} ms | {r['errors']:.0f} |"
        )
    q = results["queue"]
    print(f"\n{args.chats} streamed chat completions at once, max_queued_requests={args.queue}:")
    print("| accepted | refused (429) | other | TTFT p50 | TTFT p99 |\n|---|---|---|---|---|")
    print(
        f"| {q['accepted']:.0f} | {q['refused']:.0f} | {q['other']:.0f} |"
        f" {q['ttft_p50_s']:.2f} s | {q['ttft_p99_s']:.2f} s |"
    )


if __name__ == "__main__":
    main()
