"""Continuous batching over a decoder ONNX graph with its own key/value cache.

onnxruntime-genai's ``Engine`` gave no aggregate gain for concurrent requests on CPU, and its
``Generator`` fixes a batch when it starts. So the decoder graph the genai builder writes
(``model.onnx``: ``input_ids``, ``attention_mask``, ``past_key_values.N.key/value`` in,
``logits``, ``present.N.key/value`` out, attention by ``GroupQueryAttention``) is driven
directly with onnxruntime, and requests join and leave the batch between decode steps.

The cache is one numpy array per layer and kind, ``[max_batch, kv_heads, capacity,
head_size]``. The active sequences own rows ``0..n-1``, each its own length (right padding);
``GroupQueryAttention`` reads each row's length from its attention mask, so rows of different
lengths decode together. The same memory is bound as the graph's past input and its present
output, which makes the operator write the new position in place (``past_present_share_buffer``)
instead of copying the whole cache every step. A sequence that leaves hands its row to the
last one (one row copied), so the active rows stay a contiguous block. The capacity follows
the longest active sequence in steps of :data:`CAPACITY_STEP` (memory is ``max_batch x
capacity``, not ``max_batch x context``); the attention op reads only each row's length, so
spare capacity costs no time (measured: the same step time at 128 and 2048).

Waiting prompts are prefilled one at a time, each in its own call: prefilling several
together, right-padded to the longest, gave the same logits but was slower on this CPU
(measured with 8 streams of ~40-token prompts: 93 vs 109 tokens/s aggregate, 1.7 vs 0.8 s
median time to first token).

All model work happens in one worker thread. Requests come in through a queue; what a
sequence does with a token (sampling, decoding text, stopping, handing results to the event
loop) is the :class:`Sequence`'s business, called from that thread.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["CAPACITY_STEP", "BatchScheduler", "Decoder", "DecoderShape", "Sequence"]

log = logging.getLogger(__name__)

#: Cache capacity granularity, in positions: each resize copies the cache.
CAPACITY_STEP = 64

Logits = npt.NDArray[np.float32]


class Sequence(Protocol):
    """One request as the scheduler sees it. Its methods run in the worker thread."""

    #: The prompt's token ids.
    prompt: list[int]
    #: Set (from any thread) to have the sequence dropped before the next step.
    cancelled: bool

    def choose(self, logits: Logits) -> int:
        """The next token, from the last position's logits."""
        ...

    def accept(self, token: int) -> bool:
        """Take the chosen token; True when the sequence is finished."""
        ...

    def fail(self, error: BaseException) -> None:
        """The model failed while running this sequence; it will not be called again."""
        ...


@dataclass(frozen=True, slots=True)
class DecoderShape:
    """What the cache must look like, from ``genai_config.json``."""

    layers: int
    kv_heads: int
    head_size: int
    context_length: int
    past_names: tuple[str, ...]
    present_names: tuple[str, ...]

    @classmethod
    def from_genai_config(cls, config: dict[str, Any]) -> DecoderShape:
        model = config["model"]
        decoder = model["decoder"]
        inputs, outputs = decoder["inputs"], decoder["outputs"]
        layers = int(decoder["num_hidden_layers"])
        past, present = [], []
        for i in range(layers):
            past += [inputs["past_key_names"] % i, inputs["past_value_names"] % i]
            present += [outputs["present_key_names"] % i, outputs["present_value_names"] % i]
        return cls(
            layers=layers,
            kv_heads=int(decoder["num_key_value_heads"]),
            head_size=int(decoder["head_size"]),
            context_length=int(model["context_length"]),
            past_names=tuple(past),
            present_names=tuple(present),
        )


