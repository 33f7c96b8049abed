"""Prompt templates: jinja2 files kept beside the flows that use them, rendered in jinja2's
sandbox (a template may be edited by a user; it must not reach Python's internals).

    >>> template = PromptTemplate(Path("flows/chat/prompts/sql.j2"))  # doctest: +SKIP
    >>> template.render(question="How many users?", schema="table users ...")  # doctest: +SKIP
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["PromptTemplate"]


@cache
def _environment(folder: Path) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(folder)),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class PromptTemplate:
    """One template file; compiled on first use, rendered per round."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        if not self.path.is_file():
            raise FileNotFoundError(f"prompt template {self.path} does not exist")

    def render(self, **values: Any) -> str:
        env = _environment(self.path.parent)
        return env.get_template(self.path.name).render(**values).strip()
