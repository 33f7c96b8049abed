"""Installing DB-GPT's web UIs (``awel ui install``): the static builds of a ``dbgpt-app`` wheel.

DB-GPT ships its two web UIs inside the ``dbgpt-app`` wheel as Next.js static exports:
``dbgpt_app/static/old_web`` (the older UI) and ``dbgpt_app/static/web`` (the newer one).
Nothing of DB-GPT's is part of this repository: the wheel is fetched with pip
(``pip download --no-deps`` into a temporary folder, so nothing is installed into the
environment) and only those two folders are unpacked, into ``<ui_dir>/<version>/old`` and
``.../new``, with a ``ui.json`` saying what was installed from where.

The wheel is read as untrusted input, the way agent packages are
(:mod:`operators.agents.package`):

- the wheel's size, its number of entries, each file's and all files' unpacked bytes and
  each entry's compression ratio are bounded (a zip bomb stops while it is read, whatever
  its headers claim);
- a path that is absolute, holds ``..``, a backslash or a NUL, or is a symlink or anything
  but a regular file is refused (zip-slip);
- every unpacked file must be listed in the wheel's ``RECORD`` and match its sha256 and
  size there (pip checked the wheel itself against the index's hash when it downloaded it);
- each build must hold its ``index.html``.

Files are written into a staging folder beside the target, which is renamed into place only
once every check passed, so a server never sees half an install; an install over an
existing version swaps the folders and then removes the old one.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from awel.errors import AwelError

#: The distribution holding DB-GPT's web UIs, and the version this project was checked with.
DIST = "dbgpt-app"
DEFAULT_VERSION = "0.8.2"
#: The builds: our name for each, and its folder inside the wheel.
BUILDS: dict[str, str] = {"old": "dbgpt_app/static/old_web/", "new": "dbgpt_app/static/web/"}
#: What ``ui.json`` in an installed version is called.
MANIFEST = "ui.json"

Build = Literal["old", "new"]

_CHUNK = 1024 * 1024
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*([a-z0-9.+-]*)$")


class UIRefused(AwelError):
    """A wheel that is not a DB-GPT UI we may unpack, or a download that failed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="web_ui.refused")


class DownloadFailed(UIRefused):
    """pip could not fetch the wheel (no network, no such version)."""


@dataclass(frozen=True)
class Limits:
    """How large the wheel and what it unpacks may be. DB-GPT 0.8.2's wheel is 34 MB and its
    two builds unpack to about 240 MB in 750 files, the largest 20 MB (SQL editor workers)."""

    max_wheel: int = 256 * 1024 * 1024
    max_entries: int = 20_000
    max_file: int = 64 * 1024 * 1024
    max_total: int = 1024 * 1024 * 1024
    #: Unpacked bytes per compressed byte; the largest in 0.8.2 is about 25.
    max_ratio: int = 200


@dataclass(frozen=True)
class InstalledUI:
    """One installed version: its folder and which builds it holds."""

    version: str
    path: Path
    builds: tuple[str, ...]

    def build(self, name: str) -> Path:
        return self.path / name


def download_wheel(version: str, dest: Path) -> Path:
    """Fetch ``dbgpt-app==version``'s wheel with pip into ``dest`` (no dependencies, nothing
    installed) and return its path."""
    if not _VERSION.match(version):
        raise UIRefused(f"'{version}' is not a version number")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(dest),
        f"{DIST}=={version}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise DownloadFailed(f"pip could not download {DIST}=={version}: " + " / ".join(tail))
    wheels = sorted(dest.glob("dbgpt_app-*.whl"))
    if len(wheels) != 1:
        raise UIRefused(f"pip left {len(wheels)} dbgpt_app wheels in {dest}, expected one")
    return wheels[0]


def fetch_and_install(version: str, ui_dir: Path, limits: Limits | None = None) -> InstalledUI:
    """Download ``version``'s wheel into a temporary folder and install its UIs."""
    with tempfile.TemporaryDirectory(prefix="awel-ui-") as tmp:
        wheel = download_wheel(version, Path(tmp))
        return install_wheel(wheel, ui_dir, version=version, limits=limits)


