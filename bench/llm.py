"""The local LLM engine against its baselines, measured in the same run.

    python bench/llm.py                    # ~2-3 min: 3 rounds of each comparison
    python bench/llm.py --rounds 5 --json  # more rounds, results as JSON on stdout
    python bench/llm.py --no-torch         # only the concurrency comparison

1. **Single stream**: 128 greedy tokens from a chat prompt, our engine
   (:func:`operators.llm.engine.load_llm`) against transformers ``generate`` on PyTorch with
   the same weights (the model's source GGUF, dequantised to fp32, as the export reads it).
   End of sequence is suppressed on both sides so every run makes exactly 128 tokens.
   tokens/s counts the prefill; time to first token is the prefill plus one sample
   (PyTorch's: a separate ``generate`` of one token).
   For reference, onnxruntime-genai's own ``Generator`` on the same model folder too.
2. **Concurrency**: 8 streams started together through the engine, each 128 tokens, against
   one stream alone: aggregate tokens/s (all tokens / wall time) and the ratio.

Rounds alternate which side runs first; the table gives medians over rounds and the median
of the per-round ratios. The machine's load average is printed: on a shared 2-core machine
absolute numbers move a lot between runs, paired ratios much less.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from operators.export.cache import find_model
from operators.llm.engine import LocalLLM, load_llm
from operators.llm.types import ChatMessage, GenerationParams, GenerationRequest

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


def _request(prompt: str, tokens: int) -> GenerationRequest:
    return GenerationRequest(
        model="bench",
        messages=[ChatMessage(role="user", content=prompt)],
        params=GenerationParams(max_new_tokens=tokens, temperature=0.0),
    )


async def _one(llm: LocalLLM, prompt: str, tokens: int) -> tuple[int, float, float]:
    """(completion tokens, seconds, seconds to the first token) for one stream."""
    start = time.perf_counter()
    first = 0.0
    async for delta in llm.stream(_request(prompt, tokens)):
        if not first and (delta.text or delta.usage):
            first = time.perf_counter() - start
        if delta.usage is not None:
            return delta.usage.completion_tokens, time.perf_counter() - start, first
    raise RuntimeError("stream ended without usage")


async def _many(llm: LocalLLM, n: int, tokens: int) -> tuple[float, float]:
    """(aggregate tokens/s, median time to first token) for ``n`` streams at once."""
    start = time.perf_counter()
    results = await asyncio.gather(
        *(_one(llm, PROMPTS[i % len(PROMPTS)], tokens) for i in range(n))
    )
    wall = time.perf_counter() - start
    return sum(r[0] for r in results) / wall, statistics.median(r[2] for r in results)


class TorchBaseline:
    """transformers ``generate`` on the model's source weights."""

    def __init__(self, source: Path) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        # Idle OpenMP threads sleep instead of spinning (our engine's onnxruntime threads do
        # the same): on a shared 2-core machine spinning threads made PyTorch ten times
        # slower whenever another process held a core.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        if source.suffix == ".gguf":
            where, extra = source.parent, {"gguf_file": source.name}
        else:
            where, extra = source, {}
        self.tokenizer = AutoTokenizer.from_pretrained(where, **extra)
        self.model = AutoModelForCausalLM.from_pretrained(
            where, dtype=torch.float32, **extra
        ).eval()

    def run(self, prompt: str, tokens: int) -> tuple[float, float]:
        """(tokens/s, seconds to the first token) for ``tokens`` greedy tokens."""
        torch = self.torch
        ids = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, return_dict=True
        )["input_ids"]
        x = torch.tensor([ids])
        mask = torch.ones_like(x)
        with torch.inference_mode():
            start = time.perf_counter()
            self.model.generate(x, attention_mask=mask, max_new_tokens=1, do_sample=False)
            first = time.perf_counter() - start
            start = time.perf_counter()
            self.model.generate(
                x,
                attention_mask=mask,
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                do_sample=False,
            )
            return tokens / (time.perf_counter() - start), first


class GenaiBaseline:
    """onnxruntime-genai's own ``Generator`` on the same model folder, one request."""

    def __init__(self, folder: Path) -> None:
        import onnxruntime_genai as og

        self.og = og
        self.model = og.Model(str(folder))

    def run(self, ids: list[int], tokens: int) -> tuple[float, float]:
        import numpy as np

        og = self.og
        params = og.GeneratorParams(self.model)
        total = len(ids) + tokens
        params.set_search_options(max_length=total, min_length=total, do_sample=False)
        generator = og.Generator(self.model, params)
        start = time.perf_counter()
        generator.append_tokens(np.asarray(ids, dtype=np.int32))
        made, first = 0, 0.0
        while not generator.is_done():
            generator.generate_next_token()
            made += 1
            if made == 1:
                first = time.perf_counter() - start
        return made / (time.perf_counter() - start), first


