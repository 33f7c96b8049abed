"""Deploying a user flow: its file written into the user's flows folder, served at once.

The folder and the API are one set, and the server already serves the folder's files, so
a deployed flow *is* its file: deploying writes it and has the server read the folder
again before answering (:class:`awel.catalog.FlowFolder`), undeploying removes it. A flow
is never served twice, and a file the server refuses (a route another flow serves) is
put back as it was, so what is served does not change. Drafts live in the store only.
"""

from __future__ import annotations

from dataclasses import replace

from awel.catalog import FlowFolder, installed_folder
from operators.storage import MetadataStore
from operators.storage.flows import StoredFlow

from .errors import FlowNameTaken, FlowRefused, FlowsUnavailable

__all__ = ["RUNNING", "file_name_for", "folder", "serve", "unserve"]

#: The state of a flow its trigger serves (DB-GPT's, once a deployed flow is registered).
RUNNING = "running"


def folder() -> FlowFolder:
    """The served flows folder; :class:`FlowsUnavailable` outside a server."""
    found = installed_folder()
    if found is None:
        raise FlowsUnavailable()
    return found


def file_name_for(name: str) -> str:
    """The file of a flow named ``name`` (a checked name: no separators, no leading dot)."""
    return f"{name}.yaml"


async def serve(store: MetadataStore, flow: StoredFlow) -> StoredFlow:
    """Serve ``flow``'s YAML at its trigger, replacing the version served before (requests
    in flight finish on it); the flow as it is now, ``running`` with its file."""
    where = folder()
    file_name = flow.file_name or file_name_for(flow.name)
    target = where.path / file_name
    if target.parent != where.path or target.name != file_name:
        raise FlowNameTaken(flow.name)
    others = [f for f in await store.flows.find(file_name=file_name) if f.uid != flow.uid]
    # A file there that is not this flow's (one the folder sync skipped, a symlink): never
    # overwrite it.
    if others or (flow.file_name is None and (target.exists() or target.is_symlink())):
        raise FlowNameTaken(flow.name)
    problems = await where.put(file_name, flow.yaml)
    if problems:
        raise FlowRefused(problems)
    return replace(flow, file_name=file_name, state=RUNNING, error_message="")


async def unserve(flow: StoredFlow) -> StoredFlow:
    """Stop serving ``flow`` (its file removed); requests in flight finish."""
    if flow.file_name is None:
        return flow
    await folder().put(flow.file_name, None)
    return replace(flow, file_name=None)
