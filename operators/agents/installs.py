"""Installing agents per user, and serving the installed ones.

An agent's files live once, in ``<data_dir>/agents/<name>/``, whoever installed it; the
store keeps who did (``store.agent_installs``). Its flows are mounted while at least one
user has it installed, through the mounts the server installs (:mod:`awel.catalog`), and
unmounted when the last one uninstalls: the route table is swapped, so requests already
answering finish on the flows they started with.

An install checks everything before it writes: trust first (code from an untrusted source
is refused before any byte lands), then every flow. Files are written to a staging folder
and moved into place in one rename, so a refused or failed install leaves the agents
folder as it was.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from awel.catalog import Caller, Guard, installed_mounts
from awel.dag import DAG
from awel.errors import AwelError, Problem, SourceLocation
from operators.storage import MetadataStore
from operators.storage.agent_installs import DEFAULT_USER, AgentInstall

from .checks import check_trust, forget_code, load_agent_flows, move_code
from .errors import AgentInvalid, AgentNotInstalled, PackageRefused
from .package import AgentPackage, Limits, read_package

__all__ = ["Agents", "MountedAgent", "agents_running", "current_agents", "default_user"]

log = logging.getLogger("awel.agents")

#: The user of a request that names none (DB-GPT's plugin routes say "default").
_DIGEST_FILE = ".awel-digest"


def default_user(user: str | None) -> str:
    return user.strip() if user and user.strip() else DEFAULT_USER


def digest(package: AgentPackage) -> str:
    """The package's content, as one hash: the same agent installed twice is one agent."""
    h = hashlib.sha256()
    for path in sorted(package.files):
        h.update(path.encode() + b"\0" + hashlib.sha256(package.files[path]).digest())
    return h.hexdigest()


@dataclass
class MountedAgent:
    """An installed agent's flows, loaded and served."""

    package: AgentPackage
    dags: list[DAG]
    #: The flow chat_agent runs.
    entry: DAG


