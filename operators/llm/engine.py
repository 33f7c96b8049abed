"""The local language model: a built ONNX decoder, continuously batched.

:func:`load_llm` opens a model folder written by ``awel model build`` (an onnxruntime-genai
builder output: ``genai_config.json``, ``model.onnx``, ``tokenizer.json`` and the chat
template) and returns a :class:`LocalLLM`, a :class:`~operators.llm.types.LanguageModel`.

How a request runs:

1. On the event loop: validate, render the chat template (:mod:`.template`), tokenize.
2. In the worker thread (:mod:`.scheduler`): join the batch at the next step boundary,
   prefill, then one token per decode step: mask the tokens a guided request's grammar
   forbids (:mod:`.guidance`), sample, decode the text incrementally, hold back a possible
   stop string's start (:mod:`.stops`), decide whether it is finished.
3. Each piece of text is handed to the loop with ``call_soon_threadsafe`` and comes out of
   :meth:`LocalLLM.stream` as a :class:`~operators.llm.types.Delta`.

Leaving the stream early (the consumer's task is cancelled, or ``aclose()``) marks the
request cancelled; the worker drops it before the next step, freeing its row.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from awel.errors import AwelError

from ..admission import ModelQueue, Ticket
from .guidance import GuidanceFailed, Guide, check, grammar_tokenizer
from .scheduler import BatchScheduler, Decoder, DecoderShape
from .stops import StopMatcher
from .template import ChatTemplate
from .types import (
    Completion,
    Delta,
    FinishReason,
    GenerationParams,
    GenerationRequest,
    Guidance,
    Usage,
)

__all__ = [
    "SPINNING_ENV",
    "THREADS_ENV",
    "InvalidRequest",
    "LocalLLM",
    "ModelLoadError",
    "load_llm",
    "open_session",
    "runtime_defaults",
]


class InvalidRequest(AwelError, ValueError):
    """A request the model cannot run; ``field`` names the part of it that is wrong."""

    code = "llm.invalid_request"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class ModelLoadError(AwelError, RuntimeError):
    """The model folder or the requested device cannot be used."""

    code = "llm.load_failed"


class _Detokenizer:
    """Token ids to text, incrementally.

    Decoding token by token splits multi-byte characters and drops the spaces some
    tokenizers add only between tokens, so each step decodes a short window and emits what
    was added past the previously settled text, waiting while the end is an incomplete
    character.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self._prefix = 0  # start of the window
        self._read = 0  # end of the text already emitted

    def _decode(self, ids: list[int]) -> str:
        text: str = self._tokenizer.decode(ids, skip_special_tokens=True)
        return text

    def add(self, token: int) -> str:
        self._ids.append(token)
        done = self._decode(self._ids[self._prefix : self._read])
        text = self._decode(self._ids[self._prefix :])
        if len(text) > len(done) and not text.endswith("\ufffd"):
            self._prefix, self._read = self._read, len(self._ids)
            return text[len(done) :]
        return ""

    def flush(self) -> str:
        done = self._decode(self._ids[self._prefix : self._read])
        text = self._decode(self._ids[self._prefix :])
        self._prefix = self._read = len(self._ids)
        return text[len(done) :]


#: Nucleus sampling first looks for the nucleus among this many most likely tokens: sorting
#: a whole vocabulary costs milliseconds per token, and the nucleus is nearly always smaller.
NUCLEUS_HEAD = 256


def _sample(
    logits: npt.NDArray[np.float32], params: GenerationParams, rng: np.random.Generator
) -> int:
    if params.temperature == 0.0:
        return int(np.argmax(logits))
    scores = logits.astype(np.float64) / params.temperature
    ids = np.arange(scores.shape[0])
    if 0 < params.top_k < scores.shape[0]:
        ids = np.argpartition(scores, -params.top_k)[-params.top_k :]
    probs = np.exp(scores[ids] - scores[ids].max())
    if params.top_p < 1.0:
        ids, probs = _nucleus(ids, probs, params.top_p)
    mass = np.cumsum(probs)
    pick = int(np.searchsorted(mass, rng.random() * mass[-1], side="right"))
    return int(ids[min(pick, len(ids) - 1)])


