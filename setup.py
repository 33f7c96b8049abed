"""The build's one step beyond pyproject.toml: the example flows ship in the wheel.

``examples/*.yaml`` are the flow API's templates (``GET /flow/templates``). They stay in one
place in the repository, ``examples/``, where the README points people and ``awel run``
takes them from; a wheel is built from packages only, so ``build_py`` copies them into the
package, ``operators/userflows/example_flows/``, where an installed server finds them
(:func:`operators.userflows.templates.examples_folder`). Editable installs and checkouts
read ``examples/`` itself, so nothing is copied into the source tree. The shipped agent
hub (``examples/agent_hub/``, a server's default hub) is copied the same way, into
``operators/agents/example_hub/`` (:data:`operators.agents.hub.DEFAULT_HUB`).

setuptools runs this file with ``__name__ == "__main__"``; imported under another name (the
tests do), it only defines :func:`copy_examples`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

EXAMPLES = Path(__file__).resolve().parent / "examples"
#: Where the copies go, below the build's library folder (the wheel's root).
PACKAGED = Path("operators", "userflows", "example_flows")
#: The agent hub shipped with awel (``examples/agent_hub``), the default hub of a server.
PACKAGED_HUB = Path("operators", "agents", "example_hub")


def copy_examples(build_lib: str | Path, source: Path = EXAMPLES) -> list[Path]:
    """Copy the example flows (``*.yaml``, ``*.yml``; not the Python examples nor the agent
    packages in subfolders) under ``build_lib``; the files written."""
    target = Path(build_lib) / PACKAGED
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted([*source.glob("*.yaml"), *source.glob("*.yml")]):
        written.append(Path(shutil.copyfile(path, target / path.name)))
    return written


def copy_agent_hub(build_lib: str | Path, source: Path = EXAMPLES / "agent_hub") -> Path:
    """Copy the shipped agent packages under ``build_lib``; the folder written."""
    target = Path(build_lib) / PACKAGED_HUB
    shutil.copytree(source, target, dirs_exist_ok=True)
    return target


class BuildWithExamples(build_py):
    """``build_py``, then the example flows copied into the built package."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            copy_examples(self.build_lib)
            copy_agent_hub(self.build_lib)


if __name__ == "__main__":
    setup(cmdclass={"build_py": BuildWithExamples})
