"""Flows by id: the flows a running flow may call by name.

A flow that calls another one chosen by the request (DB-GPT's chat_flow scene runs the flow
its ``select_param`` names) must not reach into whoever loaded the flows. The engine holds
the interface; the server installs its set of user flows at start-up
(:func:`install_flows`), and the caller asks :func:`find_flow`. Installed process-wide,
like the model set and the metadata store: every request of the app sees the same flows,
and a reload of the user's flows is seen at once because the set itself answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .dag import DAG

__all__ = ["FlowsById", "find_flow", "install_flows", "installed_flows"]


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
