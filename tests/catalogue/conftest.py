"""The operator catalogue's tests: helpers to run one node or a YAML flow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from awel import DAG, registry
from operators.models import ModelSet, install_models
from tests.server.model_api_live import FakeEmbedder, FakeLLM


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A fake language model installed as the process's only one."""
    llm = FakeLLM()
    previous = install_models(ModelSet([llm], [FakeEmbedder()]))
    try:
        yield llm
    finally:
        install_models(previous)


async def run_one(op: str, params: dict[str, Any] | None, value: Any) -> Any:
    """``value`` through a single node built from ``op`` and ``params``."""
    with DAG(f"one.{op}"):
        start = registry.build("awel.input", task_name="start")
        node = registry.build(op, params or {}, task_name="node")
        start >> node
    return await node.call(value)


async def stream_one(op: str, params: dict[str, Any] | None, value: Any) -> list[Any]:
    """The items a single streaming node gives for ``value``."""
    with DAG(f"one.{op}"):
        start = registry.build("awel.input", task_name="start")
        node = registry.build(op, params or {}, task_name="node")
        start >> node
    return [item async for item in node.call_stream(value)]
