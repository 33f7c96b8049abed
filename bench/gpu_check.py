"""Does the CUDA build of the LLM answer like the CPU build, and how fast are both models on
a GPU? The measuring half of ``bench/gpu_check.sh``.

    python bench/gpu_check.py measure --device cuda --llm DIR --reference DIR --encoder DIR
    python bench/gpu_check.py measure --device cpu --quick ...   # the same code, tiny, on CPU
    python bench/gpu_check.py requirements                       # what the shell script installs

``measure`` does three things and prints a table (``--json FILE`` also writes the numbers):

* **agreement**: for a few chat prompts, the reference model (the fp32 CPU build) makes a
  greedy continuation. The model under test then (a) continues greedily on its own:
  **same** when every token matches, **prefix** the leading tokens that match (one near-tie
  flips every token after it, so this is harsh); and (b) reads the reference continuation
  teacher-forced: **top-1** is the share of positions where its most likely next token is
  the reference's. top-1 measures the model, not the cascade, and decides pass or fail.
* **LLM tokens/s** at each batch size, with onnxruntime-genai's Generator directly: a batch
  of prompts padded to the longest, end-of-sequence suppressed (``min_length``) so every row
  makes exactly ``--new-tokens`` tokens; the time covers prefill and decoding.
* **embeddings/s** at each batch size, with onnxruntime on the exported encoder (the CUDA
  execution provider, or CPU), pooling included, tokenization not; and the smallest cosine
  between its embeddings and the CPU provider's for the same sentences.

On CUDA the run fails if onnxruntime fell back to the CPU provider, which it otherwise does
silently when the CUDA libraries are missing. Only the standard library is imported at the
top: ``requirements`` runs in a venv that holds nothing else yet.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import cycle, islice
from pathlib import Path
from typing import Any

PROMPTS = [
    "What is the capital of France?",
    "Write a short poem about the sea.",
    "Explain what a database index is.",
    "List three uses of Python.",
]

SENTENCES = [
    "The capital of France is Paris.",
    "A man is playing a guitar on stage while the crowd sings along with him.",
    "hi",
    "Quantum entanglement links particles across any distance, or so the popular story goes.",
    "SELECT name FROM users WHERE age > 30 ORDER BY name;",
    "Databases keep indexes so that lookups do not scan every row of a table.",
]

#: The runtime packages the GPU venv gets in their CUDA builds instead (same module names).
CPU_RUNTIMES = ("onnxruntime", "onnxruntime-genai")


# -- the pure parts -------------------------------------------------------------------------


def requirements(
    requires: Iterable[str], *, extras: Sequence[str] = ("export",), exclude: Sequence[str] = ()
) -> list[str]:
    """The requirement strings of a distribution's metadata to install: the base ones and
    those of ``extras``, without their markers, leaving out the packages in ``exclude``."""
    skipped = {_normalize(name) for name in exclude}
    found = []
    for line in requires:
        spec, _, marker = line.partition(";")
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", marker)
        if extra is not None and extra.group(1) not in extras:
            continue
        name = re.match(r"[A-Za-z0-9._-]+", spec.strip())
        if name is None or _normalize(name.group(0)) in skipped:
            continue
        found.append(spec.strip())
    return found


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading items ``a`` and ``b`` share."""
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


@dataclass
class Agreement:
    """How one prompt's continuation by the model under test compares with the reference's."""

    prompt: str
    reference: list[int]
    free: list[int]
    #: Teacher-forced positions where the model's top token is the reference's.
    forced_hits: int

    @property
    def same(self) -> bool:
        return self.free == self.reference

    @property
    def prefix(self) -> int:
        return common_prefix(self.free, self.reference)

    @property
    def top1(self) -> float:
        return self.forced_hits / len(self.reference) if self.reference else 1.0


def overall_top1(rows: Sequence[Agreement]) -> float:
    """Teacher-forced agreement over every position of every prompt."""
    total = sum(len(r.reference) for r in rows)
    return sum(r.forced_hits for r in rows) / total if total else 1.0


