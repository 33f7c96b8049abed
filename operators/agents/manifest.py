"""An agent's manifest: ``agent.toml``, or DB-GPT's ``dbgpts.toml`` where it maps.

``agent.toml`` (keys at the top level, or under ``[agent]``)::

    name = "sql_explainer"          # letters, digits, _ and -; the agent's route and id
    label = "SQL explainer"
    version = "0.1.0"
    description = "Explains a SQL statement in plain words."
    author = "awel"
    email = "awel@example.com"
    entry = "flows/explain.yaml"    # the flow chat_agent runs
    operators = ["llm.chat"]        # the registered operators its flows use

    [parameters.temperature]
    type = "float"                  # str, int, float or bool
    default = 0.2
    description = "Sampling temperature."

A parameter is a setting of the agent, not a request field: its flows write
``${params.temperature}`` where the value goes (:mod:`awel.flow_params`), and a trusted
package's Python reads them as ``awel_agent_<name>.PARAMETERS``. The value is the server's
(the ``agent_params`` setting, by agent and parameter) or else the default; one the
server's setting types wrongly, or that has neither, refuses the install, naming it. The
values are the server's, one set per agent: its routes are mounted once for every user.

DB-GPT's ``dbgpts.toml`` describes a package by a ``[flow]`` or ``[agent]`` table (label,
name, version, description, authors, definition_type). Only a YAML definition maps:
``definition_type = "yaml"`` with ``[flow.yaml_config] file_path`` (or the package's only
flow file). A ``json`` definition (DB-GPT's flow editor format) and a ``python`` one (a
wheel whose code runs when installed) are refused, saying so.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from awel.errors import Problem, SourceLocation

from .errors import AgentInvalid

__all__ = [
    "AGENT_TOML",
    "DBGPTS_TOML",
    "Manifest",
    "Parameter",
    "check_name",
    "parameter_values",
    "parse_manifest",
]

AGENT_TOML = "agent.toml"
DBGPTS_TOML = "dbgpts.toml"

#: An agent's name is a path segment of its routes and a key of the store.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
}


@dataclass(frozen=True)
class Parameter:
    """One parameter the agent takes, with its type and default."""

    name: str
    type: str = "str"
    default: Any = None
    description: str = ""


def _type_problem(param: Parameter, value: Any) -> str | None:
    """Why ``value`` cannot be ``param``'s value (bools are not numbers here), or None."""
    kinds = _TYPES[param.type]
    if not isinstance(value, kinds) or (param.type != "bool" and isinstance(value, bool)):
        return f"{value!r} is not of type {param.type}"
    return None


@dataclass(frozen=True)
class Manifest:
    """What a package says about itself."""

    name: str
    label: str
    version: str
    description: str
    author: str
    email: str
    #: The package path of the flow chat_agent runs.
    entry: str
    parameters: tuple[Parameter, ...] = ()
    operators: tuple[str, ...] = ()
    #: Which file it was read from (agent.toml or dbgpts.toml).
    source_file: str = AGENT_TOML
    extra: dict[str, Any] = field(default_factory=dict)


def check_name(name: str) -> str | None:
    """Why ``name`` cannot name an agent, or None when it can."""
    if not _NAME.match(name):
        return (
            f"the name '{name}' must be 1 to 64 letters, digits, '_' or '-', starting with a"
            " letter or digit"
        )
    return None


