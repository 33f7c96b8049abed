"""Agent packages for tests: a YAML agent as files, as a folder, as a zip."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

AGENT_TOML = """\
name = "{name}"
label = "Echo"
version = "0.1.0"
description = "Answers with the question, shouted."
author = "tests"
email = "tests@example.com"
entry = "flows/echo.yaml"
operators = ["awel.format"]

[parameters.suffix]
type = "str"
default = "!"
"""


def one_node_flow(node: str, spec: str) -> str:
    """An agent's flow, as the template :func:`agent_files` fills (``{name}``): the route
    ``/agents/{name}/echo`` takes any JSON object to its one node ``node``, written ``spec``
    (a YAML flow mapping, its braces doubled for the template)."""
    return f"""\
name: {{name}}_echo
trigger:
  http:
    endpoint: /agents/{{name}}/echo
    methods: POST
    request_body: dict
nodes:
  {node}: {spec}
edges:
  - trigger >> {node}
"""


ECHO_FLOW = one_node_flow(
    "shout",
    '{{op: awel.format, params: {{template: "{{{{ user_input | upper }}}}${{params.suffix}}"}}}}',
)


def agent_files(name: str = "echo", flow: str | None = None) -> dict[str, str]:
    return {
        "agent.toml": AGENT_TOML.format(name=name),
        "flows/echo.yaml": (flow or ECHO_FLOW).format(name=name),
        "prompts/readme.md": "A prompt template lives here.\n",
    }


def write_folder(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        out = root / path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return root


def zip_bytes(files: dict[str, str | bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for path, data in files.items():
            z.writestr(path, data)
    return buf.getvalue()


def zip_with_symlink(files: dict[str, str], link: str, target: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
        info = zipfile.ZipInfo(link)
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(info, target)
    return buf.getvalue()