class Agents:
    """The agents of one server: installing, uninstalling, and the flows of those installed."""

    def __init__(
        self,
        store: MetadataStore,
        root: Path,
        *,
        trusted: Sequence[str] = (),
        limits: Limits | None = None,
        params: Mapping[str, Mapping[str, Any]] | None = None,
        trusted_keys: Sequence[str] = (),
    ) -> None:
        self.store = store
        self.root = root
        self.trusted = tuple(trusted)
        #: Public keys whose signatures make a package's code trusted (the signing module).
        self.trusted_keys = tuple(trusted_keys)
        self.limits = limits or Limits()
        #: The server's values of agents' parameters, by agent (the agent_params setting).
        self.params = dict(params or {})
        self.mounted: dict[str, MountedAgent] = {}
        # One install or uninstall at a time: each reads then changes the folder and mounts.
        self._lock = asyncio.Lock()

    def folder(self, name: str) -> Path:
        return self.root / name

    async def install(self, package: AgentPackage, *, user: str, source: str) -> AgentInstall:
        """Install ``package`` for ``user``; refuses untrusted code, invalid flows, or a name
        another user installed with other content. Nothing is written when it refuses."""
        manifest = package.manifest
        trusted = check_trust(package, source, self.trusted, self.trusted_keys)
        async with self._lock:
            target = self.folder(manifest.name)
            content = digest(package)
            current = _read_digest(target)
            if current is not None and current != content:
                others = [
                    i
                    for i in await self.store.agent_installs.list(name=manifest.name)
                    if i.user_name != user
                ]
                if others:
                    raise PackageRefused(
                        f"an agent named '{manifest.name}' with other content is installed by"
                        " another user; choose another name",
                        param=None,
                    )
            if current != content:
                await self._replace(package, content, trusted=trusted)
            elif manifest.name not in self.mounted:
                await self._mount(package, target, trusted=trusted)
            before = await self.store.agent_installs.users_of(manifest.name)
            done = await self.store.agent_installs.put(
                user,
                manifest.name,
                label=manifest.label,
                version=manifest.version,
                description=manifest.description,
                source=source,
                file_name=f"{manifest.name}-{manifest.version}",
            )
            # The hub's `installed` counts the users who have the agent.
            after = await self.store.agent_installs.users_of(manifest.name)
            await self.store.agent_hub.count_install(manifest.name, after - before)
            return done

    async def _replace(self, package: AgentPackage, content: str, *, trusted: bool) -> None:
        name = package.manifest.name
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".staging-{uuid.uuid4().hex}"
        try:
            if package.code_files:
                # Trusted code: Python flows import from their files, so stage them first.
                _write(staging, package, content)
                dags = load_agent_flows(package, staging, self.params.get(name), trusted=True)
            else:
                dags = load_agent_flows(package, None, self.params.get(name), trusted=trusted)
                _write(staging, package, content)
            mounted = _mounted(package, dags)
            target = self.folder(name)
            old = self.root / f".old-{uuid.uuid4().hex}"
            if target.exists():
                os.replace(target, old)
            os.replace(staging, target)
            if package.code_files:
                move_code(name, target)
            try:
                await self._serve(name, mounted)
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                if old.exists():
                    os.replace(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    async def _mount(self, package: AgentPackage, folder: Path, *, trusted: bool) -> None:
        configured = self.params.get(package.manifest.name)
        dags = load_agent_flows(package, folder, configured, trusted=trusted)
        await self._serve(package.manifest.name, _mounted(package, dags))

    async def _serve(self, name: str, mounted: MountedAgent) -> None:
        mounts = installed_mounts()
        if mounts is not None:
            await mounts.mount(group_of(name), mounted.dags, guard=self._installed_by(name))
        self.mounted[name] = mounted

    def _installed_by(self, name: str) -> Guard:
        """The agent's routes answer only users who installed it, as chat_agent does: the
        caller is the ``user-id`` header, else the ``user`` or ``user_name`` query
        parameter, else the default user. (API keys, when set, are checked before this.)"""

        async def guard(caller: Caller) -> None:
            user = default_user(
                caller.headers.get("user-id")
                or caller.query.get("user")
                or caller.query.get("user_name")
            )
            if await self.store.agent_installs.get(user, name) is None:
                raise AgentNotInstalled(name, user, param="user")

        return guard

    async def uninstall(self, name: str, *, user: str) -> None:
        """Remove the user's install; the agent's flows and files go with the last one."""
        async with self._lock:
            if not await self.store.agent_installs.delete(user, name):
                raise AgentNotInstalled(name, user)
            await self.store.agent_hub.count_install(name, -1)
            if await self.store.agent_installs.users_of(name):
                return
            self.mounted.pop(name, None)
            mounts = installed_mounts()
            if mounts is not None:
                await mounts.unmount(group_of(name))
            forget_code(name)
            shutil.rmtree(self.folder(name), ignore_errors=True)

    async def entry_flow(self, name: str, *, user: str) -> DAG:
        """The flow chat_agent runs for ``user``'s install of ``name``."""
        install = await self.store.agent_installs.get(user, name)
        mounted = self.mounted.get(name)
        if install is None or mounted is None:
            raise AgentNotInstalled(name, user, param="select_param")
        return mounted.entry

    async def mount_installed(self) -> None:
        """Serve every agent someone installed (at start-up); one that no longer loads or
        is no longer trusted is logged and left unmounted, the others serve."""
        names = sorted({i.name: i.source for i in await self.store.agent_installs.list()}.items())
        for name, source in names:
            try:
                package = read_package(self.folder(name), self.limits)
                trusted = check_trust(package, source, self.trusted, self.trusted_keys)
                await self._mount(package, self.folder(name), trusted=trusted)
            except AwelError as exc:
                log.error("agent '%s' not mounted: %s", name, exc.message)


def group_of(name: str) -> str:
    """The mount group of an agent's flows."""
    return f"agent:{name}"


def _mounted(package: AgentPackage, dags: dict[str, list[DAG]]) -> MountedAgent:
    entry_dags = dags.get(package.manifest.entry) or []
    if not entry_dags:
        where = SourceLocation(f"{package.manifest.name}/{package.manifest.entry}")
        problem = Problem("agent.entry", "the entry file defines no flow", where)
        raise AgentInvalid(package.manifest.name, [problem])
    return MountedAgent(package, [d for ds in dags.values() for d in ds], entry_dags[0])


def _write(folder: Path, package: AgentPackage, content: str) -> None:
    for path, data in package.files.items():
        out = folder / path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    (folder / _DIGEST_FILE).write_text(content)


def _read_digest(folder: Path) -> str | None:
    try:
        return (folder / _DIGEST_FILE).read_text().strip()
    except OSError:
        return None


_current: Agents | None = None


def current_agents() -> Agents:
    """The server's agents (installed by :func:`agents_running`)."""
    if _current is None:
        raise AwelError("agents are not available: no server started them", code="agent.off")
    return _current


@asynccontextmanager
async def agents_running(
    store: MetadataStore,
    root: Path,
    *,
    trusted: Sequence[str] = (),
    limits: Limits | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    trusted_keys: Sequence[str] = (),
) -> AsyncIterator[Agents]:
    """The agents of ``store``, installed process-wide and their flows mounted, while the
    block runs."""
    global _current
    agents = Agents(
        store, root, trusted=trusted, limits=limits, params=params, trusted_keys=trusted_keys
    )
    previous, _current = _current, agents
    try:
        await agents.mount_installed()
        yield agents
    finally:
        _current = previous