def parse_manifest(file: str, text: str, flow_files: list[str]) -> Manifest:
    """The manifest in ``text`` (read from ``file``, ``agent.toml`` or ``dbgpts.toml``);
    ``flow_files`` are the package's flow files, for an entry the manifest leaves out.
    :class:`AgentInvalid` lists every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AgentInvalid(
            "?", [Problem("agent.manifest", str(exc), SourceLocation(file))]
        ) from None
    if file == DBGPTS_TOML:
        data = _from_dbgpts(data, flow_files)
    elif isinstance(data.get("agent"), dict):
        data = data["agent"]
    return _manifest(file, data, flow_files)


def _from_dbgpts(data: dict[str, Any], flow_files: list[str]) -> dict[str, Any]:
    where = SourceLocation(DBGPTS_TOML)
    table_name = next((t for t in ("flow", "agent") if isinstance(data.get(t), dict)), None)
    if table_name is None:
        kinds = ", ".join(sorted(k for k, v in data.items() if isinstance(v, dict))) or "none"
        raise AgentInvalid(
            "?",
            [
                Problem(
                    "agent.manifest",
                    f"dbgpts.toml has no [flow] or [agent] table (tables: {kinds}); operators"
                    " and resources packages are not agents",
                    where,
                )
            ],
        )
    table: dict[str, Any] = data[table_name]
    name = str(table.get("name", "?"))
    kind = str(table.get("definition_type", "python")).lower()
    if kind != "yaml":
        why = {
            "json": "a DB-GPT flow JSON definition (its nodes are DB-GPT's Python classes,"
            " which have no YAML counterpart here)",
            "python": "a Python package that DB-GPT builds into a wheel and installs with pip,"
            " running its code",
        }.get(kind, f"an unknown definition_type '{kind}'")
        raise AgentInvalid(
            name,
            [
                Problem(
                    "agent.manifest",
                    f"[{table_name}] definition_type = '{kind}' is refused: {why}; only"
                    " definition_type = 'yaml' (AWEL YAML flows) installs",
                    where,
                )
            ],
        )
    authors = table.get("authors") or []
    author, email = _author(str(authors[0])) if authors else ("", "")
    yaml_config = table.get("yaml_config") if isinstance(table.get("yaml_config"), dict) else {}
    return {
        "name": name,
        "label": table.get("label", name),
        "version": table.get("version", "0.1.0"),
        "description": table.get("description", ""),
        "author": author,
        "email": email,
        "entry": (yaml_config or {}).get("file_path") or table.get("entry"),
    }


def _author(text: str) -> tuple[str, str]:
    # "Name <mail@host>", as pyproject and DB-GPT's template write authors.
    match = re.match(r"^\s*(.*?)\s*<([^>]*)>\s*$", text)
    return (match.group(1), match.group(2)) if match else (text.strip(), "")


def _manifest(file: str, data: dict[str, Any], flow_files: list[str]) -> Manifest:
    where = SourceLocation(file)
    problems: list[Problem] = []

    def text(key: str, *, required: bool = False, default: str = "") -> str:
        value = data.get(key, default)
        if not isinstance(value, str) or (required and not value.strip()):
            problems.append(Problem("agent.manifest", f"'{key}' must be a non-empty string", where))
            return default
        return value

    name = text("name", required=True)
    if name and (why := check_name(name)):
        problems.append(Problem("agent.manifest", why, where))
    entry = data.get("entry")
    if entry is None and len(flow_files) == 1:
        # One flow: it is the entry, whether or not the manifest says so.
        entry = flow_files[0]
    if not isinstance(entry, str) or not entry:
        problems.append(
            Problem(
                "agent.manifest",
                f"'entry' must name the flow chat_agent runs (one of: {', '.join(flow_files)})"
                if flow_files
                else "'entry' must name a flow file, and the package has none",
                where,
            )
        )
        entry = ""
    elif entry not in flow_files:
        problems.append(
            Problem("agent.manifest", f"entry '{entry}' is not a flow file of the package", where)
        )
    operators = data.get("operators", [])
    if not isinstance(operators, list) or not all(isinstance(o, str) for o in operators):
        problems.append(Problem("agent.manifest", "'operators' must be a list of names", where))
        operators = []
    parameters = _parameters(data.get("parameters", {}), where, problems)
    if problems:
        raise AgentInvalid(name or "?", problems)
    known = {"name", "label", "version", "description", "author", "email", "entry"}
    return Manifest(
        name=name,
        label=text("label", default=name) or name,
        version=text("version", default="0.1.0"),
        description=text("description"),
        author=text("author"),
        email=text("email"),
        entry=entry,
        parameters=parameters,
        operators=tuple(operators),
        source_file=file,
        extra={k: v for k, v in data.items() if k not in known | {"operators", "parameters"}},
    )


def _parameters(raw: Any, where: SourceLocation, problems: list[Problem]) -> tuple[Parameter, ...]:
    if not isinstance(raw, dict):
        problems.append(Problem("agent.manifest", "'parameters' must be a table", where))
        return ()
    out: list[Parameter] = []
    for pname, spec in raw.items():
        if not isinstance(spec, dict):
            problems.append(
                Problem("agent.manifest", f"parameter '{pname}' must be a table", where)
            )
            continue
        ptype = str(spec.get("type", "str"))
        if ptype not in _TYPES:
            problems.append(
                Problem(
                    "agent.manifest",
                    f"parameter '{pname}': type '{ptype}' is not one of {', '.join(_TYPES)}",
                    where,
                )
            )
            continue
        param = Parameter(pname, ptype, spec.get("default"), str(spec.get("description", "")))
        if param.default is not None and (why := _type_problem(param, param.default)):
            problems.append(Problem("agent.manifest", f"parameter '{pname}': default {why}", where))
            continue
        out.append(param)
    return tuple(out)


def parameter_values(manifest: Manifest, configured: Mapping[str, Any] | None) -> dict[str, Any]:
    """The value of each of the agent's parameters: the server's (``agent_params``
    setting, ``configured``) over the manifest's default. :class:`AgentInvalid` names a
    configured value of the wrong type or for a parameter the manifest does not declare,
    and a parameter left with no value at all."""
    configured = configured or {}
    where = SourceLocation(manifest.source_file)
    declared = {p.name: p for p in manifest.parameters}
    problems = [
        Problem(
            "agent.parameter",
            f"the agent_params setting gives '{name}', which the agent does not declare"
            f" (it declares: {', '.join(declared) or 'none'})",
            where,
        )
        for name in configured
        if name not in declared
    ]
    values: dict[str, Any] = {}
    for param in manifest.parameters:
        if param.name in configured:
            value = configured[param.name]
            if why := _type_problem(param, value):
                problems.append(
                    Problem("agent.parameter", f"agent_params '{param.name}': {why}", where)
                )
                continue
        elif param.default is not None:
            value = param.default
        else:
            problems.append(
                Problem(
                    "agent.parameter",
                    f"parameter '{param.name}' has no default and the agent_params setting"
                    f' gives it no value (agent_params = {{"{manifest.name}":'
                    f' {{"{param.name}": ...}}}})',
                    where,
                )
            )
            continue
        values[param.name] = value
    if problems:
        raise AgentInvalid(manifest.name, problems)
    return values