@dataclass
class Speed:
    what: str
    batch: int
    per_second: float
    unit: str
    #: Milliseconds per call (an embedding batch) or per decoding step (the LLM).
    ms: float


def median_time(work: Callable[[], object], rounds: int) -> float:
    """Median seconds of ``rounds`` calls of ``work``, after one untimed warm-up call."""
    work()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def batch_of(items: Sequence[str], size: int) -> list[str]:
    """``size`` items, cycling through ``items``."""
    return list(islice(cycle(items), size))


@dataclass
class Report:
    device: str
    agreement: list[Agreement] = field(default_factory=list)
    speeds: list[Speed] = field(default_factory=list)
    min_cosine: float | None = None
    min_top1: float = 0.9

    @property
    def top1(self) -> float:
        return overall_top1(self.agreement)

    @property
    def passed(self) -> bool:
        return self.top1 >= self.min_top1

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "passed": self.passed,
            "top1": self.top1,
            "min_cosine": self.min_cosine,
            "agreement": [
                {**asdict(a), "same": a.same, "prefix": a.prefix, "top1": a.top1}
                for a in self.agreement
            ],
            "speeds": [asdict(s) for s in self.speeds],
        }

    def table(self) -> str:
        lines = [f"agreement of the {self.device} LLM with the CPU reference (greedy):"]
        rows = [("prompt", "tokens", "same", "prefix", "top-1")]
        for a in self.agreement:
            rows.append(
                (
                    a.prompt[:40],
                    str(len(a.reference)),
                    "yes" if a.same else "no",
                    str(a.prefix),
                    f"{a.top1:.1%}",
                )
            )
        lines += _columns(rows)
        verdict = "PASS" if self.passed else "FAIL"
        lines.append(
            f"teacher-forced top-1 overall: {self.top1:.1%} (>= {self.min_top1:.0%}: {verdict})"
        )
        lines.append("")
        lines.append(f"speed on {self.device}:")
        speed_rows = [("model", "batch", "rate", "ms")]
        for s in self.speeds:
            speed_rows.append(
                (s.what, str(s.batch), f"{s.per_second:,.1f} {s.unit}", f"{s.ms:.2f}")
            )
        lines += _columns(speed_rows)
        if self.min_cosine is not None:
            lines.append(
                f"embeddings, {self.device} vs CPU provider: min cosine {self.min_cosine:.6f}"
            )
        return "\n".join(lines)


def _columns(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


# -- onnxruntime(-genai): imported only when measuring --------------------------------------


def load_runtimes(device: str) -> None:
    """Make the CUDA libraries loadable before onnxruntime(-genai) creates a session.

    A CUDA build of torch carries cuBLAS and cuDNN; importing it first puts them in the
    process, and ``preload_dlls`` finds them (or the nvidia-* wheels) otherwise.
    """
    if device != "cuda":
        return
    with contextlib.suppress(ImportError):
        import torch  # noqa: F401
    import onnxruntime as ort

    ort.preload_dlls()
    import onnxruntime_genai as og

    if not og.is_cuda_available():
        raise SystemExit(
            "onnxruntime-genai was not built with CUDA: install onnxruntime-genai-cuda"
        )


def genai_providers(model_dir: Path) -> list[str]:
    """The execution providers a built LLM's genai_config.json asks for (empty: CPU)."""
    config = json.loads((model_dir / "genai_config.json").read_text(encoding="utf-8"))
    options = config["model"]["decoder"].get("session_options", {}).get("provider_options", [])
    return [name for item in options for name in item]


def chat_ids(model: Any, prompt: str) -> list[int]:
    import onnxruntime_genai as og

    tokenizer = og.Tokenizer(model)
    text = tokenizer.apply_chat_template(
        json.dumps([{"role": "user", "content": prompt}]), add_generation_prompt=True
    )
    return [int(i) for i in tokenizer.encode(text)]


def greedy(model: Any, ids: list[int], new_tokens: int) -> list[int]:
    """A greedy continuation of ``ids``, stopping at end of sequence."""
    import numpy as np
    import onnxruntime_genai as og

    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(ids) + new_tokens, do_sample=False)
    generator = og.Generator(model, params)
    generator.append_tokens(np.asarray(ids, dtype=np.int32))
    out: list[int] = []
    while not generator.is_done():
        generator.generate_next_token()
        out.append(int(generator.get_next_tokens()[0]))
    return out


