"""A flow as DB-GPT's dbgpts package (a zip), for ``GET /flow/export/{uid}?export_type=dbgpts``
and ``POST /flow/import`` of a ``.zip``.

The package is what DB-GPT's dbgpts format describes for a flow, with our YAML as the
definition: one top folder (the package's name) holding ``dbgpts.toml`` (a ``[flow]`` table:
``name``, ``label``, ``version``, ``description``, ``authors``, ``definition_type = "yaml"``
and ``[flow.yaml_config] file_path``), the flow's file under ``definition/`` and a README.

Reading one back goes through the agent package reader (:func:`operators.agents.package.
read_package`), so an uploaded zip meets the same checks as an agent install: paths that
climb out, links, bombs, too many entries, and a ``dbgpts.toml`` whose definition is DB-GPT's
JSON or Python, each refused with its reason (:mod:`operators.agents.manifest`).
"""

from __future__ import annotations

import io
import json
import re
import zipfile

from pydantic import ValidationError

from awel.errors import BadRequest
from operators.agents.errors import AgentInvalid, PackageRefused
from operators.agents.package import Limits, read_package
from operators.storage.flows import StoredFlow

from .errors import FlowInvalid
from .panel import FlowPanel

__all__ = ["dbgpts_zip", "package_name", "panel_of_zip"]

#: DB-GPT's dbgpts names are Python distribution names: no dots.
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]")


def package_name(name: str) -> str:
    """The dbgpts package name of a flow named ``name`` (an agent name as the reader wants)."""
    cleaned = _NOT_NAME.sub("_", name).strip("_-")[:64]
    return cleaned or "flow"


def _toml(text: str) -> str:
    # JSON's string escapes (ASCII only) are all valid in a TOML basic string.
    return json.dumps(text, ensure_ascii=True)


def dbgpts_zip(flow: StoredFlow, name: str) -> bytes:
    """The dbgpts package of ``flow``, its top folder ``name`` (see the module)."""
    definition = f"definition/{name}.yaml"
    authors = [flow.authors] if flow.authors else []
    manifest = "\n".join(
        [
            "[flow]",
            f"name = {_toml(name)}",
            f"label = {_toml(flow.label or flow.name)}",
            f"version = {_toml(_version(flow.version))}",
            f"description = {_toml(flow.description or '')}",
            f"authors = [{', '.join(_toml(a) for a in authors)}]",
            '# How the flow is defined: "yaml" (an AWEL YAML flow), DB-GPT also knows json and'
            " python",
            'definition_type = "yaml"',
            "",
            "[flow.yaml_config]",
            f"file_path = {_toml(definition)}",
            "",
        ]
    )
    readme = f"# {flow.label or flow.name}\n\n{flow.description or ''}\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}/dbgpts.toml", manifest)
        archive.writestr(f"{name}/README.md", readme)
        archive.writestr(f"{name}/{definition}", flow.yaml)
    return buffer.getvalue()


def _version(version: str | None) -> str:
    return version if version and re.fullmatch(r"[0-9][0-9A-Za-z.+-]*", version) else "0.1.0"


def panel_of_zip(data: bytes, max_size: int) -> FlowPanel:
    """The flow a dbgpts (or agent) package ``data`` holds, as a ``FlowPanel`` of its YAML;
    a package that is unsafe is refused naming the problem (``file``), one whose definition
    does not map (DB-GPT's JSON or Python) with the manifest's reason."""
    limits = Limits(max_package=max_size)
    try:
        package = read_package(data, limits)
    except PackageRefused as exc:
        raise BadRequest(f"the package is refused: {exc.problem}", param="file") from None
    except AgentInvalid as exc:
        raise FlowInvalid(exc.problems, param="file") from None
    manifest = package.manifest
    if not manifest.entry.lower().endswith((".yaml", ".yml")):
        raise BadRequest(
            f"the package's flow {manifest.entry} is not YAML; only YAML flows import",
            param="file",
        )
    raw = package.files[manifest.entry]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        why = f"the package's {manifest.entry} is not UTF-8 text"
        raise BadRequest(why, param="file") from None
    authors = f"{manifest.author} <{manifest.email}>" if manifest.email else manifest.author
    fields = {
        "yaml": text,
        "label": manifest.label or None,
        "description": manifest.description or None,
        "version": manifest.version or None,
        "authors": authors or None,
        "source": "dbgpts",
    }
    try:
        return FlowPanel.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise BadRequest(f"file: the package's {where}: {err['msg']}", param="file") from None
