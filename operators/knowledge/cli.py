"""``awel knowledge``: fill a knowledge space from files, and ask it questions.

    awel knowledge add handbook docs/*.md manual.pdf     # creates the space if missing
    awel knowledge query handbook "how many holiday days?"

Both work on the server's data folder and metadata database (``--data-dir``,
``--metadata-db``, or ``$AWEL_DATA_DIR`` / ``$AWEL_METADATA_DB``) with the embeddings model
built there, so what ``add`` stores the server retrieves. A file already in the space
(by name) is replaced and synced again. ``add`` shows a progress bar per file on stderr
and exits 1 when a file failed; ``query --json`` prints the chunks as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from awel.errors import AwelError

from ..export.sources import DEFAULT_MODELS
from ..models import ModelSet, using_models
from ..storage import FINISHED, open_store
from .base import KnowledgeBase

__all__ = ["knowledge"]

#: The default embeddings model: the last of the default models (the first is the LLM).
DEFAULT_EMBEDDER = DEFAULT_MODELS[-1]

_options = [
    click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="AWEL_DATA_DIR",
        default=Path("data"),
        show_default=True,
        help="The server's data directory: the models, the default metadata database.",
    ),
    click.option(
        "--metadata-db",
        envvar="AWEL_METADATA_DB",
        default=None,
        help="SQLAlchemy URL of the metadata database (default: SQLite in the data dir).",
    ),
    click.option(
        "--model",
        default=DEFAULT_EMBEDDER,
        show_default=True,
        help="The embeddings model built in the data dir.",
    ),
    click.option(
        "--pgvector-url",
        envvar="AWEL_PGVECTOR_URL",
        default=None,
        help="PostgreSQL with pgvector, for PGVector spaces (default: the metadata db).",
    ),
]


def _common(command: Any) -> Any:
    for option in reversed(_options):
        command = option(command)
    return command


T = TypeVar("T")


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except AwelError as exc:  # a domain error's message says what to fix
        raise click.ClickException(str(exc)) from exc


@click.group()
def knowledge() -> None:
    """Fill knowledge spaces from files and query them."""


async def _open(data_dir: Path, metadata_db: str | None, model: str) -> tuple[Any, ModelSet]:
    models = await asyncio.to_thread(ModelSet.load, data_dir, names=[model])
    if not len(models):
        raise click.ClickException(
            f"the embeddings model '{model}' is not built in {data_dir};"
            f" run `awel model build {model} --data-dir {data_dir}`"
        )
    return open_store(metadata_db, data_dir=data_dir), models


@knowledge.command()
@click.argument("space")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--vector-type", default="Chroma", show_default=True, help="A new space's vector store."
)
@_common
def add(
    space: str,
    files: Sequence[Path],
    vector_type: str,
    data_dir: Path,
    metadata_db: str | None,
    model: str,
    pgvector_url: str | None,
) -> None:
    """Add FILES to SPACE (created when missing) and sync them, one progress bar each."""

    async def run() -> int:
        opening, models = await _open(data_dir, metadata_db, model)
        failures = 0
        async with opening as store, using_models(models):
            kb = KnowledgeBase(store, pgvector_url=pgvector_url, models=lambda: models)
            try:
                target = await kb.ensure_space(space, vector_type=vector_type)
                for path in files:
                    data = await asyncio.to_thread(path.read_bytes)
                    existing, _ = await store.documents.list(target.id, doc_name=path.name)
                    if existing:
                        document = await kb.replace_file(existing[0].id, data)
                    else:
                        document = await kb.add_document(
                            space, path.name, "DOCUMENT", data=data, source=str(path)
                        )
                    with click.progressbar(
                        length=1, label=path.name, file=sys.stderr, show_pos=True
                    ) as bar:

                        def progress(done: int, total: int, bar: Any = bar) -> None:
                            bar.length = total
                            bar.update(done - bar.pos)

                        ended = await kb.sync(document.id, on_progress=progress)
                    if ended.status == FINISHED:
                        click.echo(f"{path.name}: {ended.chunk_count} chunks")
                    else:
                        failures += 1
                        click.echo(f"{path.name}: failed: {ended.result}", err=True)
            finally:
                await kb.aclose()
        return failures

    if _run(run()):
        sys.exit(1)


@knowledge.command()
@click.argument("space")
@click.argument("question")
@click.option("--top-k", type=int, default=None, help="Chunks to show (default: the space's).")
@click.option("--score-threshold", type=float, default=None, help="Least cosine similarity.")
@click.option("--json", "as_json", is_flag=True, help="Print the chunks as JSON.")
@_common
def query(
    space: str,
    question: str,
    top_k: int | None,
    score_threshold: float | None,
    as_json: bool,
    data_dir: Path,
    metadata_db: str | None,
    model: str,
    pgvector_url: str | None,
) -> None:
    """Print the chunks of SPACE closest to QUESTION, best first."""

    async def run() -> list[dict[str, Any]]:
        opening, models = await _open(data_dir, metadata_db, model)
        async with opening as store, using_models(models):
            kb = KnowledgeBase(store, pgvector_url=pgvector_url, models=lambda: models)
            try:
                found = await kb.retrieve(
                    space, question, top_k=top_k, score_threshold=score_threshold
                )
            finally:
                await kb.aclose()
        return [
            {
                "score": round(c.score, 4),
                "doc_name": c.doc_name,
                "chunk_id": c.chunk_id,
                "meta_info": c.meta_info,
                "content": c.content,
            }
            for c in found
        ]

    chunks = _run(run())
    if as_json:
        click.echo(json.dumps(chunks, ensure_ascii=False, indent=2))
        return
    if not chunks:
        click.echo("no chunk found")
    for chunk in chunks:
        click.echo(f"[{chunk['score']:.3f}] {chunk['doc_name']}")
        click.echo(f"  {chunk['content'].strip()[:500]}".replace("\n", "\n  "))