def forced_hits(model: Any, ids: list[int], reference: list[int]) -> int:
    """Positions of ``reference`` where the model's most likely next token is the reference
    token, feeding the reference (not its own choice) after each position."""
    import numpy as np
    import onnxruntime_genai as og

    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(ids) + len(reference) + 1, do_sample=False)
    generator = og.Generator(model, params)
    generator.append_tokens(np.asarray(ids, dtype=np.int32))
    hits = 0
    for token in reference:
        hits += int(np.asarray(generator.get_logits())[0, -1].argmax()) == token
        generator.append_tokens(np.asarray([token], dtype=np.int32))
    return hits


def agreement(
    model: Any, reference_model: Any, prompts: Sequence[str], new_tokens: int
) -> list[Agreement]:
    rows = []
    for prompt in prompts:
        ids = chat_ids(reference_model, prompt)
        if chat_ids(model, prompt) != ids:
            raise SystemExit(f"the two builds tokenize {prompt!r} differently")
        expected = greedy(reference_model, ids, new_tokens)
        rows.append(
            Agreement(
                prompt=prompt,
                reference=expected,
                free=greedy(model, ids, new_tokens),
                forced_hits=forced_hits(model, ids, expected),
            )
        )
    return rows


def llm_speed(model: Any, batch: int, new_tokens: int, rounds: int) -> Speed:
    """Tokens/s of a padded batch making exactly ``new_tokens`` tokens per row."""
    import onnxruntime_genai as og

    tokenizer = og.Tokenizer(model)
    tokens = tokenizer.encode_batch(batch_of(PROMPTS, batch))
    prompt_length = int(tokens.shape()[1])

    def run() -> None:
        params = og.GeneratorParams(model)
        length = prompt_length + new_tokens
        params.set_search_options(
            batch_size=batch, max_length=length, min_length=length, do_sample=False
        )
        generator = og.Generator(model, params)
        generator.append_tokens(tokens)
        while not generator.is_done():
            generator.generate_next_token()

    seconds = median_time(run, rounds)
    return Speed("llm", batch, batch * new_tokens / seconds, "tokens/s", seconds / new_tokens * 1e3)


class Encoder:
    """The exported encoder run as serving runs it: tokens in, pooled vectors out."""

    def __init__(self, folder: Path, device: str) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        manifest = json.loads((folder / "awel-model.json").read_text(encoding="utf-8"))
        self.settings: dict[str, Any] = manifest["embeddings"]
        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            providers.insert(0, "CUDAExecutionProvider")
        self.session = ort.InferenceSession(str(folder / "model.onnx"), providers=providers)
        if self.session.get_providers()[0] != providers[0]:
            raise SystemExit(
                f"onnxruntime runs the encoder on {self.session.get_providers()}, not "
                f"{providers[0]}: the CUDA libraries did not load (see the log above)"
            )
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(int(self.settings["max_length"]))
        self.tokenizer.enable_padding()

    def feeds(self, sentences: Sequence[str]) -> dict[str, Any]:
        import numpy as np

        encoded = self.tokenizer.encode_batch(list(sentences))
        columns = {
            "input_ids": [e.ids for e in encoded],
            "attention_mask": [e.attention_mask for e in encoded],
            "token_type_ids": [e.type_ids for e in encoded],
        }
        return {name: np.asarray(columns[name], dtype=np.int64) for name in self.settings["inputs"]}

    def embed(self, feeds: dict[str, Any]) -> Any:
        from operators.pooling import pool

        hidden = self.session.run([self.settings["output"]], feeds)[0]
        return pool(
            hidden,
            feeds["attention_mask"],
            mode=self.settings["pooling"],
            normalize=bool(self.settings["normalize"]),
        )


