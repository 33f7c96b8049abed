"""The user's flows folder and the store as one set.

Files in the folder are the deployed flows (:mod:`.deploy`), and an editor on disk may add,
change or remove them while the server runs. Before the flow API reads or writes, it
brings the store in step with the folder (:func:`sync`): a new file becomes a flow (or
deploys the draft of the same name), a changed file is a new version of its flow (state
``running``, or ``load_failed`` with its problems), a removed file leaves its flow as a
draft, ``disabled``, with its versions. Only YAML files take part; Python flow files are
served but are not in the API.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from pathlib import Path

import anyio.to_thread

from awel import loader
from awel.catalog import FlowFolder
from awel.errors import Problem
from operators.storage import MetadataStore
from operators.storage.flows import StoredFlow

from .checks import category, load, yaml_name
from .deploy import RUNNING
from .panel import MAX_YAML

__all__ = ["FILE_SOURCE", "sync"]

log = logging.getLogger("awel.userflows")

#: The ``source`` of a flow first found as a file in the folder.
FILE_SOURCE = "file"
_YAML = (".yaml", ".yml")


def read_folder(path: Path) -> dict[str, str]:
    """The folder's YAML flow files by name; one too large or not UTF-8 is logged, left out."""
    out: dict[str, str] = {}
    files = loader.flow_files(path, recursive=False) if path.is_dir() else []
    for f in files:
        if f.suffix not in _YAML or not f.is_file():
            continue
        try:
            if f.stat().st_size > MAX_YAML:
                log.warning("flow file %s is over %d bytes: not in the flow API", f, MAX_YAML)
                continue
            out[f.name] = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("flow file %s not read for the flow API: %s", f, exc)
    return out


async def sync(store: MetadataStore, folder: FlowFolder | None) -> None:
    """Bring the store's flows in step with the folder's files (none: nothing to do)."""
    if folder is None:
        return
    files = await anyio.to_thread.run_sync(read_folder, folder.path)
    served = folder.problems()
    tracked = {f.file_name: f for f in await store.flows.with_files() if f.file_name}
    for file_name, text in sorted(files.items()):
        row = tracked.pop(file_name, None)
        refused = served.get(file_name, [])
        if row is not None and row.yaml == text and (row.state != RUNNING or not refused):
            continue
        await _take(store, file_name, text, row, refused)
    for row in tracked.values():
        gone = f"its file {row.file_name} was removed from the flows folder"
        await store.flows.save(
            replace(row, file_name=None, state="disabled", error_message=gone), note="file"
        )


async def _take(
    store: MetadataStore,
    file_name: str,
    text: str,
    row: StoredFlow | None,
    refused: list[Problem],
) -> None:
    dag, problems = load(text, file_name)
    problems += [p for p in refused if p not in problems]
    name = dag.dag_id if dag is not None else (yaml_name(text) or Path(file_name).stem)
    if row is None:
        drafts = [f for f in await store.flows.find(name=name) if f.file_name is None]
        row = drafts[0] if drafts else None
    state = "load_failed" if problems else RUNNING
    error = "\n".join(str(p) for p in problems)
    description = (dag.description if dag is not None else None) or ""
    if row is None:
        flow = StoredFlow(
            uid=str(uuid.uuid4()),
            name=name,
            label=name,
            yaml=text,
            dag_id=name,
            flow_category=category(dag),
            description=description,
            state=state,
            error_message=error,
            source=FILE_SOURCE,
            define_type="yaml",
            file_name=file_name,
        )
        await store.flows.create(flow, note="file")
        return
    await store.flows.save(
        replace(
            row,
            name=name,
            yaml=text,
            dag_id=name,
            flow_category=category(dag, row.flow_category),
            description=description or row.description,
            state=state,
            error_message=error,
            file_name=file_name,
        ),
        note="file",
    )
