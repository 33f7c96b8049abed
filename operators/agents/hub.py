"""The agent hub's index: packages offered by a git repository or a local folder.

A sync copies the source (a shallow ``git clone`` of one branch, or a copy of the folder)
into ``<data_dir>/agent_hub/<key>.<stamp>/``, reads every package folder's ``agent.toml``,
then publishes the copy by swapping the symlink ``<data_dir>/agent_hub/<key>`` to it (one
``rename``, so a reader never sees half a copy) and replaces the source's rows in
``store.agent_hub``. ``key`` names the source (channel, URL, branch). The copy before the
last is removed; the last stays for readers that resolved it just before the swap.

git runs as a program with an argument list, never through a shell; a URL or branch that
git could read as an option (``--upload-pack=...``) or a transport that runs commands
(``ext::``) is refused before anything runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import shutil
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from operators.storage import HubEntry, MetadataStore, NewHubEntry

from .errors import BadHubSource, HubSyncFailed, UnknownAgent

__all__ = [
    "CHANNELS",
    "DEFAULT_HUB",
    "HubSource",
    "HubSync",
    "check_source",
    "configure_hub",
    "configured_hub",
    "hub_package",
    "read_manifest",
    "sync_hub",
]

log = logging.getLogger("awel.agents")

#: The folder of the data directory the synced hubs live in.
HUB_DIR = "agent_hub"
#: Where packages come from: a git repository, or a folder of this machine.
CHANNELS = ("git", "local")
#: The hub shipped with awel, offline: the configured hub unless the server is told another.
#: An installed wheel carries a copy (setup.py's build step); a checkout reads examples/.
_PACKAGED_HUB = Path(__file__).resolve().parent / "example_hub"
DEFAULT_HUB = (
    _PACKAGED_HUB
    if _PACKAGED_HUB.is_dir()
    else Path(__file__).resolve().parents[2] / "examples" / "agent_hub"
)
#: A package's manifest file.
MANIFEST = "agent.toml"
#: How long a clone may take.
GIT_TIMEOUT_S = 120.0
#: Bounds on a source's copy, checked while copying: a folder or repository bigger than a
#: hub (a home directory named by mistake) is refused rather than copied whole.
MAX_FILES = 5000
MAX_BYTES = 100 * 1024 * 1024
#: How deep below the source's root package folders are looked for (DB-GPT's dbgpts
#: repository keeps them at ``agents/<name>/``).
MAX_DEPTH = 3

# A package name travels in URL paths (/api/v1/awel/trigger/agents/<name>/...).
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# A branch as git's check-ref-format allows it, minus what no hub needs.
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
# Transports git reaches over the network or the disk; others (ext::, fd::) run commands.
_GIT_URL = re.compile(r"^(https?|ssh|git|file)://|^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:")


@dataclass(frozen=True, slots=True)
class HubSource:
    """Where a hub's packages come from."""

    channel: str
    url: str
    branch: str | None = None

    @property
    def key(self) -> str:
        """The source's folder name under the data directory's hub folder."""
        raw = "\0".join((self.channel, self.url, self.branch or ""))
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    @property
    def download_param(self) -> str:
        """DB-GPT's ``download_param``: JSON of the branch (``authorization`` is never kept)."""
        return json.dumps({"branch_name": self.branch, "authorization": None})


