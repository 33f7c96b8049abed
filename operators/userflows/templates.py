"""Flow templates: the example YAML flows (``examples/*.yaml``), as ``GET /flow/templates``
answers them (DB-GPT's ``FlowPanel`` fields, spec 4.8).

Each template is one file: ``yaml`` holds the file as written (its comments say how to
call it), and the ``FlowPanel`` fields come from it: ``name`` and ``description`` from the
flow, ``label`` made readable from the name, ``uid`` derived from the name (the same on
every server and every start, so a client can remember a template), ``define_type``
``yaml`` (DB-GPT knows ``json`` and ``python``; ours are YAML), ``flow_category``
``chat_flow`` when the flow streams a model's answer, else ``common``, and ``flow_data``
drawn from the YAML by the flow API's mapping (:func:`.flow_data.flow_data_of`, the
palette's ids), so DB-GPT's web UI can show a template as it shows a saved flow.

Where the files are (:func:`examples_folder`): a wheel carries them in this package's
``example_flows/`` (``setup.py`` copies ``examples/*.yaml`` there when it builds, so the
repository holds them once); a checkout or an editable install reads ``examples/``.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from .flow_data import flow_data_of
from .panel import load_quietly

__all__ = ["EXAMPLES", "PACKAGED", "TemplatesQuery", "examples_folder", "listing", "templates"]

#: Where an installed wheel carries the example flows (setup.py's ``copy_examples``).
PACKAGED = Path(__file__).resolve().parent / "example_flows"
#: The repository's example flows (a checkout, an editable install).
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: Names uids are derived from, so no other uuid5 of the same name collides.
_UID_SPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/awel/flow-templates")
#: Operators whose flows answer a chat with a model's streamed text.
_CHAT_OPS = ("llm.stream", "llm.chat_stream")


class TemplatesQuery(BaseModel):
    """``GET /flow/templates``: ``user_name`` and ``sys_code`` are taken and change nothing."""

    model_config = ConfigDict(extra="ignore")

    user_name: str | None = None
    sys_code: str | None = None
    page: int = Field(1, ge=1, le=1_000_000_000)
    page_size: int = Field(20, ge=1, le=1000)


@dataclass(frozen=True, slots=True)
class _Read:
    mtime: float
    template: dict[str, Any] | None


_cache: dict[Path, _Read] = {}


def _label(name: str) -> str:
    last = name.rsplit(".", 1)[-1]
    return last.replace("_", " ").replace("-", " ").strip().capitalize() or name


def _category(flow: dict[str, Any]) -> str:
    nodes = flow.get("nodes")
    if isinstance(nodes, dict):
        for node in nodes.values():
            if isinstance(node, dict) and node.get("op") in _CHAT_OPS:
                return "chat_flow"
    return "common"


def _triggers(flow: dict[str, Any]) -> list[dict[str, Any]]:
    trigger = flow.get("trigger")
    http = trigger.get("http") if isinstance(trigger, dict) else None
    if not isinstance(http, dict):
        return []
    endpoint = http.get("endpoint") or http.get("path")
    methods = http.get("methods", "GET")
    return [
        {
            "trigger_type": "http",
            "path": f"/api/v1/awel/trigger{endpoint}" if http.get("endpoint") else endpoint,
            "methods": [methods] if isinstance(methods, str) else list(methods),
        }
    ]


def _template(path: Path) -> dict[str, Any] | None:
    text = path.read_text(encoding="utf-8")
    try:
        flow = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(flow, dict) or not isinstance(flow.get("name"), str):
        return None
    name: str = flow["name"]
    drawn = flow_data_of(text, load_quietly(text))
    stamp = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "uid": str(uuid.uuid5(_UID_SPACE, name)),
        "name": name,
        "label": _label(name),
        "description": str(flow.get("description") or ""),
        "flow_category": _category(flow),
        "define_type": "yaml",
        "yaml": text,
        "flow_data": drawn,
        "state": "initializing",
        "error_message": None,
        "source": "awel-examples",
        "source_url": f"examples/{path.name}",
        "version": "0.1.1",
        "editable": True,
        "user_name": None,
        "sys_code": None,
        "dag_id": None,
        "gmt_created": stamp,
        "gmt_modified": stamp,
        "metadata": {"tags": dict(flow.get("tags") or {}), "triggers": _triggers(flow)},
        "variables": None,
        "authors": None,
    }


def examples_folder(packaged: Path = PACKAGED, source: Path = EXAMPLES) -> Path:
    """The folder of the example flows: the installed package's copy when there is one,
    else the checkout's ``examples/``."""
    return packaged if packaged.is_dir() else source


def templates(root: Path | None = None) -> list[dict[str, Any]]:
    """Every example flow under ``root`` (:func:`examples_folder` by default; not its
    subfolders: those are agent packages), by file name; a file that is not a flow is left
    out. Files are read again only when they change."""
    root = examples_folder() if root is None else root
    if not root.is_dir():
        return []
    found: list[dict[str, Any]] = []
    for path in sorted([*root.glob("*.yaml"), *root.glob("*.yml")]):
        mtime = path.stat().st_mtime
        read = _cache.get(path)
        if read is None or read.mtime != mtime:
            read = _Read(mtime, _template(path))
            _cache[path] = read
        if read.template is not None:
            found.append(read.template)
    return found


def listing(query: TemplatesQuery) -> dict[str, Any]:
    """A page of the templates, in the serve module's page shape."""
    every = templates()
    start = (query.page - 1) * query.page_size
    total = len(every)
    return {
        "items": every[start : start + query.page_size],
        "total_count": total,
        "total_pages": math.ceil(total / query.page_size) if total else 0,
        "page": query.page,
        "page_size": query.page_size,
    }