def install_wheel(
    wheel: Path, ui_dir: Path, *, version: str | None = None, limits: Limits | None = None
) -> InstalledUI:
    """Check ``wheel`` and unpack its two UI builds into ``ui_dir/<version>``.

    ``version``, when given, must be the wheel's own.
    """
    limits = limits or Limits()
    size = wheel.stat().st_size
    if size > limits.max_wheel:
        raise UIRefused(f"{wheel.name} is {size} bytes, over the limit of {limits.max_wheel}")
    try:
        archive = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UIRefused(f"{wheel} is not a wheel (zip) file: {exc}") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise UIRefused(f"the wheel has {len(infos)} entries, over {limits.max_entries}")
        found = _wheel_version(infos)
        if version is not None and version != found:
            raise UIRefused(f"{wheel.name} holds {DIST} {found}, not {version}")
        record = _record(archive, found)
        ui_dir.mkdir(parents=True, exist_ok=True)
        staging = ui_dir / f".{found}.{uuid.uuid4().hex}.staging"
        try:
            _unpack(archive, infos, record, staging, limits)
            for name in BUILDS:
                if not (staging / name / "index.html").is_file():
                    raise UIRefused(f"the wheel's {BUILDS[name]} holds no index.html")
            manifest = {"dist": DIST, "version": found, "wheel": wheel.name, "builds": [*BUILDS]}
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            _swap_into_place(staging, ui_dir / found)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return InstalledUI(found, ui_dir / found, tuple(BUILDS))


def installed_uis(ui_dir: Path) -> list[InstalledUI]:
    """Every complete install under ``ui_dir``, newest version first."""
    found: list[InstalledUI] = []
    if not ui_dir.is_dir():
        return found
    for child in ui_dir.iterdir():
        if child.name.startswith(".") or not (child / MANIFEST).is_file():
            continue
        builds = tuple(b for b in BUILDS if (child / b / "index.html").is_file())
        found.append(InstalledUI(child.name, child, builds))
    return sorted(found, key=lambda ui: _version_key(ui.version), reverse=True)


def choose_build(ui_dir: Path, wanted: str | None) -> tuple[Path | None, str]:
    """The build folder to serve, and a sentence saying what was chosen.

    ``wanted`` is ``old``, ``new``, ``off`` or None (whichever is installed, old first), of
    the newest installed version. A build asked for by name that is not installed is an
    error: the server should not start quietly without the UI its user asked for.
    """
    if wanted == "off":
        return None, "the web UI is off (web_ui = off)"
    uis = installed_uis(ui_dir)
    if not uis:
        if wanted is not None:
            raise UIRefused(
                f"web_ui = {wanted}, but no web UI is installed in {ui_dir}; run `awel ui install`"
            )
        return None, f"no web UI is installed in {ui_dir} (`awel ui install` installs one)"
    newest = uis[0]
    order = [wanted] if wanted is not None else list(BUILDS)
    for name in order:
        if name in newest.builds:
            return newest.build(name), f"serving DB-GPT {newest.version}'s {name} web UI at /"
    raise UIRefused(f"DB-GPT {newest.version}'s {wanted} web UI is not installed in {ui_dir}")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


def _wheel_version(infos: list[zipfile.ZipInfo]) -> str:
    """The version in the wheel's ``dbgpt_app-<version>.dist-info`` folder."""
    versions = {
        m.group(1)
        for info in infos
        if (m := re.match(r"^dbgpt_app-([^/]+)\.dist-info/RECORD$", info.filename))
    }
    if len(versions) != 1:
        raise UIRefused(f"not a {DIST} wheel: no single dbgpt_app-<version>.dist-info/RECORD")
    version = versions.pop()
    if not _VERSION.match(version):
        raise UIRefused(f"the wheel's version '{version}' is not a version number")
    return version


