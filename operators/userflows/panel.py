"""DB-GPT's ``FlowPanel``: the flow as the flow API takes and answers it.

Beside DB-GPT's fields the panel carries ours: ``yaml``, the flow's YAML (its source of
truth: sent, it wins over ``flow_data``; answered, always), and ``revision``, the number of
its saved version. ``flow_data`` is answered as made from the YAML (:mod:`.flow_data`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from awel.dag import DAG
from awel.errors import AwelError
from awel.spec import load_flow_text
from awel.trigger import HttpTrigger
from operators.storage.flows import StoredFlow

from .flow_data import flow_data_of

__all__ = ["CATEGORIES", "MAX_YAML", "STATES", "FlowPanel", "answer", "load_quietly"]

#: The largest YAML a flow may have (characters).
MAX_YAML = 256 * 1024

State = Literal[
    "initializing", "developing", "testing", "deployed", "running", "disabled", "load_failed"
]
STATES: tuple[str, ...] = State.__args__  # type: ignore[attr-defined]
Category = Literal["common", "chat_flow", "chat_agent"]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]


class FlowData(BaseModel):
    """DB-GPT's drawing of a flow."""

    model_config = ConfigDict(extra="allow")

    nodes: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)
    edges: list[dict[str, Any]] = Field(default_factory=list, max_length=5000)
    viewport: dict[str, Any] | None = None


class FlowPanel(BaseModel):
    """A flow, in DB-GPT's ``FlowPanel`` shape plus ``yaml``. DB-GPT's clients send more
    fields than these; the rest are ignored."""

    model_config = ConfigDict(extra="ignore")

    uid: str | None = Field(None, max_length=64, description="The flow's id (made if missing).")
    label: str | None = Field(None, max_length=255, description="The flow's title.")
    name: str | None = Field(
        None,
        max_length=128,
        description="The flow's name, its id among served flows and its file name"
        " (letters, digits, '_', '-', '.').",
    )
    flow_category: Category | None = Field(None, description="common, chat_flow or chat_agent.")
    flow_data: FlowData | None = Field(
        None, description="DB-GPT's drawing; read when no yaml is sent."
    )
    yaml: str | None = Field(
        None, max_length=MAX_YAML, description="The flow's YAML (ours): wins over flow_data."
    )
    description: str | None = Field(None, max_length=4000)
    state: State | None = Field(
        None, description="'deployed' serves the flow at its trigger; any other stops it."
    )
    error_message: str | None = None
    source: str | None = Field(None, max_length=64)
    source_url: str | None = Field(None, max_length=2000)
    version: str | None = Field(None, max_length=32)
    define_type: Literal["json", "yaml"] | None = None
    editable: bool | None = None
    user_name: str | None = Field(None, max_length=128)
    sys_code: str | None = Field(None, max_length=128)
    dag_id: str | None = None
    gmt_created: str | None = None
    gmt_modified: str | None = None
    metadata: dict[str, Any] | None = None
    variables: list[Any] | None = Field(None, max_length=200)
    authors: str | None = Field(None, max_length=255)


def load_quietly(text: str) -> DAG | None:
    """The flow ``text`` loads into, or None when it does not."""
    try:
        return load_flow_text(text)
    except (AwelError, ValueError):
        return None


def _time(t: datetime | None) -> str | None:
    return t.strftime("%Y-%m-%d %H:%M:%S") if t else None


def _metadata(dag: DAG | None, tags: dict[str, str]) -> dict[str, Any]:
    triggers = []
    streaming = False
    if dag is not None:
        for node in dag.trigger_nodes:
            if isinstance(node, HttpTrigger):
                streaming = streaming or node.streaming_response
                triggers.append(
                    {
                        "trigger_type": "http",
                        "path": node.path,
                        "methods": sorted(node.methods),
                        "trigger_mode": "command",
                    }
                )
    return {
        "sse_output": streaming,
        "streaming_output": streaming,
        "tags": tags,
        "triggers": triggers,
    }


def answer(flow: StoredFlow) -> dict[str, Any]:
    """The flow as the API answers it: DB-GPT's ``FlowPanel`` with ``flow_data`` drawn from
    the YAML, plus ``yaml`` and ``revision``."""
    dag = load_quietly(flow.yaml)
    return {
        "uid": flow.uid,
        "label": flow.label,
        "name": flow.name,
        "flow_category": flow.flow_category,
        "flow_data": flow_data_of(flow.yaml, dag),
        "description": flow.description,
        "state": flow.state,
        "error_message": flow.error_message or None,
        "source": flow.source or None,
        "source_url": flow.source_url or None,
        "version": flow.version,
        "define_type": flow.define_type,
        "editable": flow.editable,
        "user_name": flow.user_name,
        "sys_code": flow.sys_code,
        "dag_id": flow.dag_id,
        "gmt_created": _time(flow.gmt_created),
        "gmt_modified": _time(flow.gmt_modified),
        "metadata": _metadata(dag, dict(dag.tags) if dag is not None and dag.tags else {}),
        "variables": flow.variables,
        "authors": flow.authors,
        "yaml": flow.yaml,
        "revision": flow.revision,
    }
