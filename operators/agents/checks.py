"""What an agent must pass before it installs: every flow valid, and its code trusted.

Flows are checked as ``awel validate`` checks them (YAML as it loads, every problem with
its file and line, the edge types included), and each HTTP trigger must be an endpoint
under ``/agents/<name>/``: an agent's routes are its own, never another's or the API's.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from awel import loader, registry
from awel.dag import DAG
from awel.errors import AwelError, Problem, SourceLocation, SpecError
from awel.spec import load_flow_text
from awel.trigger import TRIGGER_PREFIX, HttpTrigger

from .errors import AgentInvalid, UntrustedAgent
from .manifest import parameter_values
from .package import AgentPackage
from .signing import verdict

__all__ = ["agent_prefix", "check_trust", "is_trusted", "load_agent_flows"]


def agent_prefix(name: str) -> str:
    """Where the agent's routes live: every trigger path starts with this."""
    return f"{TRIGGER_PREFIX}/agents/{name}/"


def is_trusted(source: str, trusted: Sequence[str]) -> bool:
    """Whether code from ``source`` may run: it is listed, lies under a listed URL or
    folder (an entry ending in ``/``), or ``*`` trusts everything."""
    for entry in trusted:
        if entry == "*" or source == entry or (entry.endswith("/") and source.startswith(entry)):
            return True
    return False


def check_trust(
    package: AgentPackage,
    source: str,
    trusted: Sequence[str],
    trusted_keys: Sequence[str] = (),
) -> bool:
    """Whether the package is trusted: its source is, or a trusted key signed it
    (:mod:`.signing`). One that ships code and is not is refused (:class:`UntrustedAgent`,
    saying why); one that is not may still install, but its flows may not import Python
    by path (:func:`load_agent_flows`)."""
    if is_trusted(source, trusted):
        return True
    signed = verdict(package.files, trusted_keys)
    if package.code_files and not signed.trusted:
        raise UntrustedAgent(package.manifest.name, package.code_files, source, signed.why)
    return signed.trusted


def code_module(name: str) -> str:
    """The import name of agent ``name``'s own Python: ``awel_agent_<name>``, so a YAML flow
    of the package names its operator ``op: awel_agent_<name>.ops:Shout`` and two agents'
    ``ops`` modules never meet."""
    return f"awel_agent_{name}"


def expose_code(name: str, folder: Path, params: Mapping[str, Any] | None = None) -> None:
    """Make a trusted package's Python files importable under :func:`code_module`, rooted at
    ``folder`` (its installed copy), with the agent's parameter values as its ``PARAMETERS``;
    what an earlier install imported is forgotten first."""
    forget_code(name)
    root = types.ModuleType(code_module(name), f"Python of the agent '{name}'")
    root.__path__ = [str(folder)]
    root.PARAMETERS = dict(params or {})  # type: ignore[attr-defined]
    root.__package__ = root.__name__
    sys.modules[root.__name__] = root
    importlib.invalidate_caches()


def forget_code(name: str) -> None:
    """Drop what the agent's Python imported (uninstalled, or about to be replaced)."""
    root = code_module(name)
    for key in [k for k in sys.modules if k == root or k.startswith(root + ".")]:
        del sys.modules[key]


def move_code(name: str, folder: Path) -> None:
    """The agent's files moved (staged, then renamed into place): later imports read there."""
    root = sys.modules.get(code_module(name))
    if root is not None:
        root.__path__ = [str(folder)]


def load_agent_flows(
    package: AgentPackage,
    folder: Path | None = None,
    configured: Mapping[str, Any] | None = None,
    *,
    trusted: bool = False,
) -> dict[str, list[DAG]]:
    """Every flow of the package by its file, checked; :class:`AgentInvalid` lists every
    problem. YAML flows load from memory (``folder`` may be None) with the agent's
    parameters (``configured`` over the manifest's defaults) in their ``${params.NAME}``;
    Python flows import from their installed copy in ``folder``, so only a trusted package
    has any, and its Python is importable as ``awel_agent_<name>.<module>``
    (:func:`expose_code`). Unless ``trusted``, the flows may not name Python by import
    path (``fn: "os:system"`` in an ``awel.map`` would run commands for every caller):
    only registered operators."""
    if trusted:
        return _load_agent_flows(package, folder, configured)
    with registry.imports_refused(
        "an agent package from a source that is not trusted may use registered operators"
        " only (list its source in agent_trusted_sources, or sign it with a trusted key)"
    ):
        return _load_agent_flows(package, folder, configured)


def _load_agent_flows(
    package: AgentPackage, folder: Path | None, configured: Mapping[str, Any] | None
) -> dict[str, list[DAG]]:
    name = package.manifest.name
    params = parameter_values(package.manifest, configured)
    if folder is not None and package.code_files:
        expose_code(name, folder, params)
    problems: list[Problem] = []
    loaded: dict[str, list[DAG]] = {}
    for op in package.manifest.operators:
        try:
            registry.resolve(op)
        except AwelError as exc:
            where = SourceLocation(package.manifest.source_file)
            problems.append(Problem("agent.operator", f"operators: {exc.message}", where))
    for path in package.flow_files:
        shown = f"{name}/{path}"
        try:
            if path.endswith(".py"):
                if folder is None:
                    continue
                dags = loader.load_path(folder / path)
                for dag in dags:
                    problems.extend(loader.check_dag(dag))
            else:
                text = package.files[path].decode("utf-8")
                dags = [load_flow_text(text, shown, params=params)]
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        except UnicodeDecodeError:
            problems.append(Problem("agent.flow", "not UTF-8 text", SourceLocation(shown)))
            continue
        except AwelError as exc:
            problems.append(Problem(exc.code, exc.message, SourceLocation(shown)))
            continue
        for dag in dags:
            problems.extend(_trigger_problems(dag, name, shown))
        loaded[path] = dags
    if problems:
        raise AgentInvalid(name, problems)
    return loaded


def _trigger_problems(dag: DAG, name: str, shown: str) -> list[Problem]:
    prefix = agent_prefix(name)
    out: list[Problem] = []
    for node in dag.trigger_nodes:
        if isinstance(node, HttpTrigger) and not node.path.startswith(prefix):
            out.append(
                Problem(
                    "agent.route",
                    f"flow '{dag.dag_id}' claims {node.path}; an agent's routes are its own:"
                    f" give the trigger endpoint: /agents/{name}/...",
                    node.location or SourceLocation(shown),
                )
            )
    return out
