"""The flow API's tests: a store on each database it supports, as the storage tests have."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from operators.storage import MetadataStore, open_store
from tests.storage.databases import scratch_database


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MetadataStore]:
    kind: str = request.param
    if kind == "sqlite":
        async with open_store(None, data_dir=tmp_path) as opened:
            yield opened
        return
    async with scratch_database(kind) as url, open_store(url, data_dir=tmp_path) as opened:
        yield opened
