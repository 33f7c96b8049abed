"""How close and how fast each precision of the exported LLM is, against PyTorch.

    python bench/export_compare.py                       # int4, int8, fp32; 6 prompts
    python bench/export_compare.py --precisions int8 --prompts 2 --json

Needs the export extra (torch, transformers) and the weights package of the model. Builds
(or reuses) every precision with :func:`operators.export.build_model`, then, for each prompt
of a chat:

* PyTorch (transformers ``generate``, greedy, end-of-sequence suppressed) makes the reference
  continuation of ``--tokens`` tokens, timed: tokens/s includes the prompt's prefill;
* onnxruntime-genai makes its own greedy continuation (same suppression), timed the same way,
  with the time to the first token; **prefix** is how many leading tokens equal PyTorch's
  (one differing token changes all that follow, so this is a harsh measure);
* teacher-forced, the exported graph reads PyTorch's continuation in one pass: **top-1** is
  the share of positions where its most likely token is PyTorch's, **KL** the mean
  KL(PyTorch || ONNX) of the next-token distributions. This measures the model, not the
  cascade, and is what the default precision was chosen by.

Both runtimes use every core; run it on an idle machine (the load average is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from operators.export import ModelInfo, build_model
from operators.export.llm import decoder_logits

PROMPTS = [
    "What is the capital of France?",
    "Write a short poem about the sea.",
    "Explain what a database index is.",
    "List three uses of Python.",
    "How do I boil an egg?",
    "Who wrote Romeo and Juliet?",
]


def log_softmax(x: Any) -> Any:
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def ort_generate(model: Any, ids: list[int], n: int) -> tuple[list[int], float, float]:
    import onnxruntime_genai as og

    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(ids) + n, min_length=len(ids) + n, do_sample=False)
    generator = og.Generator(model, params)
    start = time.perf_counter()
    generator.append_tokens(np.asarray(ids, dtype=np.int32))
    out: list[int] = []
    first = 0.0
    while not generator.is_done():
        generator.generate_next_token()
        out.append(int(generator.get_next_tokens()[0]))
        if len(out) == 1:
            first = time.perf_counter() - start
    return out, len(out) / (time.perf_counter() - start), first


def prefix(a: list[int], b: list[int]) -> int:
    same = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        same += 1
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--data-dir", type=Path, default=Path(".cache"))
    parser.add_argument("--precisions", default="int4,int8,fp32")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--prompts", type=int, default=len(PROMPTS))
    parser.add_argument("--json", action="store_true", help="Print the results as JSON.")
    args = parser.parse_args()

    import onnxruntime_genai as og
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prompts = PROMPTS[: args.prompts]
    builds: dict[str, ModelInfo] = {}
    for precision in args.precisions.split(","):
        path = build_model(args.model, args.data_dir, precision=precision)
        info = ModelInfo.load(path)
        assert info is not None
        builds[precision] = info
    source = Path(next(iter(builds.values())).manifest["source"]["path"])
    if source.suffix == ".gguf":
        where, extra = source.parent, {"gguf_file": source.name}
    else:
        where, extra = source, {}
    tokenizer = AutoTokenizer.from_pretrained(where, **extra)
    reference = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32, **extra).eval()

    results: dict[str, Any] = {
        "load_average": os.getloadavg(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "prompts": len(prompts),
        "tokens": args.tokens,
    }
    refs: list[tuple[list[int], list[int], Any]] = []
    rates = []
    for i, prompt in enumerate(prompts):
        ids = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, return_dict=True
        )["input_ids"]
        x = torch.tensor([ids])
        with torch.inference_mode():
            if i == 0:  # warm-up
                reference.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=4)
            start = time.perf_counter()
            out = reference.generate(
                x,
                attention_mask=torch.ones_like(x),
                max_new_tokens=args.tokens,
                min_new_tokens=args.tokens,
                do_sample=False,
            )
            rates.append(args.tokens / (time.perf_counter() - start))
            full = out[0].tolist()
            logits = reference(out).logits[0, len(ids) - 1 : len(full) - 1].numpy()
        refs.append((ids, full[len(ids) :], logits))
        print(f"pytorch {prompt!r}: {rates[-1]:.1f} tok/s", file=sys.stderr)
    results["pytorch"] = {"tok_s": statistics.median(rates)}

    for precision, info in builds.items():
        model = og.Model(str(info.path))
        ort_generate(model, refs[0][0], 4)  # warm-up
        row: dict[str, Any] = {"prefix64": [], "prefix128": [], "tok_s": [], "ttft_ms": []}
        agree = total = 0
        kls = []
        for ids, theirs, their_logits in refs:
            ours, rate, first = ort_generate(model, ids, args.tokens)
            row["prefix64"].append(prefix(ours[:64], theirs[:64]))
            row["prefix128"].append(prefix(ours, theirs))
            row["tok_s"].append(rate)
            row["ttft_ms"].append(first * 1000)
            mine = decoder_logits(info.path, ids + theirs)[
                len(ids) - 1 : len(ids) + len(theirs) - 1
            ]
            # PyTorch's own top token at each position, not the token it generated: with the
            # end of sequence suppressed, those differ where it would have stopped.
            agree += int((mine.argmax(-1) == their_logits.argmax(-1)).sum())
            total += len(theirs)
            p, q = log_softmax(their_logits), log_softmax(mine)
            kls.append(float((np.exp(p) * (p - q)).sum(-1).mean()))
        row["top1"] = agree / total
        row["kl"] = statistics.mean(kls)
        row["tok_s"] = statistics.median(row["tok_s"])
        row["ttft_ms"] = statistics.median(row["ttft_ms"])
        row["build_seconds"] = info.manifest["build_seconds"]
        row["size_mb"] = sum(f.stat().st_size for f in info.path.iterdir()) / 2**20
        row["answer"] = info.manifest.get("check", {}).get("answer")
        results[precision] = row
        print(f"{precision}: {row['tok_s']:.1f} tok/s, top-1 {row['top1']:.3f}", file=sys.stderr)

    if args.json:
        print(json.dumps(results, indent=2))
        return
    base = results["pytorch"]["tok_s"]
    n = len(prompts)
    print(f"load average {results['load_average']}, torch threads {results['torch_threads']}")
    print(f"PyTorch generate: {base:.1f} tok/s (median of {n} prompts)\n")
    print(
        "| precision | size | build | teacher-forced top-1 | KL | prefix /64 (sum) "
        "| prefix /128 (sum) | tok/s | vs PyTorch | TTFT | France answer |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for precision in builds:
        r = results[precision]
        print(
            f"| {precision} | {r['size_mb']:.0f} MB | {r['build_seconds']:.0f} s "
            f"| {r['top1']:.3f} | {r['kl']:.4f} | {sum(r['prefix64'])}/{64 * n} "
            f"| {sum(r['prefix128'])}/{args.tokens * n} | {r['tok_s']:.1f} "
            f"| {r['tok_s'] / base:.1f}x | {r['ttft_ms']:.0f} ms | {r['answer']!r} |"
        )


if __name__ == "__main__":
    main()