def _round_up(n: int, step: int) -> int:
    return -(-n // step) * step


class Decoder:
    """The graph and its batched cache. Not thread-safe: the worker thread owns it."""

    def __init__(
        self, session: Any, shape: DecoderShape, *, max_batch: int, prefill_chunk: int = 256
    ) -> None:
        import onnxruntime as ort

        self._ort = ort
        self.session = session
        self.shape = shape
        self.max_batch = max_batch
        self.prefill_chunk = prefill_chunk
        # The logits' last dimension when the graph declares it (0: unknown, allocate).
        shapes = {out.name: out.shape for out in session.get_outputs()}
        vocab = shapes.get("logits", [0])[-1]
        self.vocab = vocab if isinstance(vocab, int) else 0
        #: Cached positions of each active row.
        self.lengths: list[int] = []
        self.capacity = 0
        self._cache: list[npt.NDArray[np.float32]] = []
        # One IO binding per block of rows, with the cache's views bound as past and present,
        # made once per capacity: binding sixty values every call cost 0.5-0.6 ms a step.
        # Each call rebinds only the ids, the mask and the logits.
        self._bindings: dict[tuple[int, int], tuple[Any, list[Any]]] = {}
        # A decode step's logits land here (``[max_batch, 1, vocab]``), not in a fresh array.
        self._step_logits: Logits | None = None
        self._step_values: dict[int, Any] = {}

    def _resize(self, capacity: int) -> None:
        shape = self.shape
        size = (self.max_batch, shape.kv_heads, capacity, shape.head_size)
        keep = min(capacity, self.capacity, max(self.lengths, default=0))
        rows = len(self.lengths)
        fresh = [np.zeros(size, np.float32) for _ in range(2 * shape.layers)]
        if self._cache and rows and keep:
            for new, old in zip(fresh, self._cache, strict=True):
                new[:rows, :, :keep] = old[:rows, :, :keep]
        self._cache, self.capacity = fresh, capacity
        self._bindings.clear()

    def fit(self, needed: int) -> None:
        """Make room for ``needed`` positions in every row; give back room far beyond it."""
        target = min(_round_up(max(needed, 1), CAPACITY_STEP), self.shape.context_length)
        if target > self.capacity or target + 2 * CAPACITY_STEP <= self.capacity:
            self._resize(target)

    def _binding(self, rows: slice) -> Any:
        key = (rows.start, rows.stop)
        found = self._bindings.get(key)
        if found is None:
            binding = self.session.io_binding()
            # Bound first so that it stays the first of ``get_outputs()``: rebinding a name
            # keeps its place.
            binding.bind_output("logits")
            make = self._ort.OrtValue.ortvalue_from_numpy
            views = [make(array[rows]) for array in self._cache]
            for value, past, present in zip(
                views, self.shape.past_names, self.shape.present_names, strict=True
            ):
                # One value bound as both past and present: the attention op sees the same
                # buffer and appends in place.
                binding.bind_ortvalue_input(past, value)
                binding.bind_ortvalue_output(present, value)
            # The views stay referenced beside the binding that reads them.
            found = self._bindings[key] = (binding, views)
        return found[0]

    def _step_output(self, rows: int, vocab: int) -> tuple[Any, Logits]:
        """An onnxruntime value over the first ``rows`` rows of the step's logits buffer."""
        if self._step_logits is None or self._step_logits.shape[2] != vocab:
            self._step_logits = np.empty((self.max_batch, 1, vocab), np.float32)
            self._step_values.clear()
        value = self._step_values.get(rows)
        if value is None:
            make = self._ort.OrtValue.ortvalue_from_numpy
            value = self._step_values[rows] = make(self._step_logits[:rows])
        return value, self._step_logits[:rows]

    def _run(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64], rows: slice) -> Logits:
        """The logits ``[rows, positions, vocab]``; a decode step's are valid until the next
        call (they live in a buffer the next step overwrites)."""
        binding = self._binding(rows)
        binding.bind_cpu_input("input_ids", ids)
        binding.bind_cpu_input("attention_mask", mask)
        if ids.shape[1] == 1 and self.vocab:
            value, logits = self._step_output(ids.shape[0], self.vocab)
            binding.bind_ortvalue_output("logits", value)
            self.session.run_with_iobinding(binding)
            return logits
        binding.bind_output("logits")
        self.session.run_with_iobinding(binding)
        fresh: Logits = binding.get_outputs()[0].numpy()
        return fresh

    def add(self, prompt: list[int]) -> Logits:
        """Cache ``prompt`` in a new row (the last); the logits of its final position."""
        row = len(self.lengths)
        if row >= self.max_batch:
            raise RuntimeError("the batch is full")
        self.fit(max([len(prompt) + 1, *(n + 1 for n in self.lengths)]))
        self.lengths.append(0)
        logits: Logits | None = None
        try:
            # In chunks: the graph returns logits for every position it reads, which for a
            # long prompt at once would be hundreds of megabytes.
            for start in range(0, len(prompt), self.prefill_chunk):
                chunk = prompt[start : start + self.prefill_chunk]
                ids = np.asarray([chunk], np.int64)
                mask = np.ones((1, start + len(chunk)), np.int64)
                logits = self._run(ids, mask, slice(row, row + 1))[0, -1]
                self.lengths[row] = start + len(chunk)
        except BaseException:
            self.lengths.pop()
            raise
        if logits is None:
            self.lengths.pop()
            raise ValueError("an empty prompt has nothing to continue from")
        return logits

    def step(self, tokens: list[int]) -> Logits:
        """Append one token to every active row; logits ``[rows, vocab]``."""
        rows = len(self.lengths)
        lengths = np.asarray(self.lengths, np.int64)
        width = int(lengths.max()) + 1
        self.fit(width)
        mask = (np.arange(width)[None, :] <= lengths[:, None]).astype(np.int64)
        ids = np.asarray(tokens, np.int64).reshape(rows, 1)
        logits = self._run(ids, mask, slice(0, rows))[:, -1]
        self.lengths = [n + 1 for n in self.lengths]
        return logits

    def remove(self, row: int) -> None:
        """Drop a row; the last row moves into its place."""
        last = len(self.lengths) - 1
        if row != last:
            keep = self.lengths[last]
            for array in self._cache:
                array[row, :, :keep] = array[last, :, :keep]
            self.lengths[row] = keep
        self.lengths.pop()
        if not self.lengths:
            # Idle: give the memory back.
            self._cache, self.capacity = [], 0
            self._bindings.clear()