def _record(archive: zipfile.ZipFile, version: str) -> dict[str, tuple[str, int]]:
    """The wheel's RECORD: each path's sha256 (urlsafe base64, unpadded) and size."""
    raw = archive.read(f"dbgpt_app-{version}.dist-info/RECORD")
    if len(raw) > 16 * 1024 * 1024:
        raise UIRefused("the wheel's RECORD is implausibly large")
    entries: dict[str, tuple[str, int]] = {}
    for row in csv.reader(io.StringIO(raw.decode("utf-8"))):
        if len(row) != 3 or not row[1].startswith("sha256=") or not row[2].isdigit():
            continue
        entries[row[0]] = (row[1].removeprefix("sha256="), int(row[2]))
    return entries


def _unpack(
    archive: zipfile.ZipFile,
    infos: list[zipfile.ZipInfo],
    record: dict[str, tuple[str, int]],
    staging: Path,
    limits: Limits,
) -> None:
    total = 0
    seen: set[str] = set()
    for info in infos:
        build = next((b for b, prefix in BUILDS.items() if info.filename.startswith(prefix)), None)
        if build is None:
            continue
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UIRefused(f"'{info.filename}' is a symlink")
        inside = _safe_path(info.filename[len(BUILDS[build]) :], info.filename)
        if info.is_dir() or not inside:
            continue
        if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
            raise UIRefused(f"'{info.filename}' is not a regular file")
        if info.filename in seen:
            raise UIRefused(f"'{info.filename}' appears twice in the wheel")
        seen.add(info.filename)
        expected = record.get(info.filename)
        if expected is None:
            raise UIRefused(f"'{info.filename}' is not listed in the wheel's RECORD")
        target = staging / build / inside
        target.parent.mkdir(parents=True, exist_ok=True)
        total = _extract(archive, info, target, expected, total, limits)


def _safe_path(name: str, full: str) -> str:
    """``name`` normalised, refused when it could land outside the build folder."""
    if "\x00" in name or "\\" in name:
        raise UIRefused(f"the path '{full}' holds a NUL or a backslash")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UIRefused(f"the path '{full}' is absolute")
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise UIRefused(f"the path '{full}' climbs out of its folder with '..'")
    return "/".join(p for p in parts if p not in ("", "."))


def _extract(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    target: Path,
    expected: tuple[str, int],
    total: int,
    limits: Limits,
) -> int:
    """Write one entry to ``target``, counting its bytes as they are decompressed (headers
    may lie) and checking them against RECORD; the running total is returned."""
    allowed_by_ratio = max(info.compress_size, 1) * limits.max_ratio
    digest = hashlib.sha256()
    written = 0
    try:
        with archive.open(info) as stream, target.open("xb") as out:
            while chunk := stream.read(_CHUNK):
                written += len(chunk)
                total += len(chunk)
                if written > limits.max_file:
                    raise UIRefused(f"'{info.filename}' unpacks past {limits.max_file} bytes")
                if total > limits.max_total:
                    raise UIRefused(f"the UI builds unpack past {limits.max_total} bytes")
                if written > allowed_by_ratio and written > _CHUNK:
                    raise UIRefused(
                        f"'{info.filename}' unpacks more than {limits.max_ratio} times its"
                        " compressed size (a zip bomb?)"
                    )
                digest.update(chunk)
                out.write(chunk)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError) as exc:
        raise UIRefused(f"'{info.filename}' cannot be read: {exc}") from None
    got = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")
    if (got, written) != expected:
        raise UIRefused(f"'{info.filename}' does not match the wheel's RECORD (sha256, size)")
    return total


def _swap_into_place(staging: Path, target: Path) -> None:
    """Put ``staging`` at ``target``: a rename, after moving an older install aside."""
    if not target.exists():
        os.replace(staging, target)
        return
    aside = target.with_name(f".{target.name}.{uuid.uuid4().hex}.old")
    os.replace(target, aside)
    try:
        os.replace(staging, target)
    except OSError:
        os.replace(aside, target)
        raise
    shutil.rmtree(aside, ignore_errors=True)
