"""Reading a flow's YAML as the server would: its problems, its name, its category."""

from __future__ import annotations

import re

import yaml

from awel.dag import DAG
from awel.errors import AwelError, Problem, SourceLocation, SpecError
from awel.spec import load_flow_text

from .errors import FlowInvalid
from .panel import CATEGORIES

__all__ = ["FLOW_NAME", "category", "check_name", "load", "load_or_refuse", "yaml_name"]

#: A flow's name: its id among served flows and, with ``.yaml``, its file's name, so no
#: folder separators, no leading dot or underscore (the loader skips those files).
FLOW_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


def check_name(name: str) -> None:
    if not FLOW_NAME.match(name) or ".." in name:
        raise AwelError(
            f"'{name}' is not a flow name: use letters, digits, '_', '-' and '.' (up to 128,"
            " starting with a letter or digit); it becomes the flow's file name",
            code="request.invalid",
            param="name",
        )


def load(text: str, source: str) -> tuple[DAG | None, list[Problem]]:
    """The flow ``text`` loads into and every problem (as ``awel validate`` reports them)."""
    try:
        return load_flow_text(text, source), []
    except SpecError as exc:
        return None, list(exc.problems)
    except AwelError as exc:
        return None, [Problem(exc.code, exc.message, SourceLocation(source))]


def load_or_refuse(text: str, source: str) -> DAG:
    """The flow ``text`` loads into; :class:`FlowInvalid` lists every problem."""
    dag, problems = load(text, source)
    if dag is None:
        raise FlowInvalid(problems)
    return dag


def yaml_name(text: str) -> str | None:
    """The ``name:`` the YAML gives, if it can be read."""
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError):
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


def category(dag: DAG | None, *fallbacks: str | None) -> str:
    """The flow's category: its ``flow_category`` tag, else the first fallback given."""
    tagged = dag.tags.get("flow_category") if dag is not None else None
    for value in (tagged, *fallbacks):
        if value in CATEGORIES:
            return str(value)
    return "common"