def _nucleus(
    ids: npt.NDArray[np.intp], probs: npt.NDArray[np.float64], top_p: float
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """The most likely tokens whose probabilities add up to ``top_p``, most likely first."""
    target = top_p * probs.sum()
    head = np.arange(len(probs))
    if len(probs) > NUCLEUS_HEAD:
        head = np.argpartition(-probs, NUCLEUS_HEAD - 1)[:NUCLEUS_HEAD]
        if probs[head].sum() < target:
            head = np.arange(len(probs))
    head = head[np.argsort(-probs[head], kind="stable")]
    keep = int(np.searchsorted(np.cumsum(probs[head]), target)) + 1
    head = head[:keep]
    return ids[head], probs[head]


_Item = Delta | BaseException


class _Outbox:
    """What the worker hands to event loops: one callback per loop per step.

    Eight streams each waking the loop for every token would be eight wake-ups per step,
    each taking CPU from the model's threads on a small machine; one callback delivers a
    whole step. Only the worker thread calls :meth:`put` and :meth:`flush`.
    """

    def __init__(self) -> None:
        self._pending: dict[asyncio.AbstractEventLoop, list[tuple[_Request, _Item]]] = {}

    def put(self, request: _Request, item: _Item) -> None:
        self._pending.setdefault(request.loop, []).append((request, item))

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for loop, items in pending.items():
            try:
                loop.call_soon_threadsafe(_deliver, items)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                for request, _ in items:
                    request.cancelled = True


def _deliver(items: list[tuple[_Request, _Item]]) -> None:
    for request, item in items:
        request.queue.put_nowait(item)


class _Request:
    """One generation as the scheduler runs it (see :class:`.scheduler.Sequence`).

    Lives in both threads: the worker calls ``choose``/``accept``/``fail``; the loop reads
    ``queue`` and sets ``cancelled``. Results cross only through the :class:`_Outbox`.
    """

    def __init__(
        self,
        model: LocalLLM,
        prompt: list[int],
        params: GenerationParams,
        loop: asyncio.AbstractEventLoop,
        guide: Guide | None = None,
    ) -> None:
        self.prompt = prompt
        self.params = params
        self.cancelled = False
        self.queue: asyncio.Queue[_Item] = asyncio.Queue()
        self.loop = loop
        self._outbox = model._outbox
        self._eos = model.eos_token_ids
        # The context bounds the answer too: the last position the cache can hold.
        self._limit = min(params.max_new_tokens, model.context_length - len(prompt))
        self._rng = np.random.default_rng(params.seed)
        self._text = _Detokenizer(model.tokenizer)
        self._stops = StopMatcher(params.stop)
        self._generated = 0
        self._guide = guide
        #: A guide that failed in ``choose``; ``accept`` ends the request with it.
        self._error: GuidanceFailed | None = None

    def choose(self, logits: npt.NDArray[np.float32]) -> int:
        if self._guide is not None:
            try:
                self._guide.fill()
            except GuidanceFailed as exc:
                # Raising here would fail the whole batch's step; only this request fails.
                self._error = exc
                return next(iter(self._eos), 0)
            if self.params.temperature == 0.0:
                # Greedy, and the model's favourite is allowed: it is the masked argmax too.
                best = int(np.argmax(logits))
                if self._guide.allows(best):
                    return best
            logits = self._guide.apply(logits)
        return _sample(logits, self.params, self._rng)

    def accept(self, token: int) -> bool:
        self._generated += 1
        finish: FinishReason | None = None
        complete = False
        if self._guide is not None and self._error is None:
            try:
                self._guide.consume(token)
                complete = self._guide.done
            except GuidanceFailed as exc:
                self._error = exc
        if self._error is not None:
            self.fail(self._error)
            return True
        if token in self._eos:
            text, finish = self._text.flush(), "stop"
        elif complete:
            # The grammar allows nothing more: end now rather than wait for an end token.
            text, finish = self._text.add(token) + self._text.flush(), "stop"
        else:
            text = self._text.add(token)
        text, stopped = self._stops.feed(text)
        if stopped:
            finish = "stop"
        elif finish is None and self._generated >= self._limit:
            more, stopped = self._stops.feed(self._text.flush())
            text += more
            finish = "stop" if stopped else "length"
        if finish is not None:
            text += self._stops.flush()
            usage = Usage(
                prompt_tokens=len(self.prompt),
                completion_tokens=self._generated,
                total_tokens=len(self.prompt) + self._generated,
            )
            self._post(Delta(text=text, finish_reason=finish, usage=usage))
            return True
        if text:
            self._post(Delta(text=text))
        return False

    def fail(self, error: BaseException) -> None:
        self._post(error)

    def _post(self, item: _Item) -> None:
        self._outbox.put(self, item)


class _Generation:
    """The stream :meth:`LocalLLM.stream` returns: the deltas, and the request's ticket.

    The ticket is given back when the generator ends, when the stream is closed, and, for
    a stream dropped unread, when it is collected, so a slot cannot leak whatever the
    caller does. (It is its own iterator, so that whoever iterates holds it.)
    """

    __slots__ = ("_gen", "_ticket")

    def __init__(self, ticket: Ticket, gen: AsyncGenerator[Delta, None]) -> None:
        self._ticket = ticket
        self._gen = gen

    async def admitted(self) -> None:
        """Wait for the request's turn (ModelBusy past the queue's wait limit)."""
        await self._ticket.wait()

    def __aiter__(self) -> _Generation:
        return self

    async def __anext__(self) -> Delta:
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        self._ticket.release()
        await self._gen.aclose()

    def __del__(self) -> None:
        self._ticket.release()


class LocalLLM:
    """A local ONNX language model shared by every caller through one batch.

    Made by :func:`load_llm`::

        llm = load_llm(find_model(Path("data"), "smollm2").path, name="smollm2")
        request = GenerationRequest(model="smollm2", prompt="The capital of France is")
        (await llm.generate(request)).text        # ' Paris.\n\n...'
        async for delta in llm.stream(request):   # the same text, piece by piece
            print(delta.text, end="")
        await llm.aclose()
    """

    def __init__(
        self,
        *,
        name: str,
        decoder: Decoder,
        tokenizer: Any,
        template: ChatTemplate | None,
        eos_token_ids: frozenset[int],
    ) -> None:
        self.name = name
        self.tokenizer = tokenizer
        self.template = template
        self.eos_token_ids = eos_token_ids
        self.context_length = decoder.shape.context_length
        self.max_batch = decoder.max_batch
        self._outbox = _Outbox()
        self._scheduler = BatchScheduler(decoder, name=name, flush=self._outbox.flush)
        #: Admission: ``max_batch`` requests run, a bounded number wait (operators.admission).
        self.queue = ModelQueue(name, slots=decoder.max_batch)
        self._closed = False
        # llguidance's view of the vocabulary, built by the first guided request.
        self._grammar_tokenizer: Any = None
        self._grammar_lock = threading.Lock()

    @property
    def active(self) -> int:
        """How many requests hold a row of the batch right now."""
        return self._scheduler.active

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def prompt_ids(self, request: GenerationRequest) -> list[int]:
        """The token ids the model reads for ``request``; raises :class:`InvalidRequest`."""
        if request.messages is not None:
            field = "messages"
            if not request.messages:
                raise InvalidRequest(field, "the conversation is empty")
            if self.template is None:
                raise InvalidRequest(
                    field, f"model '{self.name}' has no chat template; send a 'prompt' instead"
                )
            try:
                text = self.template.render([m.model_dump() for m in request.messages])
            except ValueError as exc:
                raise InvalidRequest(field, str(exc)) from exc
            # The template writes the special tokens itself (as transformers does).
            ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        elif request.prompt is not None:
            field = "prompt"
            ids = self.tokenizer.encode(request.prompt, add_special_tokens=True).ids
            if not ids:
                raise InvalidRequest(field, "the prompt is empty")
        else:
            raise InvalidRequest("messages", "give either 'messages' or 'prompt'")
        if len(ids) >= self.context_length:
            raise InvalidRequest(
                field,
                f"{len(ids)} tokens do not fit the context of {self.context_length} "
                f"tokens with room for an answer",
            )
        return list(ids)

    def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        """The answer as it is generated; the request is checked at once.

        The last delta has ``finish_reason`` and ``usage``. Leaving the loop early (or
        ``aclose()``) frees the request's place in the batch or in the queue. A full queue
        raises :class:`~operators.admission.ModelBusy` at once; ``await stream.admitted()``
        waits for the request's turn before the first delta is asked for.
        """
        if self._closed:
            raise RuntimeError(f"model '{self.name}' is closed")
        prompt = self.prompt_ids(request)
        guidance = request.params.guidance
        if guidance is not None:
            problem = check(guidance)
            if problem is not None:
                raise InvalidRequest("params.guidance", problem)
        ticket = self.queue.enter()
        return _Generation(ticket, self._deltas(prompt, request.params, ticket))

    def _guide(self, guidance: Guidance) -> Guide:
        with self._grammar_lock:
            if self._grammar_tokenizer is None:
                self._grammar_tokenizer = grammar_tokenizer(self.tokenizer, self.eos_token_ids)
        try:
            return Guide(self._grammar_tokenizer, guidance)
        except ValueError as exc:
            raise InvalidRequest("params.guidance", str(exc)) from exc

    async def _deltas(
        self, prompt: list[int], params: GenerationParams, ticket: Ticket
    ) -> AsyncGenerator[Delta, None]:
        finished = False
        job: _Request | None = None
        try:
            await ticket.wait()
            guide = None
            if params.guidance is not None:
                # Compiling a grammar (and, the first time, the vocabulary) takes
                # milliseconds to a second: off the event loop.
                guide = await asyncio.to_thread(self._guide, params.guidance)
            job = _Request(self, prompt, params, asyncio.get_running_loop(), guide)
            self._scheduler.submit(job)
            while not finished:
                item = await job.queue.get()
                if isinstance(item, BaseException):
                    finished = True
                    raise item
                finished = item.finish_reason is not None
                if finished:
                    # The row is free: the next in line need not wait for this caller to
                    # close the stream (generate() returns without closing it).
                    ticket.release()
                yield item
        finally:
            ticket.release()
            if not finished and job is not None:
                job.cancelled = True
                # The worker drops it before its next step; an idle one needs waking.
                self._scheduler.wake()

    async def generate(self, request: GenerationRequest) -> Completion:
        """The whole answer at once (the same text the stream gives)."""
        parts: list[str] = []
        async for delta in self.stream(request):
            parts.append(delta.text)
            if delta.finish_reason is not None:
                assert delta.usage is not None
                return Completion(
                    text="".join(parts), finish_reason=delta.finish_reason, usage=delta.usage
                )
        raise RuntimeError("the stream ended without a finish reason")

    async def aclose(self) -> None:
        """Stop the worker; requests still running end with an error."""
        if not self._closed:
            await asyncio.to_thread(self.close)

    def close(self) -> None:
        """:meth:`aclose` for code outside an event loop (waits for the current step)."""
        self._closed = True
        self._scheduler.close()


#: Environment variables that set onnxruntime's threads for the language model (the server's
#: settings use the same ``AWEL_`` prefix): a thread count (0 or unset: every core), and
#: whether idle threads spin waiting for the next op of a step ("1"/"true", the default) or
#: sleep ("0"/"false").
THREADS_ENV = "AWEL_LLM_THREADS"
SPINNING_ENV = "AWEL_LLM_SPINNING"


def runtime_defaults() -> tuple[int | None, bool]:
    """``(threads, spinning)`` from the environment; invalid values are a ModelLoadError."""
    raw_threads = os.environ.get(THREADS_ENV, "").strip()
    try:
        threads = int(raw_threads) if raw_threads else 0
    except ValueError:
        raise ModelLoadError(f"{THREADS_ENV}={raw_threads!r} is not a number of threads") from None
    if threads < 0:
        raise ModelLoadError(f"{THREADS_ENV} must be 0 (every core) or more, not {threads}")
    raw_spin = os.environ.get(SPINNING_ENV, "").strip().lower()
    if raw_spin not in ("", "0", "1", "false", "true", "no", "yes", "off", "on"):
        raise ModelLoadError(f"{SPINNING_ENV}={raw_spin!r}: use 1/0, true/false, on/off")
    return threads or None, raw_spin not in ("0", "false", "no", "off")


def open_session(
    model_file: Path, device: str = "cpu", threads: int | None = None, spinning: bool = True
) -> Any:
    """An onnxruntime session for a decoder graph, set up as the engine runs it.

    ``threads``: intra-op threads (default: every core). ``spinning``: while a step runs,
    a thread that finished its share busy-waits for the next op instead of sleeping, and
    every thread stops spinning when the step returns, so the server's event loop has the
    cores between steps. A decode step is some 300 small ops; waking a sleeping thread for
    each cost 20-25% of a one-row step on an idle 2-core machine. With another busy process
    on the cores, spinning costs about a third instead: ``spinning=False`` (or
    ``AWEL_LLM_SPINNING=0``) for such a machine. Both measured in ``bench/RESULTS.md``.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    # Spin only while a step runs: between steps the cores go back to the server.
    options.add_session_config_entry("session.force_spinning_stop", "1")
    providers = ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ModelLoadError(
                "device 'cuda' asked for, but this onnxruntime has no CUDA execution provider "
                f"(it has {', '.join(ort.get_available_providers())}); install onnxruntime-gpu "
                "or use device 'cpu'"
            )
        providers.insert(0, "CUDAExecutionProvider")
    elif device != "cpu":
        raise ModelLoadError(f"unknown device '{device}'; use 'cpu' or 'cuda'")
    return ort.InferenceSession(str(model_file), options, providers=providers)


def load_llm(
    folder: Path,
    *,
    name: str,
    device: str = "cpu",
    max_batch: int = 8,
    threads: int | None = None,
    spinning: bool | None = None,
    prefill_chunk: int = 256,
) -> LocalLLM:
    """Open a built model folder; ``max_batch`` requests run at once, the rest queue.

    ``threads``: onnxruntime's intra-op threads; ``spinning``: whether its idle threads
    spin (see :func:`open_session`); either, when not given, comes from ``AWEL_LLM_THREADS``
    / ``AWEL_LLM_SPINNING`` (default: every core, spinning while a step runs).
    ``prefill_chunk``: prompt tokens read per model call (the graph returns logits for each
    one it reads).

    ``device="cuda"`` puts the graph on the CUDA execution provider; a missing provider is
    a :class:`ModelLoadError`. Not yet tested on a GPU: the cache is host memory bound in
    place, which the CUDA provider may refuse; use a CUDA build of the model.
    """
    from tokenizers import Tokenizer

    folder = Path(folder)
    if max_batch < 1:
        raise ValueError("max_batch must be at least 1")
    config_path = folder / "genai_config.json"
    if not config_path.exists():
        raise ModelLoadError(f"{folder} is not a built language model (no genai_config.json)")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    shape = DecoderShape.from_genai_config(config)
    env_threads, env_spinning = runtime_defaults()
    session = open_session(
        folder / config["model"]["decoder"]["filename"],
        device,
        threads if threads is not None else env_threads,
        spinning if spinning is not None else env_spinning,
    )
    eos = config["model"].get("eos_token_id", [])
    eos_ids = frozenset(eos if isinstance(eos, list) else [eos])
    decoder = Decoder(session, shape, max_batch=max_batch, prefill_chunk=prefill_chunk)
    return LocalLLM(
        name=name,
        decoder=decoder,
        tokenizer=Tokenizer.from_file(str(folder / "tokenizer.json")),
        template=ChatTemplate.from_folder(folder),
        eos_token_ids=eos_ids,
    )
