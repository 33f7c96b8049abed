"""The LLM through the HTTP model API against the same engine called directly, same run.

    python bench/llm_http.py               # ~2-3 min: 3 rounds
    python bench/llm_http.py --rounds 5

A real ``awel serve`` process (webserver off to the side, model API on its own port) and
the engine loaded in this process answer the same chat prompts, one side at a time:

1. **One stream**: tokens/s and time to first token of one greedy chat stream through
   ``POST /api/v1/chat/completions`` (SSE, ``stream_options.include_usage``) against
   :meth:`LocalLLM.stream` on an engine of the same build. The difference is what the
   flow, the HTTP server and SSE cost (target: tokens/s within 5 %, first token within
   5 ms).
2. **Eight streams**: aggregate tokens/s of 8 concurrent HTTP streams against one HTTP
   stream (target: at least 3x).

Tokens are the ``completion_tokens`` each side reports; the HTTP API cannot suppress the end
of sequence, so prompts ask for long answers and rates use the tokens actually made.
Rounds alternate which side runs first; the table gives medians over rounds and the median
of the per-round ratios. Load average is printed: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from operators.export.cache import find_model
from operators.llm.engine import LocalLLM, load_llm
from operators.llm.types import ChatMessage, GenerationParams, GenerationRequest

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = [
    "Write a short story about a lighthouse keeper.",
    "Explain how a database index works.",
    "Describe a walk through a forest in autumn.",
    "List some uses of the Python language and explain each.",
    "Write a poem about the sea.",
    "How do I boil an egg? Explain every step.",
    "Tell me about the history of Paris.",
    "What makes a good software design?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``awel serve`` in a child process, on a data folder that borrows the built models."""

    def __init__(self, data_dir: Path) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="awel-llm-http-"))
        (self.tmp / "models").symlink_to((data_dir / "models").resolve())
        self.port = free_port()
        awel = Path(sys.executable).parent / "awel"
        self.proc = subprocess.Popen(
            [
                str(awel),
                "serve",
                "--data-dir",
                str(self.tmp),
                "--port",
                str(free_port()),
                "--model-api-port",
                str(self.port),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "AWEL_ACCESS_LOG": "false"},
        )
        self.url = f"http://127.0.0.1:{self.port}/api/v1"

    async def ready(self, session: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"awel serve exited with {self.proc.returncode}")
            try:
                async with session.get(self.url + "/models") as r:
                    if r.status == 200 and (await r.json())["data"]:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
        raise RuntimeError("awel serve did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


async def http_stream(
    session: aiohttp.ClientSession, url: str, model: str, prompt: str, tokens: int
) -> tuple[int, float, float]:
    """(completion tokens, seconds, seconds to the first content) for one SSE stream."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    start = time.perf_counter()
    first = 0.0
    used = 0
    async with session.post(url + "/chat/completions", json=body) as r:
        r.raise_for_status()
        async for line in r.content:
            if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
                continue
            event = json.loads(line[6:])
            choices = event.get("choices") or []
            if not first and choices and choices[0]["delta"].get("content"):
                first = time.perf_counter() - start
            if event.get("usage"):
                used = event["usage"]["completion_tokens"]
    return used, time.perf_counter() - start, first


async def direct_stream(llm: LocalLLM, prompt: str, tokens: int) -> tuple[int, float, float]:
    request = GenerationRequest(
        model=llm.name,
        messages=[ChatMessage(role="user", content=prompt)],
        params=GenerationParams(max_new_tokens=tokens, temperature=0.0),
    )
    start = time.perf_counter()
    first = 0.0
    async for delta in llm.stream(request):
        if not first and delta.text:
            first = time.perf_counter() - start
        if delta.usage is not None:
            return delta.usage.completion_tokens, time.perf_counter() - start, first
    raise RuntimeError("stream ended without usage")


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    info = find_model(args.data_dir, args.model, kind="llm")
    if info is None:
        raise SystemExit(f"no build of {args.model} in {args.data_dir}: run `make models`")
    server = Server(args.data_dir)
    llm = load_llm(info.path, name=args.model)
    rounds: list[dict[str, float]] = []
    timeout = aiohttp.ClientTimeout(total=600)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await server.ready(session)
            # Warm both sides (first-call costs: sessions, plan compile, allocations).
            await http_stream(session, server.url, args.model, PROMPTS[0], 8)
            await direct_stream(llm, PROMPTS[0], 8)
            for r in range(args.rounds):
                row: dict[str, float] = {}
                prompt = PROMPTS[r % len(PROMPTS)]
                sides = ["http", "direct"] if r % 2 == 0 else ["direct", "http"]
                for side in sides:
                    if side == "http":
                        n, secs, ttft = await http_stream(
                            session, server.url, args.model, prompt, args.tokens
                        )
                    else:
                        n, secs, ttft = await direct_stream(llm, prompt, args.tokens)
                    row[f"{side}_tps"] = n / secs
                    row[f"{side}_ttft_ms"] = ttft * 1000
                start = time.perf_counter()
                made = await asyncio.gather(
                    *(
                        http_stream(
                            session, server.url, args.model, PROMPTS[i % len(PROMPTS)], args.tokens
                        )
                        for i in range(args.streams)
                    )
                )
                row["http_many_tps"] = sum(m[0] for m in made) / (time.perf_counter() - start)
                rounds.append(row)
                print(f"round {r + 1}: {json.dumps({k: round(v, 1) for k, v in row.items()})}")
    finally:
        server.stop()
        await llm.aclose()
    return {"rounds": rounds, "load": os.getloadavg()}


def _median(rounds: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


def table(results: dict[str, Any], streams: int) -> str:
    rounds = results["rounds"]
    overhead = statistics.median(1 - r["http_tps"] / r["direct_tps"] for r in rounds)
    ttft_gap = statistics.median(r["http_ttft_ms"] - r["direct_ttft_ms"] for r in rounds)
    scale = statistics.median(r["http_many_tps"] / r["http_tps"] for r in rounds)
    lines = [
        f"load average {results['load'][0]:.1f}; {len(rounds)} rounds; medians",
        f"{'measure':44} {'value':>10}  target",
        f"{'1 stream tok/s, engine direct':44} {_median(rounds, 'direct_tps'):10.1f}",
        f"{'1 stream tok/s, HTTP + SSE':44} {_median(rounds, 'http_tps'):10.1f}",
        f"{'HTTP + SSE overhead (1 - http/direct)':44} {overhead * 100:9.1f}%  <= 5%"
        f" {'PASS' if overhead <= 0.05 else 'MISS'}",
        f"{'first token ms, engine direct':44} {_median(rounds, 'direct_ttft_ms'):10.1f}",
        f"{'first token ms, HTTP + SSE':44} {_median(rounds, 'http_ttft_ms'):10.1f}",
        f"{'first token difference (ms)':44} {ttft_gap:10.1f}  < 5 ms"
        f" {'PASS' if ttft_gap < 5 else 'MISS'}",
        f"{f'{streams} HTTP streams, aggregate tok/s':44} {_median(rounds, 'http_many_tps'):10.1f}",
        f"{f'{streams} streams / 1 stream (HTTP)':44} {scale:9.2f}x  >= 3x"
        f" {'PASS' if scale >= 3 else 'MISS'}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--json", action="store_true", help="Print the results as JSON.")
    args = parser.parse_args()
    results = asyncio.run(bench(args))
    print(json.dumps(results) if args.json else table(results, args.streams))


if __name__ == "__main__":
    main()