@dataclass(slots=True)
class HubSync:
    """What a sync did: the entries now indexed for the source, the folders it skipped."""

    source: HubSource
    entries: list[HubEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


_configured: list[HubSource] = []


def configure_hub(source: HubSource | None) -> None:
    """Make ``source`` the hub a sync without one reads (None: the shipped hub)."""
    _configured[:] = [] if source is None else [check_source(source)]


def configured_hub() -> HubSource:
    """The hub a sync without a source reads."""
    return _configured[0] if _configured else HubSource("local", str(DEFAULT_HUB))


def check_source(source: HubSource) -> HubSource:
    """``source`` if the server will read it; :class:`BadHubSource` naming the field."""
    if source.channel not in CHANNELS:
        raise BadHubSource(
            f"unknown hub channel '{source.channel}' (channel); use one of {', '.join(CHANNELS)}",
            field="channel",
        )
    url = source.url.strip()
    if not url:
        raise BadHubSource("name the hub's repository or folder (url)", field="url")
    if url.startswith("-"):
        raise BadHubSource(
            f"'{url}' looks like a command-line option, not a repository (url)", field="url"
        )
    if source.branch is not None and (
        source.branch.startswith("-") or not _BRANCH.match(source.branch) or ".." in source.branch
    ):
        raise BadHubSource(
            f"'{source.branch}' is not a branch name (branch): letters, digits, '.', '_', '/',"
            " '-', not starting with '-'",
            field="branch",
        )
    if source.channel == "local":
        if not Path(url).is_dir():
            raise BadHubSource(f"no folder '{url}' on the server (url)", field="url")
    elif "::" in url or not (_GIT_URL.match(url) or Path(url).is_dir()):
        raise BadHubSource(
            f"'{url}' is not a git repository URL (url): https://, ssh://, git://, file://,"
            " user@host:path, or a folder of the server",
            field="url",
        )
    return HubSource(source.channel, url, source.branch)


async def sync_hub(store: MetadataStore, source: HubSource | None = None) -> HubSync:
    """Copy ``source`` (default: the configured hub) under the data folder, index its
    packages in ``store.agent_hub`` and return what was indexed and skipped."""
    source = check_source(source or configured_hub())
    root = store.data_dir / HUB_DIR
    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    # Named like the published copies but hidden, so a failed sync leaves nothing visible.
    staging = root / f".{source.key}.{uuid.uuid4().hex[:12]}"
    try:
        if source.channel == "git":
            await _clone(source, staging)
            await asyncio.to_thread(_check_size, staging)
        else:
            await asyncio.to_thread(_copy, Path(source.url), staging)
        found, problems = await asyncio.to_thread(_scan, staging)
        published = await asyncio.to_thread(_publish, root, source.key, staging)
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, staging, True)
        raise
    new = [
        NewHubEntry(
            name=m["name"],
            label=m["label"],
            description=m["description"],
            author=m["author"],
            email=m["email"],
            version=m["version"],
            package_dir=f"{HUB_DIR}/{published}/{rel}",
        )
        for rel, m in found
    ]
    entries = await store.agent_hub.replace_source(
        source.channel, source.url, source.download_param, new
    )
    for problem in problems:
        log.warning("agent hub %s: %s", source.url, problem)
    return HubSync(source, entries, problems)


async def hub_package(store: MetadataStore, name: str) -> Path:
    """The synced folder of the hub entry ``name`` (the copy current now, resolved, so a
    later sync does not change it under the caller); :class:`UnknownAgent` when the hub
    has no such entry or its folder is gone."""
    entry = await store.agent_hub.get(name)
    if entry is None:
        raise UnknownAgent(name)
    folder = (store.data_dir / entry.package_dir).resolve()
    if not await asyncio.to_thread(folder.is_dir):
        raise UnknownAgent(name)
    return folder


