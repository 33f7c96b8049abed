"""The operator catalogue's tests: helpers to run one node or a YAML flow, and the names of
``pyproject.toml`` registered in this process when the installed metadata predates them.

``pip install -e .`` (``make install``) records the entry points; a working tree that adds
operators before the next install would otherwise not find them by name.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from awel import DAG, registry
from awel.errors import AwelError
from operators.models import ModelSet, install_models
from tests.server.model_api_live import FakeEmbedder, FakeLLM

ROOT = Path(__file__).resolve().parents[2]


def _declared() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    table: dict[str, str] = data["project"]["entry-points"]["awel.operators"]
    return table


def register_declared() -> None:
    """Register every operator ``pyproject.toml`` declares that the registry lacks."""
    known = set(registry.names())
    for name, path in _declared().items():
        if name not in known:
            try:
                registry.register(name, registry.import_path(path))
            except AwelError:
                continue  # a module that is not written yet: its own tests fail


register_declared()


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