def _ratio_rows(pairs: list[tuple[float, float]]) -> tuple[float, float, float]:
    ours = statistics.median(p[0] for p in pairs)
    theirs = statistics.median(p[1] for p in pairs)
    return ours, theirs, statistics.median(a / b for a, b in pairs)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    info = find_model(args.data_dir, args.model)
    if info is None:
        sys.exit(f"no built model '{args.model}' in {args.data_dir}; run `make models`")
    llm = load_llm(info.path, name=args.model, max_batch=args.streams)
    # Every run makes exactly --tokens tokens, as PyTorch's min_new_tokens does.
    llm.eos_token_ids = frozenset()
    results: dict[str, Any] = {
        "load_average_start": os.getloadavg(),
        "cores": os.cpu_count(),
        "tokens": args.tokens,
        "rounds": args.rounds,
        "streams": args.streams,
    }
    await _one(llm, PROMPTS[0], 8)  # warm-up
    prompt = PROMPTS[0]

    genai = GenaiBaseline(info.path)
    ids = llm.prompt_ids(_request(prompt, args.tokens))
    genai.run(ids, 4)  # warm-up
    pairs: list[tuple[float, float]] = []
    for _ in range(args.rounds):
        n, seconds, _first = await _one(llm, prompt, args.tokens)
        pairs.append((n / seconds, genai.run(ids, args.tokens)[0]))
    results["genai"] = {"tok_s": _ratio_rows(pairs)}
    del genai

    if args.torch:
        source = Path(info.manifest["source"]["path"])
        print(f"loading PyTorch baseline from {source.name} ...", file=sys.stderr)
        torch_model = TorchBaseline(source)
        torch_model.run(prompt, 4)  # warm-up
        speed: list[tuple[float, float]] = []
        ttft: list[tuple[float, float]] = []
        for r in range(args.rounds):
            order = ["ours", "torch"] if r % 2 == 0 else ["torch", "ours"]
            got: dict[str, tuple[float, float]] = {}
            for side in order:
                if side == "ours":
                    n, seconds, first = await _one(llm, prompt, args.tokens)
                    got[side] = (n / seconds, first)
                else:
                    got[side] = torch_model.run(prompt, args.tokens)
            speed.append((got["ours"][0], got["torch"][0]))
            ttft.append((got["ours"][1], got["torch"][1]))
            print(f"round {r + 1}: single stream {got}", file=sys.stderr)
        results["single"] = {"tok_s": _ratio_rows(speed), "ttft_s": _ratio_rows(ttft)}
        results["torch_threads"] = torch_model.torch.get_num_threads()
        del torch_model

    agg: list[tuple[float, float]] = []
    ttft_many: list[tuple[float, float]] = []
    for r in range(args.rounds):
        sizes = [args.streams, 1] if r % 2 == 0 else [1, args.streams]
        got_many: dict[int, tuple[float, float]] = {}
        for n in sizes:
            got_many[n] = await _many(llm, n, args.tokens)
        agg.append((got_many[args.streams][0], got_many[1][0]))
        ttft_many.append((got_many[args.streams][1], got_many[1][1]))
        print(f"round {r + 1}: concurrency {got_many}", file=sys.stderr)
    results["concurrent"] = {"tok_s": _ratio_rows(agg), "ttft_s": _ratio_rows(ttft_many)}
    results["load_average_end"] = os.getloadavg()
    await llm.aclose()
    return results


def _table(results: dict[str, Any]) -> str:
    streams = results["streams"]
    lines = [
        f"cores {results['cores']}, load average {results['load_average_start'][0]:.2f} at "
        f"start, {results['load_average_end'][0]:.2f} at end; {results['tokens']} tokens, "
        f"{results['rounds']} rounds (medians)",
        "",
        "| measure | ours | baseline | ratio | target |",
        "|---|---|---|---|---|",
    ]
    if "single" in results:
        ours, theirs, ratio = results["single"]["tok_s"]
        lines.append(
            f"| 1 stream tok/s vs PyTorch generate ({results['torch_threads']} threads) "
            f"| {ours:.1f} | {theirs:.1f} | {ratio:.2f}x | >= 5x |"
        )
        ours, theirs, ratio = results["single"]["ttft_s"]
        lines.append(
            f"| time to first token vs PyTorch | {ours * 1000:.0f} ms | {theirs * 1000:.0f} ms "
            f"| {ratio:.2f}x | info |"
        )
    ours, theirs, ratio = results["genai"]["tok_s"]
    lines.append(
        f"| 1 stream tok/s vs onnxruntime-genai Generator (same model) | {ours:.1f} "
        f"| {theirs:.1f} | {ratio:.2f}x | info |"
    )
    ours, theirs, ratio = results["concurrent"]["tok_s"]
    lines.append(
        f"| aggregate tok/s, {streams} streams vs 1 | {ours:.1f} | {theirs:.1f} "
        f"| {ratio:.2f}x | >= 3x |"
    )
    ours, theirs, ratio = results["concurrent"]["ttft_s"]
    lines.append(
        f"| median time to first token, {streams} streams vs 1 | {ours * 1000:.0f} ms "
        f"| {theirs * 1000:.0f} ms | {ratio:.2f}x | info |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--no-torch", dest="torch", action="store_false")
    parser.add_argument("--json", action="store_true", help="Print the results as JSON.")
    args = parser.parse_args()
    start = time.perf_counter()
    results = asyncio.run(bench(args))
    results["wall_s"] = time.perf_counter() - start
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(_table(results))
        print(f"\n({results['wall_s']:.0f} s wall)")


if __name__ == "__main__":
    main()