class BatchScheduler:
    """Runs sequences through one :class:`Decoder` in a worker thread, batched.

    Waiting sequences join between decode steps, up to ``max_batch`` at once; a finished or
    cancelled one leaves at the next step boundary, and its row goes to the next waiting
    sequence.
    """

    def __init__(
        self, decoder: Decoder, *, name: str = "llm", flush: Callable[[], None] | None = None
    ) -> None:
        self.decoder = decoder
        # Called after each prefill and each decode step, once the sequences have taken their
        # tokens: they can hand a whole step's results over at once.
        self._flush = flush or (lambda: None)
        self._inbox: queue.SimpleQueue[Sequence | None] = queue.SimpleQueue()
        self._waiting: collections.deque[Sequence] = collections.deque()
        self._active: list[Sequence] = []
        self._last: list[int] = []
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=f"awel-llm-{name}", daemon=True)
        self._thread.start()

    @property
    def active(self) -> int:
        """How many sequences hold a row (read from any thread: a snapshot)."""
        return len(self._active)

    def submit(self, sequence: Sequence) -> None:
        if self._closed:
            raise RuntimeError("the model is closed")
        self._inbox.put(sequence)

    def wake(self) -> None:
        """Have an idle worker look at its sequences again (after a cancellation)."""
        self._inbox.put(None)

    def close(self, timeout: float | None = None) -> None:
        """Stop the worker after its current step; sequences still running are failed."""
        self._closed = True
        self._inbox.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._closed:
            self._collect(block=not self._active and not self._waiting)
            self._drop_cancelled()
            self._admit()
            if self._active:
                try:
                    self._step()
                except Exception as exc:
                    log.exception("decode step failed; failing %d sequences", len(self._active))
                    self._fail_all(exc)
                self._flush()
        self._fail_all(RuntimeError("the model was closed"))
        self._flush()

    def _collect(self, *, block: bool) -> None:
        try:
            item = self._inbox.get(block=block)
            while True:
                if item is not None:
                    self._waiting.append(item)
                item = self._inbox.get_nowait()
        except queue.Empty:
            pass

    def _drop_cancelled(self) -> None:
        if any(s.cancelled for s in self._waiting):
            self._waiting = collections.deque(s for s in self._waiting if not s.cancelled)
        for row in range(len(self._active) - 1, -1, -1):
            if self._active[row].cancelled:
                self._remove(row)

    def _remove(self, row: int) -> None:
        self.decoder.remove(row)
        last = len(self._active) - 1
        self._active[row], self._last[row] = self._active[last], self._last[last]
        self._active.pop()
        self._last.pop()

    def _admit(self) -> None:
        while self._waiting and len(self._active) < self.decoder.max_batch and not self._closed:
            sequence = self._waiting.popleft()
            if sequence.cancelled:
                continue
            try:
                logits = self.decoder.add(sequence.prompt)
                token = sequence.choose(logits)
                done = sequence.accept(token)
            except Exception as exc:
                if len(self.decoder.lengths) > len(self._active):
                    self.decoder.remove(len(self.decoder.lengths) - 1)
                sequence.fail(exc)
                self._flush()
                continue
            self._active.append(sequence)
            self._last.append(token)
            if done:
                self._remove(len(self._active) - 1)
            self._flush()

    def _step(self) -> None:
        logits = self.decoder.step(self._last)
        finished = []
        for row, sequence in enumerate(self._active):
            token = sequence.choose(logits[row])
            self._last[row] = token
            if sequence.accept(token):
                finished.append(row)
        # Highest row first: a removal moves the last row, never one still to be removed.
        for row in reversed(finished):
            self._remove(row)

    def _fail_all(self, error: BaseException) -> None:
        for sequence in [*self._active, *self._waiting]:
            sequence.fail(error)
        self._waiting.clear()
        while self._active:
            self._remove(len(self._active) - 1)
