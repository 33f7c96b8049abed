"""What the flow API's writes do: save, update, delete, roll back, import.

Every write runs under one lock per store, after the store was brought in step with the
flows folder (:func:`.folder.sync`), so a deploy never races another or an unsynced file.
A flow is checked before anything changes: a flow that does not load is refused with
every problem, a flow from the API that imports Python is refused unless allowed
(:mod:`.policy`), and a deploy the server refuses leaves the store and what is served as
they were.

States (DB-GPT's names). Sending ``deployed`` serves the flow and stores it as
``running``; ``running`` is taken as ``deployed``; ``load_failed`` is only set by the
server. From each state a flow may go to:

=================  ===========================================
initializing       developing, testing, deployed, disabled
developing         testing, deployed, disabled
testing            developing, deployed, disabled
running            developing, testing, deployed, disabled
load_failed        developing, testing, deployed, disabled
disabled           developing, deployed
=================  ===========================================

(and to itself). A save naming no state keeps the flow's: a served flow is served in its
new version.
"""

from __future__ import annotations

import asyncio
import json
import uuid
import weakref
from dataclasses import replace
from typing import Any

import yaml
from pydantic import ValidationError

from awel.catalog import installed_folder
from awel.errors import BadRequest
from operators.storage import MetadataStore, current_store
from operators.storage.flows import StoredFlow

from . import deploy
from .checks import category, check_name, load_or_refuse, yaml_name
from .errors import (
    FlowBadState,
    FlowNameTaken,
    FlowNotEditable,
    FlowNotFound,
    FlowUnmappable,
    FlowVersionNotFound,
)
from .flow_data import flow_data_of, yaml_of_flow_data
from .folder import sync
from .package import panel_of_zip
from .panel import FlowPanel, answer, load_quietly
from .policy import check_code, loading_callers_flow
from .requests import FlowUid, ImportForm, Rollback

__all__ = ["create", "delete", "import_flow", "owned", "synced", "update"]

_NEXT = {
    "initializing": {"developing", "testing", "deployed", "disabled"},
    "developing": {"testing", "deployed", "disabled"},
    "testing": {"developing", "deployed", "disabled"},
    deploy.RUNNING: {"developing", "testing", "deployed", "disabled"},
    "load_failed": {"developing", "testing", "deployed", "disabled"},
    "disabled": {"developing", "deployed"},
}
#: The largest flow file an import reads.
MAX_IMPORT = 2 * 1024 * 1024

_locks: weakref.WeakKeyDictionary[MetadataStore, asyncio.Lock] = weakref.WeakKeyDictionary()


def lock(store: MetadataStore) -> asyncio.Lock:
    """The lock every change to ``store``'s flows (and the folder) is made under."""
    found = _locks.get(store)
    if found is None:
        found = _locks[store] = asyncio.Lock()
    return found


async def synced() -> MetadataStore:
    """The store, in step with the flows folder (call under :func:`lock`)."""
    store = current_store()
    await sync(store, installed_folder())
    return store


async def owned(store: MetadataStore, uid: str, user_name: str | None) -> StoredFlow:
    """The flow ``uid``, if the user may see it (their own, or nobody's)."""
    flow = await store.flows.get(uid)
    if flow is None or (user_name and flow.user_name not in (None, user_name)):
        raise FlowNotFound(uid)
    return flow


def _target(current: str | None, sent: str | None, *, on_disk: bool) -> str:
    """The state a save moves the flow to (``deployed``: serve it)."""
    if sent is None:
        if current is None:
            return "initializing"
        return "deployed" if on_disk or current == deploy.RUNNING else current
    if sent == "load_failed":
        raise FlowBadState("load_failed is set by the server, not sent")
    wanted = "deployed" if sent == deploy.RUNNING else sent
    if current is None or current == wanted:
        return wanted
    if current == deploy.RUNNING and wanted == "deployed":
        return wanted
    if wanted not in _NEXT.get(current, set()):
        allowed = ", ".join(sorted(_NEXT.get(current, set())))
        raise FlowBadState(f"a {current} flow cannot become {wanted}; it can become: {allowed}")
    return wanted


