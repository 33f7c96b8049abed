"""Reading an agent package, a folder or a zip, safely and into memory.

Nothing is written while reading: a package is read whole into an :class:`AgentPackage`
(its files' bytes by package path) or refused with :class:`PackageRefused` naming the
problem. Installing writes the files only after every check passed (:mod:`.installs`).

What is refused, and why each check is where it is:

- a package over ``max_package`` bytes (the zip itself; a folder's files together);
- more than ``max_entries`` entries: a zip of millions of empty files is a bomb too;
- a path that is absolute, holds ``..``, a backslash or a drive, or repeats another
  (zip-slip: the path is what installing would write to);
- a symlink (a zip entry whose mode says so; a folder's link, file or directory), and
  anything not a regular file or directory;
- a zip bomb: each entry is decompressed in chunks and counted as it is read, not by what
  its header claims, and refused as soon as the entry passes ``max_file`` bytes, the
  package passes ``max_total`` or an entry's bytes pass ``max_ratio`` times its
  compressed size;
- no ``agent.toml`` (or ``dbgpts.toml``) at the root. A zip holding one top folder (as
  GitHub's archives do) is read from inside it.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .errors import PackageRefused
from .manifest import AGENT_TOML, DBGPTS_TOML, Manifest, parse_manifest

__all__ = ["CODE_SUFFIXES", "FLOW_SUFFIXES", "AgentPackage", "Limits", "read_package"]

#: Files that are flows.
FLOW_SUFFIXES = (".yaml", ".yml", ".py")
#: Files that are code the server would run (Python operators or flows, native modules).
CODE_SUFFIXES = (".py", ".pyc", ".pyd", ".pyo", ".so", ".dll", ".dylib", ".pth")
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """How large a package may be."""

    max_package: int = 16 * 1024 * 1024
    max_entries: int = 500
    max_file: int = 8 * 1024 * 1024
    max_total: int = 32 * 1024 * 1024
    #: Decompressed bytes per compressed byte; text compresses about 3 to 10 times.
    max_ratio: int = 100


@dataclass
class AgentPackage:
    """A package read and checked for safety; its flows are validated on install."""

    manifest: Manifest
    #: Every file's bytes by its path in the package (``flows/ask.yaml``).
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def flow_files(self) -> list[str]:
        return _flow_files(self.files)

    @property
    def code_files(self) -> list[str]:
        """The files that are code: installing them needs a trusted source."""
        return sorted(p for p in self.files if p.lower().endswith(CODE_SUFFIXES))


def read_package(source: Path | bytes, limits: Limits | None = None) -> AgentPackage:
    """The package in the folder or zip file ``source`` (a path), or the zip ``source``
    (bytes); :class:`PackageRefused` names what is wrong, :class:`AgentInvalid` what the
    manifest lacks."""
    limits = limits or Limits()
    if isinstance(source, bytes):
        files = _read_zip(source, limits)
    elif source.is_symlink():
        raise PackageRefused(f"{source.name} is a symlink", param=None)
    elif source.is_dir():
        files = _read_folder(source, limits)
    elif source.is_file():
        size = source.stat().st_size
        if size > limits.max_package:
            raise PackageRefused(f"the zip is {size} bytes, over the limit of {limits.max_package}")
        files = _read_zip(source.read_bytes(), limits)
    else:
        raise PackageRefused(f"{source} is neither a folder nor a zip file", param=None)
    return _package(files)


def _package(files: dict[str, bytes]) -> AgentPackage:
    files = _strip_top_folder(files)
    name = AGENT_TOML if AGENT_TOML in files else DBGPTS_TOML if DBGPTS_TOML in files else None
    if name is None:
        raise PackageRefused(
            f"no manifest: the package needs {AGENT_TOML} (or DB-GPT's {DBGPTS_TOML}) at its root"
        )
    try:
        text = files[name].decode("utf-8")
    except UnicodeDecodeError:
        raise PackageRefused(f"{name} is not UTF-8 text") from None
    return AgentPackage(parse_manifest(name, text, _flow_files(files)), files)


def _flow_files(files: dict[str, bytes]) -> list[str]:
    return sorted(p for p in files if p.lower().endswith(FLOW_SUFFIXES))


def _strip_top_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    if not files or AGENT_TOML in files or DBGPTS_TOML in files:
        return files
    tops = {p.split("/", 1)[0] for p in files}
    if len(tops) == 1 and all("/" in p for p in files):
        cut = len(next(iter(tops))) + 1
        return {p[cut:]: data for p, data in files.items()}
    return files


def _check_path(name: str) -> str:
    """The package path ``name`` normalised; refused when it could land outside the package."""
    if not name or "\x00" in name:
        raise PackageRefused(f"an entry has an empty or NUL-holding name: {name!r}")
    if "\\" in name:
        raise PackageRefused(f"the path '{name}' holds a backslash")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise PackageRefused(f"the path '{name}' is absolute")
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise PackageRefused(f"the path '{name}' climbs out of the package with '..'")
    clean = "/".join(p for p in parts if p not in ("", "."))
    if not clean:
        raise PackageRefused(f"the path '{name}' names nothing")
    return clean


def _read_zip(data: bytes, limits: Limits) -> dict[str, bytes]:
    if len(data) > limits.max_package:
        raise PackageRefused(
            f"the zip is {len(data)} bytes, over the limit of {limits.max_package}"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise PackageRefused(f"not a zip file ({exc})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise PackageRefused(
                f"the zip has {len(infos)} entries, over the limit of {limits.max_entries}"
            )
        files: dict[str, bytes] = {}
        total = 0
        for info in infos:
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise PackageRefused(f"'{info.filename}' is a symlink")
            path = _check_path(info.filename)
            if info.is_dir():
                continue
            if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
                raise PackageRefused(f"'{info.filename}' is not a regular file")
            if path in files:
                raise PackageRefused(f"the path '{path}' appears twice")
            content, total = _read_entry(archive, info, total, limits)
            files[path] = content
    return files


def _read_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, total: int, limits: Limits
) -> tuple[bytes, int]:
    """One entry's bytes, counted as they are decompressed (the header's sizes may lie)."""
    allowed_by_ratio = max(info.compress_size, 1) * limits.max_ratio
    out = bytearray()
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                out += chunk
                total += len(chunk)
                if len(out) > limits.max_file:
                    raise PackageRefused(
                        f"'{info.filename}' unpacks past {limits.max_file} bytes (a zip bomb?)"
                    )
                if total > limits.max_total:
                    raise PackageRefused(
                        f"the package unpacks past {limits.max_total} bytes (a zip bomb?)"
                    )
                if len(out) > allowed_by_ratio and len(out) > _CHUNK:
                    raise PackageRefused(
                        f"'{info.filename}' unpacks more than {limits.max_ratio} times its"
                        " compressed size (a zip bomb?)"
                    )
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as exc:
        raise PackageRefused(f"'{info.filename}' cannot be read ({exc})") from None
    return bytes(out), total


def _read_folder(root: Path, limits: Limits) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    entries = 0
    # Not following links: a link is refused, wherever it points.
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for name in [*dirnames, *filenames]:
            entries += 1
            if entries > limits.max_entries:
                raise PackageRefused(
                    f"the folder has over {limits.max_entries} entries", param=None
                )
            full = here / name
            rel = full.relative_to(root).as_posix()
            info = full.lstat()
            if stat.S_ISLNK(info.st_mode):
                raise PackageRefused(f"'{rel}' is a symlink", param=None)
            if stat.S_ISDIR(info.st_mode):
                continue
            if not stat.S_ISREG(info.st_mode):
                raise PackageRefused(f"'{rel}' is not a regular file", param=None)
            if info.st_size > limits.max_file:
                raise PackageRefused(
                    f"'{rel}' is {info.st_size} bytes, over the limit of {limits.max_file}",
                    param=None,
                )
            total += info.st_size
            if total > limits.max_package:
                raise PackageRefused(
                    f"the folder holds over {limits.max_package} bytes", param=None
                )
            files[_check_path(rel)] = full.read_bytes()
    return files
