"""The embeddings engine: an exported encoder on ONNX Runtime, fed by the micro-batcher.

Serving needs only onnxruntime, tokenizers and numpy; the build (``awel model build``)
wrote everything else the engine must know into the folder's manifest: pooling,
normalisation, sequence limit, the graph's inputs and output.

Speed comes from three places. Padding: a batch is sorted by length and cut into sub-batches
that each pad to their own longest sentence, so one long text does not make thirty short ones
pay for its length (attention grows with the square of it). Batching: concurrent callers
share model runs (:mod:`.batcher`). Session options tuned for a small shared CPU (see
:func:`session_options`).

Example::

    model = load_embedder(find_model(Path("data"), "all-minilm-l6-v2").path,
                          name="all-minilm-l6-v2")
    vectors = await model.embed(["hello", "a longer sentence"])  # (2, 384), unit rows
    await model.aclose()
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer

from operators.export.cache import ModelInfo
from operators.pooling import pool

from ..admission import ModelQueue
from .batcher import BatchStats, MicroBatcher

__all__ = [
    "OnnxEmbedder",
    "OnnxEncoder",
    "load_embedder",
    "session_options",
    "split_by_length",
]

FloatArray = npt.NDArray[np.float32]
DEVICES = ("cpu", "cuda")
#: The graph inputs an encoder may have; the tokenizer's output fills them.
FED_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
#: The fixed cost of one model run, in tokens' worth of compute, per device. On the CPU it
#: was measured (bench/embed.py --sweep); on a GPU a run's launch cost dwarfs a token's
#: compute, so sub-batches should be few and large (a guess, not yet measured).
RUN_COST = {"cpu": 32.0, "cuda": 4096.0}
#: Most padded tokens in one sub-batch: bounds the memory one run takes.
MAX_TOKENS = 8192
#: onnxruntime graph rewrites left out on the CPU: its SkipLayerNormalization kernel was
#: measured 5x slower than the LayerNormalization and Add it would replace (the build keeps
#: them apart too, see operators.export.encoder).
CPU_DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)


def session_options(threads: int | None = None, *, spinning: bool = False) -> ort.SessionOptions:
    """ONNX Runtime options for a small CPU machine shared with other work.

    One intra-op thread per core (onnxruntime's own default counts physical cores, which on
    a VM may be fewer than the cores it may use). Spinning is off: a thread that busy-waits
    for the next operator steals the core another process (or this server's event loop)
    needs, and on two shared cores that cost more than the wake-up latency it saves.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or max(1, min(os.cpu_count() or 1, 8))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return options


def _providers(device: str) -> list[str]:
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; expected one of {', '.join(DEVICES)}")
    if device == "cpu":
        return ["CPUExecutionProvider"]
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        raise RuntimeError(
            "device='cuda' needs onnxruntime's CUDAExecutionProvider, which this install lacks "
            f"(available: {', '.join(available)}); install onnxruntime-gpu or use device='cpu'"
        )
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


class OnnxEncoder:
    """Texts to unit vectors, synchronously: tokenizer, ONNX session, pooling.

    Not for the event loop: :class:`OnnxEmbedder` calls :meth:`encode` in its worker thread.
    """

    def __init__(
        self,
        folder: Path,
        *,
        device: str = "cpu",
        threads: int | None = None,
        run_cost: float | None = None,
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        folder = Path(folder)
        #: Where the build lives: what another process needs to load it too (Ray actors).
        self.folder = folder
        info = ModelInfo.load(folder)
        if info is None or info.kind != "embeddings":
            raise FileNotFoundError(
                f"{folder} is not a finished embeddings build (no awel-model.json of kind "
                "'embeddings'); build one with `awel model build all-minilm-l6-v2`"
            )
        settings: dict[str, Any] = dict(info.manifest.get("embeddings", {}))
        self.session = ort.InferenceSession(
            str(folder / "model.onnx"),
            sess_options=session_options(threads),
            providers=_providers(device),
            disabled_optimizers=list(CPU_DISABLED_OPTIMIZERS) if device == "cpu" else None,
        )
        # The graph itself says what it takes; anything beyond these three cannot be fed.
        self.inputs = [i.name for i in self.session.get_inputs()]
        unknown = sorted(set(self.inputs) - set(FED_INPUTS))
        if unknown or "input_ids" not in self.inputs:
            raise ValueError(
                f"{folder / 'model.onnx'} takes inputs {self.inputs}; an encoder here must take "
                f"input_ids and may take only {', '.join(FED_INPUTS)}"
            )
        self.output: str = str(settings.get("output", self.session.get_outputs()[0].name))
        self.pooling: str = str(settings.get("pooling", "mean"))
        self.normalize: bool = bool(settings.get("normalize", True))
        self.dimension: int = int(settings.get("dimension", 0)) or int(
            self.session.get_outputs()[0].shape[-1]
        )
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.max_length: int = int(settings.get("max_length") or self._tokenizer_limit(folder))
        # Whatever the saved tokenizer says, pad nothing here (sub-batches pad to their own
        # longest) and cut at the model's limit: a shipped MiniLM tokenizer pads to 128.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_length)
        self.run_cost = RUN_COST[device] if run_cost is None else run_cost
        self.max_tokens = max_tokens

    def _tokenizer_limit(self, folder: Path) -> int:
        truncation = self.tokenizer.truncation
        if truncation and truncation.get("max_length"):
            return int(truncation["max_length"])
        # No limit saved with the tokenizer: the position table's size is the hard limit.
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            config = {}
        return int(config.get("max_position_embeddings") or 512)

    def count_tokens(self, text: str) -> int:
        """Tokens the model reads for ``text``: special tokens included, cut at max_length."""
        return len(self.tokenizer.encode(text).ids)

    def encode(self, texts: Sequence[str]) -> FloatArray:
        """One row per text, in the order given."""
        encodings = self.tokenizer.encode_batch(list(texts))
        lengths = [len(e.ids) for e in encodings]
        groups = split_by_length(
            lengths, run_cost=self.run_cost, max_tokens=self.max_tokens, hidden=self.dimension
        )
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for group in groups:
            width = lengths[group[-1]]  # the longest: groups are sorted by length
            ids = np.zeros((len(group), width), dtype=np.int64)
            mask = np.zeros((len(group), width), dtype=np.int64)
            for row, index in enumerate(group):
                ids[row, : lengths[index]] = encodings[index].ids
                mask[row, : lengths[index]] = 1
            given = {"input_ids": ids, "attention_mask": mask}
            # One segment: sentence embeddings never pair texts, so token types are all 0.
            feeds = {n: given[n] if n in given else np.zeros_like(ids) for n in self.inputs}
            hidden = self.session.run([self.output], feeds)[0]
            out[group] = pool(hidden, mask, mode=self.pooling, normalize=self.normalize)
        return out


def split_by_length(
    lengths: Sequence[int],
    *,
    run_cost: float = RUN_COST["cpu"],
    max_tokens: int = MAX_TOKENS,
    hidden: int = 384,
) -> list[list[int]]:
    """Indices of ``lengths`` sorted by length and cut into the cheapest sub-batches.

    On a CPU an encoder costs about the same per token at batch 1 as at batch 32 (it is
    compute-bound), so a sub-batch costs its *padded* tokens plus a fixed ``run_cost`` per
    run (in token equivalents). Every group pads to its last, longest member; a dynamic
    programme over the sorted lengths picks the cuts that minimise the total (n <= a few
    dozen, so n^2 steps are nothing next to one run). Attention adds a term quadratic in the
    padded length, about ``length / (3 * hidden)`` of the dense work per token.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    sizes = [lengths[i] for i in order]
    # best[j]: least cost of the first j sorted texts; start[j]: where its last group begins.
    best = [0.0] + [float("inf")] * len(sizes)
    start = [0] * (len(sizes) + 1)
    for j in range(1, len(sizes) + 1):
        pad = sizes[j - 1]
        per_row = pad * (1.0 + pad / (3.0 * hidden))
        for i in range(j - 1, -1, -1):
            rows = j - i
            if rows > 1 and rows * pad > max_tokens:
                break  # bounds the activations a run allocates
            cost = best[i] + run_cost + rows * per_row
            if cost < best[j]:
                best[j], start[j] = cost, i
    groups: list[list[int]] = []
    j = len(sizes)
    while j > 0:
        groups.append(order[start[j] : j])
        j = start[j]
    groups.reverse()
    return groups


class OnnxEmbedder:
    """An :class:`~operators.embed.types.EmbeddingModel` on ONNX Runtime, micro-batched.

    Concurrent :meth:`embed` calls share model runs of up to ``max_batch`` texts, which run
    in one worker thread of their own, off the event loop. ``stats`` counts the runs.
    """

    def __init__(self, encoder: OnnxEncoder, *, name: str, max_batch: int = 32) -> None:
        self.name = name
        self.encoder = encoder
        self.dimension = encoder.dimension
        self.max_length = encoder.max_length
        # One thread: the session already uses every core inside a run, and a single
        # thread keeps runs in the order the batcher formed them.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"embed-{name}")
        self._batcher = MicroBatcher(encoder.encode, max_batch=max_batch, executor=self._executor)
        #: Admission: ``max_batch`` requests go to the batcher at once, a bounded number
        #: wait (operators.admission).
        self.queue = ModelQueue(name, slots=max_batch)

    @property
    def stats(self) -> BatchStats:
        """Model runs, texts and batch sizes so far."""
        return self._batcher.stats

    @property
    def max_batch(self) -> int:
        return self._batcher.max_batch

    async def embed(self, texts: list[str]) -> FloatArray:
        """Unit-length float32 rows, one per text, in the order given.

        Raises TypeError naming the first item that is not a string.
        """
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise TypeError(f"embed() takes a list of strings, not {type(texts).__name__}")
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{index}] is {type(text).__name__}, not str")
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        ticket = self.queue.enter()
        try:
            await ticket.wait()
            return await self._batcher.submit(list(texts))
        finally:
            ticket.release()

    def count_tokens(self, text: str) -> int:
        """Tokens the model reads for ``text`` (special tokens included, cut at max_length)."""
        if not isinstance(text, str):
            raise TypeError(f"count_tokens() takes a str, not {type(text).__name__}")
        return self.encoder.count_tokens(text)

    async def aclose(self) -> None:
        """Finish queued work, then release the worker thread. Later calls raise."""
        await self._batcher.aclose()
        self._executor.shutdown(wait=False)


def load_embedder(
    folder: Path,
    *,
    name: str,
    device: str = "cpu",
    max_batch: int = 32,
    threads: int | None = None,
) -> OnnxEmbedder:
    """Load the embeddings build in ``folder`` (see :func:`operators.export.find_model`).

    ``device="cuda"`` runs on the GPU through onnxruntime's CUDA provider and fails with a
    clear message where it is missing. ``threads`` overrides the intra-op thread count.
    Loading takes a fraction of a second; call it off the event loop in a server.
    """
    encoder = OnnxEncoder(Path(folder), device=device, threads=threads)
    return OnnxEmbedder(encoder, name=name, max_batch=max_batch)