def _source(body: FlowPanel, existing: StoredFlow | None) -> tuple[str, str, str]:
    """The flow's YAML, name and label, from what was sent."""
    drawn = body.flow_data.model_dump() if body.flow_data is not None else None
    if body.yaml is not None and not _redrawn(body.yaml, drawn, existing):
        text = body.yaml
        named = yaml_name(text)
        if body.name and named and body.name != named:
            raise BadRequest(
                f"name '{body.name}' differs from the yaml's name '{named}'; send one",
                param="name",
            )
        name = named or body.name or (existing.name if existing else None)
        if not name:
            raise BadRequest("the flow needs a name: 'name:' in its yaml", param="name")
        label = body.label or (existing.label if existing else "") or name
        return text, name, label
    if drawn is not None:
        given, drawn_label = body.name, body.label
        if given and not drawn_label:
            # DB-GPT's rule: a name alone is the label, and the name is made from it.
            drawn_label = given
            given = f"{body.flow_category or 'common'}_{given.replace(' ', '_')}"
        drawn_name = given or (existing.name if existing else None)
        if not drawn_name:
            raise BadRequest("the flow needs a name", param="name")
        check_name(drawn_name)
        text = yaml_of_flow_data(drawn, name=drawn_name, description=body.description)
        return text, drawn_name, drawn_label or drawn_name
    if existing is None:
        return _draft(body)
    if body.name and body.name != existing.name:
        raise BadRequest(
            "to rename a flow, send its yaml (or flow_data) with the new name", param="name"
        )
    return existing.yaml, existing.name, body.label or existing.label


def _draft(body: FlowPanel) -> tuple[str, str, str]:
    """A new flow sent without a definition, as ``dbgpt-client``'s ``create_flow`` sends
    every flow (its ``FlowPanel.to_dict`` leaves ``flow_data`` out): a draft that answers
    its input, to be given its nodes later (a PUT with ``yaml``, the editor, the folder)."""
    given, label = body.name, body.label
    if given and not label:
        # DB-GPT's rule, as for a drawing: a name alone is the label.
        label = given
        given = f"{body.flow_category or 'common'}_{given.replace(' ', '_')}"
    if not given:
        raise BadRequest("send the flow's yaml (or DB-GPT's flow_data)", param="yaml")
    check_name(given)
    head = {"name": given, "description": body.description} if body.description else {"name": given}
    text = (
        "# A draft: sent without a definition, it answers its input. Give it nodes here.\n"
        + yaml.safe_dump(head, sort_keys=False, allow_unicode=True)
        + "trigger: {}\nnodes: {}\nedges: []\n"
    )
    return text, given, label or given


def _redrawn(text: str, drawn: dict[str, Any] | None, existing: StoredFlow | None) -> bool:
    """Whether a client sent the stored YAML back unchanged beside a drawing it edited
    (DB-GPT's web UI sends back every field it read): the drawing is the change then."""
    if drawn is None or existing is None or text != existing.yaml:
        return False
    try:
        before = yaml_of_flow_data(
            flow_data_of(text, load_quietly(text)), name="x", description=None
        )
        after = yaml_of_flow_data(drawn, name="x", description=None)
    except FlowUnmappable:
        return True
    return before != after


async def _prepared(
    store: MetadataStore, body: FlowPanel, existing: StoredFlow | None
) -> StoredFlow:
    """The flow as it would be saved; refused here, before anything changes, when it
    imports code, does not load, or takes another flow's name."""
    text, name, label = _source(body, existing)
    from_caller = existing is None or text != existing.yaml
    if from_caller:
        check_code(text)
    check_name(name)
    if from_caller:
        with loading_callers_flow():
            dag = load_or_refuse(text, deploy.file_name_for(name))
    else:
        dag = load_or_refuse(text, deploy.file_name_for(name))
    others = await store.flows.find(name=name)
    if any(existing is None or f.uid != existing.uid for f in others):
        raise FlowNameTaken(name)
    base = existing or StoredFlow(
        uid=body.uid or str(uuid.uuid4()),
        name=name,
        yaml=text,
        user_name=body.user_name,
        source="DBGPT-WEB" if body.yaml is None else "API",
        define_type="json" if body.yaml is None else "yaml",
    )
    return replace(
        base,
        name=name,
        label=label,
        yaml=text,
        dag_id=dag.dag_id,
        flow_category=category(dag, body.flow_category, base.flow_category),
        description=dag.description or body.description or base.description,
        error_message="",
        source=body.source if body.source is not None else base.source,
        source_url=body.source_url if body.source_url is not None else base.source_url,
        version=body.version or base.version,
        editable=body.editable if body.editable is not None else base.editable,
        sys_code=body.sys_code if body.sys_code is not None else base.sys_code,
        variables=body.variables if body.variables is not None else base.variables,
        authors=body.authors if body.authors is not None else base.authors,
    )