def read_manifest(path: Path) -> dict[str, str]:
    """The hub's fields of one ``agent.toml`` (an ``[agent]`` table or the top level):
    name, label, version, description, author, email. ValueError says what is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path.name} is not valid TOML: {exc}") from None
    table: Any = data.get("agent", data)
    if not isinstance(table, dict):
        raise ValueError(f"{path.name}: [agent] is not a table")
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"{path.name}: name must be 1-64 of a-z, 0-9, '_', '-', starting with a letter or"
            f" digit (got {name!r})"
        )
    author = table.get("author", "")
    if not author and isinstance(table.get("authors"), list):
        # dbgpts.toml's form: ["Name <email>", ...].
        author = ", ".join(str(a) for a in table["authors"])
    fields = {
        "name": name,
        "label": table.get("label") or name,
        "version": table.get("version", ""),
        "description": table.get("description", ""),
        "author": author,
        "email": table.get("email", ""),
    }
    for key, value in fields.items():
        if not isinstance(value, str):
            raise ValueError(f"{path.name}: {key} must be a string (got {value!r})")
    return fields


async def _clone(source: HubSource, dest: Path) -> None:
    args = [
        "git",
        # ext:: runs a command; symlinks come out as plain files, so none points outside.
        "-c",
        "protocol.ext.allow=never",
        "-c",
        "core.symlinks=false",
        "clone",
        "--quiet",
        "--depth",
        "1",
        "--single-branch",
        "--no-tags",
    ]
    if source.branch:
        args += ["--branch", source.branch]
    # "--" ends the options: whatever follows is a repository and a folder.
    args += ["--", source.url, str(dest)]
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    try:
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
    except FileNotFoundError:
        raise HubSyncFailed("git is not installed on the server; use channel 'local'") from None
    try:
        _, err = await asyncio.wait_for(proc.communicate(), GIT_TIMEOUT_S)
    except (TimeoutError, asyncio.CancelledError) as exc:
        proc.kill()
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        raise HubSyncFailed(
            f"cloning '{source.url}' took more than {GIT_TIMEOUT_S:.0f}s (url)"
        ) from None
    if proc.returncode != 0:
        said = err.decode(errors="replace").strip().splitlines()
        raise HubSyncFailed(
            f"git could not clone '{source.url}'"
            + (f" branch '{source.branch}'" if source.branch else "")
            + f" (url): {said[-1] if said else 'exit ' + str(proc.returncode)}"
        )
    # The history is not part of the hub.
    shutil.rmtree(dest / ".git", ignore_errors=True)


def _check_size(folder: Path) -> None:
    files = size = 0
    for top, _dirs, names in os.walk(folder):
        for name in names:
            files += 1
            size += os.lstat(os.path.join(top, name)).st_size
            if files > MAX_FILES or size > MAX_BYTES:
                raise BadHubSource(_too_big(str(folder)), field="url")


def _too_big(where: str) -> str:
    return (
        f"'{where}' is too big for a hub (url): more than {MAX_FILES} files or"
        f" {MAX_BYTES // (1024 * 1024)} MiB"
    )


def _copy(source: Path, dest: Path) -> None:
    """Copy the folder's files (not .git, not symlinks: a link could point anywhere),
    refusing when it holds more than a hub would."""
    files = size = 0
    source = source.resolve()
    for top, dirs, names in os.walk(source):
        dirs[:] = [d for d in dirs if d != ".git" and not os.path.islink(os.path.join(top, d))]
        target = dest / os.path.relpath(top, source)
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            path = os.path.join(top, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            files += 1
            size += os.path.getsize(path)
            if files > MAX_FILES or size > MAX_BYTES:
                raise BadHubSource(_too_big(str(source)), field="url")
            shutil.copyfile(path, target / name)
    dest.mkdir(parents=True, exist_ok=True)


def _scan(folder: Path) -> tuple[list[tuple[str, dict[str, str]]], list[str]]:
    """Each package folder (relative path, manifest fields), by path; what was skipped."""
    found: list[tuple[str, dict[str, str]]] = []
    problems: list[str] = []
    names: dict[str, str] = {}
    for top, dirs, files in os.walk(folder):
        rel = Path(top).relative_to(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if len(rel.parts) >= MAX_DEPTH:
            dirs[:] = []
        if MANIFEST not in files:
            continue
        # A package holds no other packages: its subfolders are its own.
        dirs[:] = []
        manifest = Path(top) / MANIFEST
        if manifest.is_symlink() or not manifest.is_file():
            problems.append(f"{rel.as_posix()}/{MANIFEST}: not a regular file; skipped")
            continue
        try:
            fields = read_manifest(manifest)
        except ValueError as exc:
            problems.append(f"{rel.as_posix()}/{exc}; skipped")
            continue
        if fields["name"] in names:
            problems.append(
                f"{rel.as_posix()}: the name '{fields['name']}' is already taken by"
                f" {names[fields['name']]}; skipped"
            )
            continue
        names[fields["name"]] = rel.as_posix()
        found.append((rel.as_posix(), fields))
    return found, problems


def _publish(root: Path, key: str, staging: Path) -> str:
    """Move the staged copy to its published name and point ``root/key`` at it in one
    rename; drop copies older than the one it replaced. Returns ``key`` (the link)."""
    version = f"{key}.{uuid.uuid4().hex[:12]}"
    staging.rename(root / version)
    link = root / key
    previous = os.readlink(link) if link.is_symlink() else None
    if link.exists() and not link.is_symlink():
        shutil.rmtree(link)
    tmp = root / f".{key}.link.{uuid.uuid4().hex[:12]}"
    os.symlink(version, tmp)
    os.replace(tmp, link)
    for old in root.glob(f"{key}.*"):
        if old.name not in (version, previous):
            shutil.rmtree(old, ignore_errors=True)
    return key
