"""The model cache: content hashes, build folders and the manifests that mark them finished.

A build lives in ``<data_dir>/models/<name>-<hash12>/``. The hash covers the bytes of the
source weights, the build options and :data:`BUILDER_VERSION`, so changing any of them gives
a new folder while an unchanged source is never rebuilt. Library versions are recorded in the
manifest but are not part of the key: the export extra pins them, and a library upgrade should
not silently start a multi-minute rebuild when the server starts.

A folder counts as built only once its manifest (:data:`MANIFEST`) is in it. Builds happen in
a hidden sibling folder under a lock; the manifest is written last and the folder is then
renamed into place. An interrupted build therefore leaves only a hidden partial folder, which
the next build of the same key removes, and is never half-used.

Nothing here imports torch or any model library: serving reads the cache with this module.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BUILDER_VERSION",
    "MANIFEST",
    "MANIFEST_FORMAT",
    "ModelInfo",
    "build_key",
    "build_lock",
    "find_model",
    "hash_source",
    "list_models",
    "models_dir",
    "partial_dir",
    "publish",
    "read_manifest",
    "slug",
]

#: Bump when a recipe changes what it writes, so every cached build is redone once.
BUILDER_VERSION = "awel-export/1"
#: The file whose presence marks a finished build.
MANIFEST = "awel-model.json"
MANIFEST_FORMAT = 1

_CHUNK = 1 << 20


def models_dir(data_dir: Path) -> Path:
    """The folder that holds every build, inside the data directory."""
    return Path(data_dir) / "models"


def slug(name: str) -> str:
    """A folder-safe, lower-case model name: ``SmolLM2-135M.Q4_1`` → ``smollm2-135m-q4-1``."""
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return text or "model"


def _source_files(path: Path) -> Iterator[tuple[str, Path]]:
    # Hidden entries (.git, .cache, editor files) are not weights; skipping them keeps a
    # folder's hash stable when tools touch them.
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            full = Path(root, name)
            if full.is_file():
                yield full.relative_to(path).as_posix(), full


def _feed(digest: Any, label: str, file: Path) -> None:
    digest.update(f"{label}\0{file.stat().st_size}\0".encode())
    with file.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)


def hash_source(path: Path) -> str:
    """SHA-256 of a model source: one file's bytes, or every file of a folder with its path.

    A file's own name is left out, so a renamed GGUF is still recognised; inside a folder the
    relative paths count, because moving a file there changes what the folder means.
    """
    digest = hashlib.sha256()
    path = Path(path)
    if path.is_file():
        _feed(digest, "file", path)
    elif path.is_dir():
        found = False
        for rel, file in _source_files(path):
            _feed(digest, rel, file)
            found = True
        if not found:
            raise FileNotFoundError(f"{path} holds no files")
    else:
        raise FileNotFoundError(path)
    return digest.hexdigest()


def build_key(source_hash: str, options: Mapping[str, Any], builder: str = BUILDER_VERSION) -> str:
    """The cache key of one build: source content, options and builder version, hashed."""
    blob = json.dumps(
        {"builder": builder, "source": source_hash, "options": options},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class ModelInfo:
    """A finished build, as its manifest describes it."""

    path: Path
    name: str
    kind: str
    key: str
    options: dict[str, Any]
    manifest: dict[str, Any]

    @property
    def precision(self) -> str | None:
        value = self.options.get("precision")
        return value if isinstance(value, str) else None

    @property
    def device(self) -> str | None:
        value = self.options.get("device")
        return value if isinstance(value, str) else None

    @property
    def built_at(self) -> str:
        return str(self.manifest.get("built_at", ""))

    @classmethod
    def load(cls, folder: Path) -> ModelInfo | None:
        """The build in ``folder``, or None when it is not a finished build."""
        manifest = read_manifest(folder)
        if manifest is None:
            return None
        return cls(
            path=Path(folder),
            name=str(manifest["name"]),
            kind=str(manifest["kind"]),
            key=str(manifest["key"]),
            options=dict(manifest.get("options", {})),
            manifest=manifest,
        )


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of a finished build; None when it is missing, unreadable or foreign."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        return None
    if not all(isinstance(data.get(k), str) for k in ("name", "kind", "key")):
        return None
    return data


def list_models(data_dir: Path) -> list[ModelInfo]:
    """Every finished build in the data directory, by name, newest last."""
    root = models_dir(data_dir)
    if not root.is_dir():
        return []
    found = [
        info
        for entry in root.iterdir()
        if entry.is_dir() and not entry.name.startswith(".")
        if (info := ModelInfo.load(entry)) is not None
    ]
    return sorted(found, key=lambda i: (i.name, i.built_at, i.path.name))


def find_model(
    data_dir: Path,
    name: str,
    *,
    kind: str | None = None,
    precision: str | None = None,
    device: str | None = None,
) -> ModelInfo | None:
    """The newest finished build called ``name`` (optionally of a kind, precision, device).

    An encoder build runs on any device, so it matches whatever ``device`` asks for.

    This needs no source package and no build dependency, so a serving-only install can
    still find what ``awel model build`` made.
    """
    matches = [
        info
        for info in list_models(data_dir)
        if info.name == name
        and (kind is None or info.kind == kind)
        and (precision is None or info.precision == precision)
        and (device is None or info.device in (None, device))
    ]
    return matches[-1] if matches else None


def partial_dir(final: Path) -> Path:
    """Where the build that will become ``final`` is written: hidden, beside it."""
    return final.with_name(f".{final.name}.partial")


@contextlib.contextmanager
def build_lock(final: Path) -> Iterator[None]:
    """Hold an exclusive lock for building ``final``, so two processes never build it twice.

    ``make test`` and ``make serve`` may both ask for the same model at once; the second one
    waits here and then finds the first one's finished build.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    lock_path = final.with_name(f".{final.name}.lock")
    with lock_path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def clear(paths: Iterable[Path]) -> None:
    """Remove leftovers of interrupted builds (folders or files)."""
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def publish(partial: Path, final: Path, manifest: Mapping[str, Any]) -> Path:
    """Write the manifest into the finished ``partial`` folder, last, and move it to ``final``.

    Call with :func:`build_lock` held. The manifest goes through a temporary file so it is
    never read half-written, and the rename makes the folder appear whole.
    """
    body = dict(manifest)
    body.setdefault("format", MANIFEST_FORMAT)
    tmp = partial / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, partial / MANIFEST)
    clear([final])
    os.replace(partial, final)
    return final