async def _commit(
    store: MetadataStore,
    flow: StoredFlow,
    target: str,
    existing: StoredFlow | None,
    *,
    note: str = "api",
) -> StoredFlow:
    """Serve or stop serving ``flow`` as ``target`` says, then save it; a save that fails
    puts back what was served."""
    if target == "deployed":
        flow = await deploy.serve(store, flow)
    else:
        flow = await deploy.unserve(replace(flow, state=target))
    try:
        if existing is None:
            return await store.flows.create(flow, note=note)
        saved = await store.flows.save(flow, note=note)
        if saved is None:
            raise FlowNotFound(flow.uid)
        return saved
    except BaseException:
        if existing is not None and existing.file_name is not None:
            await deploy.folder().put(existing.file_name, existing.yaml)
        elif flow.file_name is not None:
            await deploy.unserve(flow)
        raise


async def create(body: FlowPanel) -> dict[str, Any]:
    """Save a new flow (``state: deployed`` serves it at once)."""
    store = current_store()
    async with lock(store):
        await synced()
        if body.uid and await store.flows.get(body.uid) is not None:
            raise BadRequest(f"a flow with uid '{body.uid}' exists; PUT to change it", param="uid")
        target = _target(None, body.state, on_disk=False)
        if target == "deployed" and body.yaml is None and body.flow_data is None:
            raise BadRequest(
                "a flow sent without its yaml (or flow_data) is saved as a draft; send"
                " its definition to deploy it",
                param="state",
            )
        flow = await _prepared(store, body, None)
        return answer(await _commit(store, flow, target, None))


async def update(body: FlowPanel) -> dict[str, Any]:
    """Save a new version of a flow; a served flow is served in it at once."""
    store = current_store()
    async with lock(store):
        await synced()
        existing = await owned(store, body.uid or "", body.user_name)
        if not existing.editable:
            raise FlowNotEditable(existing.uid)
        target = _target(existing.state, body.state, on_disk=existing.file_name is not None)
        flow = await _prepared(store, body, existing)
        return answer(await _commit(store, flow, target, existing))


async def delete(body: FlowUid) -> dict[str, Any]:
    """Stop serving a flow and forget it, with its versions; answers the flow as it was."""
    store = current_store()
    async with lock(store):
        await synced()
        existing = await owned(store, body.uid, body.user_name)
        await deploy.unserve(existing)
        await store.flows.delete(existing.uid)
        return answer(existing)


async def rollback(body: Rollback) -> dict[str, Any]:
    """Make version ``body.version`` the flow's current one, as a new version; a served
    flow is served in it at once."""
    store = current_store()
    async with lock(store):
        await synced()
        existing = await owned(store, body.uid, body.user_name)
        if not existing.editable:
            raise FlowNotEditable(existing.uid)
        old = await store.flows.version(existing.uid, body.version)
        if old is None:
            raise FlowVersionNotFound(existing.uid, body.version)
        on_disk = existing.file_name is not None
        target = _target(existing.state, None, on_disk=on_disk)
        # The version was accepted once (or written on disk): its imports are not re-judged.
        text = old.yaml
        name = yaml_name(text) or existing.name
        check_name(name)
        dag = load_or_refuse(text, deploy.file_name_for(name))
        flow = replace(
            existing,
            yaml=text,
            name=name,
            dag_id=dag.dag_id,
            description=dag.description or existing.description,
            error_message="",
        )
        saved = await _commit(store, flow, target, existing, note=f"rollback:{body.version}")
        return answer(saved)


async def import_flow(body: ImportForm) -> dict[str, Any]:
    """A flow exported as JSON or as a dbgpts package (a ``.zip``): checked and answered,
    or saved with ``save_flow``."""
    upload = body.file
    if upload.size > MAX_IMPORT:
        raise BadRequest(f"the file is over {MAX_IMPORT} bytes", param="file")
    if upload.filename.lower().endswith(".zip"):
        panel = panel_of_zip(upload.data, MAX_IMPORT)
    else:
        panel = _panel_of_json(upload.data)
    panel = panel.model_copy(update={"user_name": body.user_name, "sys_code": body.sys_code})
    store = current_store()
    if not body.save_flow:
        async with lock(store):
            await synced()
            return answer(await _prepared(store, panel, None))
    if panel.uid and await store.flows.get(panel.uid) is not None:
        panel = panel.model_copy(update={"uid": None})  # imported again: a flow of its own
    if panel.state in ("running", "load_failed"):
        panel = panel.model_copy(update={"state": "deployed" if panel.state == "running" else None})
    return await create(panel)


def _panel_of_json(raw: bytes) -> FlowPanel:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"the file is not JSON: {exc}", param="file") from None
    if not isinstance(data, dict) or not isinstance(data.get("flow"), dict):
        raise BadRequest("the file needs a top-level 'flow' object", param="file")
    try:
        panel = FlowPanel.model_validate(data["flow"])
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise BadRequest(f"file: flow.{where}: {err['msg']}", param="file") from None
    return panel
