"""Flow templates: the example YAML flows of the repository (``examples/*.yaml``), as
``GET /flow/templates`` answers them (DB-GPT's ``FlowPanel`` fields, spec 4.8).

Each template is one file: ``yaml`` holds the file as written (its comments say how to
call it), and the ``FlowPanel`` fields come from it: ``name`` and ``description`` from the
flow, ``label`` made readable from the name, ``uid`` derived from the name (the same on
every server and every start, so a client can remember a template), ``define_type``
``yaml`` (DB-GPT knows ``json`` and ``python``; ours are YAML), ``flow_category``
``chat_flow`` when the flow streams a model's answer, else ``common``. ``flow_data`` is
None: the flow API converts YAML to DB-GPT's JSON where a client needs it.

The folder is the source tree's ``examples/``, which an installed wheel does not carry;
there, the list is empty (pass another folder to :func:`templates`).
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

__all__ = ["EXAMPLES", "TemplatesQuery", "listing", "templates"]

#: The repository's example flows.
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


def _template(path: Path, root: Path) -> dict[str, Any] | None:
    text = path.read_text(encoding="utf-8")
    try:
        flow = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(flow, dict) or not isinstance(flow.get("name"), str):
        return None
    name: str = flow["name"]
    stamp = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "uid": str(uuid.uuid5(_UID_SPACE, name)),
        "name": name,
        "label": _label(name),
        "description": str(flow.get("description") or ""),
        "flow_category": _category(flow),
        "define_type": "yaml",
        "yaml": text,
        "flow_data": None,
        "state": "initializing",
        "error_message": None,
        "source": "awel-examples",
        "source_url": path.relative_to(root.parent).as_posix(),
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


def templates(root: Path = EXAMPLES) -> list[dict[str, Any]]:
    """Every example flow under ``root`` (not its subfolders: those are agent packages),
    by file name; a file that is not a flow is left out. Files are read again only when
    they change."""
    if not root.is_dir():
        return []
    found: list[dict[str, Any]] = []
    for path in sorted([*root.glob("*.yaml"), *root.glob("*.yml")]):
        mtime = path.stat().st_mtime
        read = _cache.get(path)
        if read is None or read.mtime != mtime:
            read = _Read(mtime, _template(path, root))
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
