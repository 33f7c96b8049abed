"""Benchmark: the trigger server against a bare aiohttp handler doing the same work.

    .venv/bin/python bench/server.py [--duration 10] [--rounds 3] [--connections 32]
                                     [--loop uvloop|asyncio]

Each server runs in its own process (one event loop, no access log, the same settings) and
both are loaded the same way in the same run, alternating which goes first each round. Both
run on the same event loop: uvloop by default (what ``awel serve`` runs on), or asyncio's
own with ``--loop asyncio``.

- ``GET /api/v1/awel/trigger/examples/hello?name=x``: requests/s and p99 latency (wrk, or an
  aiohttp client when wrk is missing), and the server's CPU time per request (utime+stime of
  the server process from /proc, divided by requests: steadier than req/s on a busy machine).
- SSE: chunks/s of a 256-chunk stream, read by one client, against a bare handler that
  writes each chunk with ``await resp.write()``.

Ratios are awel over bare; medians over rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELLO = "/api/v1/awel/trigger/examples/hello?name=x"
SSE = "/api/v1/awel/trigger/bench/sse256"
CHUNKS = 256

SSE_FLOW = """
from collections.abc import AsyncIterator
from awel import DAG, StreamifyAbsOperator
from awel.trigger import HttpTrigger


class Chunks(StreamifyAbsOperator[object, str]):
    async def streamify(self, _: object) -> AsyncIterator[str]:
        for i in range(256):
            yield "chunk " + str(i)


with DAG("bench_sse256") as dag:
    t = HttpTrigger("/bench/sse256", methods="GET", streaming_response=True)
    t >> Chunks(task_name="chunks")
"""


# --- the two servers (run as child processes) --------------------------------------------


def serve_awel(port: int) -> None:
    sys.path.insert(0, str(ROOT))
    from aiohttp import web

    from server.app import make_app
    from server.flows import webserver_flow_files
    from server.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="awel-bench-"))
    flow = tmp / "sse256.py"
    flow.write_text(SSE_FLOW)
    # The app `awel serve` builds (every shipped flow mounted; models are loaded by
    # `awel serve` itself, not by the app, so none here), plus the SSE flow.
    settings = Settings(data_dir=tmp, reload=False)
    app = make_app(settings, shipped=[*webserver_flow_files(), flow])
    try:
        # The runner `awel serve` uses (connection cap, head deadline, keep-alive timeout),
        # so its per-connection work is measured too; a checkout older than it has none.
        from server.main import connection_limits, make_runner
    except ImportError:
        web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)
        return
    runner = make_runner(app, settings, connection_limits(settings))

    async def serve() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    asyncio.run(serve())


def serve_bare(port: int) -> None:
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        name = request.query["name"]
        age = int(request.query.get("age", "18"))
        body = json.dumps(f"Hello, {name}, your age is {age}").encode()
        return web.Response(body=body, content_type="application/json")

    async def sse(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(CHUNKS):
            await resp.write(f"data: chunk {i}\n\n".encode())
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/api/v1/awel/trigger/examples/hello", hello)
    app.router.add_get(SSE, sse)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# --- measuring -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, kind: str, loop: str) -> None:
        self.kind = kind
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, "--port", str(self.port), "--loop", loop],
            cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{kind} server did not start")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def wrk(url: str, duration: float, connections: int) -> tuple[float, float, int]:
    """Requests/s, p99 latency in ms and the request count, from wrk."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert m is not None, out
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    return rps, p99, count


async def client_load(url: str, duration: float, connections: int) -> tuple[float, float, int]:
    """The same figures from an aiohttp client, when wrk is not installed."""
    import aiohttp

    latencies: list[float] = []
    stop = time.monotonic() + duration

    async def worker(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            async with session.get(url) as resp:
                await resp.read()
            latencies.append(time.perf_counter() - t0)

    start = time.monotonic()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))
    elapsed = time.monotonic() - start
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    return len(latencies) / elapsed, p99, len(latencies)


async def sse_rate(url: str, streams: int) -> float:
    """Chunks per second for ``streams`` sequential reads of the 256-chunk stream."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        total = 0
        t0 = time.perf_counter()
        for _ in range(streams):
            async with session.get(url) as resp:
                body = await resp.read()
            total += body.count(b"data: ")
        elapsed = time.perf_counter() - t0
    assert total == CHUNKS * streams, total
    return total / elapsed


def measure(server: Server, args: argparse.Namespace) -> dict[str, float]:
    url = server.url(HELLO)
    # Warm up (imports, plan compile, connection setup).
    if shutil.which("wrk"):
        wrk(url, 1, args.connections)
    cpu0 = server.cpu_seconds()
    if shutil.which("wrk"):
        rps, p99, count = wrk(url, args.duration, args.connections)
    else:
        rps, p99, count = asyncio.run(client_load(url, args.duration, args.connections))
    cpu = server.cpu_seconds() - cpu0
    chunks = asyncio.run(sse_rate(server.url(SSE), args.streams))
    return {"rps": rps, "p99_ms": p99, "cpu_us": cpu / count * 1e6, "sse_chunks_s": chunks}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--streams", type=int, default=200, help="SSE streams read per round")
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--loop", choices=["uvloop", "asyncio"], default="uvloop", help="both servers' loop"
    )
    ap.add_argument("--serve", choices=["awel", "bare"], help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve and args.loop == "uvloop":
        import uvloop

        # Before web.run_app makes its loop; the same for both servers.
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if args.serve == "awel":
        return serve_awel(args.port)
    if args.serve == "bare":
        return serve_bare(args.port)

    loader = f"wrk -t1 -c{args.connections} -d{max(1, round(args.duration))}s, {args.loop} loop"
    if not shutil.which("wrk"):
        loader = f"aiohttp client, {args.connections} connections (wrk not installed)"
    servers = {"bare": Server("bare", args.loop), "awel": Server("awel", args.loop)}
    results: dict[str, list[dict[str, float]]] = {"bare": [], "awel": []}
    try:
        for r in range(args.rounds):
            order = ["bare", "awel"] if r % 2 == 0 else ["awel", "bare"]
            for kind in order:
                results[kind].append(measure(servers[kind], args))
    finally:
        for s in servers.values():
            s.stop()

    def med(kind: str, key: str) -> float:
        return statistics.median(x[key] for x in results[kind])

    rows: list[tuple[str, float, float, float, str, bool]] = []
    for key, label, target, higher in [
        ("rps", "hello req/s", 0.85, True),
        ("p99_ms", "hello p99 latency (ms)", 1.2, False),
        ("cpu_us", "hello server CPU per request (us)", 1.2, False),
        ("sse_chunks_s", "SSE chunks/s, 256-chunk stream", 0.9, True),
    ]:
        a, b = med("awel", key), med("bare", key)
        ratio = a / b
        ok = ratio >= target if higher else ratio <= target
        want = f">= {target}x" if higher else f"<= {target}x"
        rows.append((label, a, b, ratio, want, ok))
    if args.json:
        print(json.dumps({"load": loader, "rounds": args.rounds, "results": results}))
        return
    print(f"load: {loader}; {args.rounds} rounds, medians; ratio = awel / bare")
    print(f"{'measure':36} {'awel':>10} {'bare':>10} {'ratio':>7}  target")
    for label, a, b, ratio, want, ok in rows:
        print(f"{label:36} {a:10.1f} {b:10.1f} {ratio:7.2f}  {want} {'PASS' if ok else 'MISS'}")


if __name__ == "__main__":
    main()