def embed_speed(encoder: Encoder, batch: int, rounds: int) -> Speed:
    feeds = encoder.feeds(batch_of(SENTENCES, batch))
    seconds = median_time(lambda: encoder.embed(feeds), rounds)
    return Speed("embeddings", batch, batch / seconds, "embeddings/s", seconds * 1e3)


def min_cosine(a: Any, b: Any) -> float:
    import numpy as np

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(cos.min())


def measure(
    *,
    device: str,
    llm: Path,
    reference: Path,
    encoder: Path,
    batches: Sequence[int],
    new_tokens: int,
    agreement_tokens: int,
    prompts: int,
    rounds: int,
    min_top1: float,
    log: Callable[[str], None] = lambda text: None,
) -> Report:
    """Everything ``measure`` prints, as a :class:`Report`."""
    load_runtimes(device)
    import onnxruntime_genai as og

    providers = genai_providers(llm)
    if device == "cuda" and "cuda" not in providers:
        raise SystemExit(f"{llm} is not a CUDA build (its providers: {providers or ['cpu']})")
    report = Report(device=device, min_top1=min_top1)
    log(f"loading {llm} and the reference {reference}")
    model, reference_model = og.Model(str(llm)), og.Model(str(reference))
    log(f"agreement on {prompts} prompts, {agreement_tokens} tokens each")
    report.agreement = agreement(model, reference_model, PROMPTS[:prompts], agreement_tokens)
    del reference_model
    for batch in batches:
        log(f"LLM speed at batch {batch}")
        report.speeds.append(llm_speed(model, batch, new_tokens, rounds))
    del model
    log(f"loading the encoder {encoder}")
    on_device = Encoder(encoder, device)
    feeds = on_device.feeds(SENTENCES)
    report.min_cosine = min_cosine(on_device.embed(feeds), Encoder(encoder, "cpu").embed(feeds))
    for batch in batches:
        log(f"embeddings speed at batch {batch}")
        report.speeds.append(embed_speed(on_device, batch, rounds))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    reqs = commands.add_parser("requirements", help="print what to install for the check")
    reqs.add_argument("--distribution", default="awel")
    run = commands.add_parser("measure", help="compare the builds and time them")
    run.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    run.add_argument("--llm", type=Path, required=True, help="the LLM build under test")
    run.add_argument("--reference", type=Path, required=True, help="the CPU reference build")
    run.add_argument("--encoder", type=Path, required=True, help="the encoder build")
    run.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    run.add_argument("--new-tokens", type=int, default=128, help="tokens per row when timing")
    run.add_argument("--agreement-tokens", type=int, default=48)
    run.add_argument("--prompts", type=int, default=len(PROMPTS), choices=range(1, 5))
    run.add_argument("--rounds", type=int, default=5)
    run.add_argument("--min-top1", type=float, default=0.9, help="pass threshold (0-1)")
    run.add_argument("--quick", action="store_true", help="tiny numbers: a smoke check")
    run.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)

    if args.command == "requirements":
        from importlib.metadata import requires

        for line in requirements(requires(args.distribution) or [], exclude=CPU_RUNTIMES):
            print(line)
        return 0

    if args.quick:
        args.batches, args.new_tokens, args.agreement_tokens = [1, 2], 4, 6
        args.prompts, args.rounds = 2, 1
    report = measure(
        device=args.device,
        llm=args.llm,
        reference=args.reference,
        encoder=args.encoder,
        batches=args.batches,
        new_tokens=args.new_tokens,
        agreement_tokens=args.agreement_tokens,
        prompts=args.prompts,
        rounds=args.rounds,
        min_top1=args.min_top1,
        log=lambda text: print(f"... {text}", file=sys.stderr, flush=True),
    )
    print(report.table())
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
