"""Flows by id: the flows a running flow may call by name.

A flow that calls another one chosen by the request (DB-GPT's chat_flow scene runs the flow
its ``select_param`` names) must not reach into whoever loaded the flows. The engine holds
the interface; the server installs its set of user flows at start-up
(:func:`install_flows`), and the caller asks :func:`find_flow`. Installed process-wide,
like the model set and the metadata store: every request of the app sees the same flows,
and a reload of the user's flows is seen at once because the set itself answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .dag import DAG
    from .errors import Problem

__all__ = [
    "Caller",
    "FlowFolder",
    "FlowMounts",
    "FlowsById",
    "Guard",
    "find_flow",
    "install_flows",
    "install_folder",
    "install_mounts",
    "installed_flows",
    "installed_folder",
    "installed_mounts",
]


class FlowsById(Protocol):
    """Whatever knows the flows that may be called by id."""

    def flow(self, flow_id: str) -> DAG | None:
        """The flow whose id is ``flow_id``, or None when there is none to call."""
        ...


_installed: FlowsById | None = None


def install_flows(flows: FlowsById | None) -> FlowsById | None:
    """Make ``flows`` the flows callable by id (None: none); returns the ones it replaces."""
    global _installed
    previous, _installed = _installed, flows
    return previous


def installed_flows() -> FlowsById | None:
    return _installed


def find_flow(flow_id: str) -> DAG | None:
    """The callable flow whose id is ``flow_id``; None when none is, or nothing is installed."""
    flows = _installed
    return flows.flow(flow_id) if flows is not None else None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sends a request to a mounted flow, as far as a guard may look: its headers and
    query, read before the body is (a guard refuses without reading what was sent)."""

    headers: Mapping[str, str]
    query: Mapping[str, str]


#: Decides whether a caller may run a mounted group's flows: returns to let it, raises an
#: :class:`~awel.errors.AwelError` (answered as that error) to refuse.
Guard = Callable[[Caller], Awaitable[None]]


class FlowMounts(Protocol):
    """Whatever serves flows at their triggers' routes and lets the domain add some while
    it runs (installed agents): the server installs one (:func:`install_mounts`)."""

    async def mount(self, group: str, dags: Sequence[DAG], *, guard: Guard | None = None) -> None:
        """Serve ``dags`` (replacing the group's earlier ones); refuses a route taken. With
        ``guard``, every request to them is first asked of it."""
        ...

    async def unmount(self, group: str) -> None:
        """Stop serving the group's flows; requests already answering finish."""
        ...


_mounts: FlowMounts | None = None


def install_mounts(mounts: FlowMounts | None) -> FlowMounts | None:
    """Make ``mounts`` where flows are mounted (None: nowhere); returns the one it replaces."""
    global _mounts
    previous, _mounts = _mounts, mounts
    return previous


def installed_mounts() -> FlowMounts | None:
    """Where flows are mounted; None outside a server (flows then load but are not served)."""
    return _mounts


class FlowFolder(Protocol):
    """The user's flows folder, as the server serves it: the flow API deploys a flow by
    writing its file there (:mod:`operators.userflows`), so a flow is served once, whether
    it came from the API or from an editor on disk. The server installs one
    (:func:`install_folder`)."""

    @property
    def path(self) -> Path:
        """The folder."""
        ...

    async def put(self, file_name: str, text: str | None) -> list[Problem]:
        """Write ``text`` as the folder's file ``file_name`` (None: remove it) and serve the
        folder anew, in one step. When the server would not serve the file as written (a
        route another flow serves, a path outside the trigger prefix), the file is put back
        as it was, what is served does not change, and the problems are returned. Requests
        already answering finish on the flows they started with."""
        ...

    def problems(self) -> dict[str, list[Problem]]:
        """What the server found wrong with each file of the folder when it last read it."""
        ...


_folder: FlowFolder | None = None


def install_folder(folder: FlowFolder | None) -> FlowFolder | None:
    """Make ``folder`` the served flows folder (None: none); returns the one it replaces."""
    global _folder
    previous, _folder = _folder, folder
    return previous


def installed_folder() -> FlowFolder | None:
    """The flows folder a server serves; None outside a server (flows cannot be deployed)."""
    return _folder
