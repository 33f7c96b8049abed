"""What the webserver's model-management routes do, over the whole cluster.

Each answer is built from the registry (which instances exist, which managers run where)
and from the worker managers themselves: this process's own one is called in-process, any
other through its ``/api/worker/*`` routes.
"""

from __future__ import annotations

import json
from typing import Any

from .client import ClusterError, WorkerClient
from .errors import RemoteRefused
from .state import Cluster
from .types import MANAGER_KEY, SupportedModel, WorkerStartupRequest, split_key
from .worker import WorkerManager

__all__ = ["model_list", "model_names", "start_model", "stop_model", "supported_models"]

#: DB-GPT leaves these internal proxies out of the UI's model dropdown.
_HIDDEN = frozenset({"codegpt_proxyllm", "text2sql_proxyllm"})


async def model_names(cluster: Cluster) -> list[str]:
    """Names of the language models with a healthy instance (``/api/v1/model/types``)."""
    names: dict[str, None] = {}
    for inst in await cluster.registry.instances(healthy_only=True):
        model, wtype = split_key(inst.model_name)
        if wtype == "llm" and model not in _HIDDEN:
            names[model] = None
    return list(names)


async def model_list(cluster: Cluster) -> list[dict[str, Any]]:
    """Every registered model instance, as DB-GPT's UI lists them (both field names)."""
    instances = await cluster.registry.instances()
    managers = [i for i in instances if i.model_name == MANAGER_KEY]
    out = []
    for inst in instances:
        if inst.model_name == MANAGER_KEY:
            continue
        model, wtype = split_key(inst.model_name)
        # DB-GPT pairs a model with the manager on its host; with several managers on one
        # host (workers side by side on loopback) the one at the model's own port is it.
        same_host = [m for m in managers if m.host == inst.host]
        manager = next((m for m in same_host if m.port == inst.port), None) or next(
            iter(same_host), None
        )
        out.append(
            {
                "model_name": model,
                "worker_type": wtype,
                "model_type": wtype,
                "host": inst.host,
                "port": inst.port,
                "manager_host": manager.host if manager else "",
                "manager_port": manager.port if manager else -1,
                "healthy": inst.healthy,
                "check_healthy": inst.check_healthy,
                "prompt_template": inst.prompt_template,
                "last_heartbeat": inst.last_heartbeat,
            }
        )
    return out


async def supported_models(cluster: Cluster) -> list[dict[str, Any]]:
    """What every worker manager could start, one flat record per model and manager."""
    found: list[SupportedModel] = []
    seen: set[tuple[str, int]] = set()
    local = cluster.manager
    if local is not None:
        found.extend(local.supported())
        seen.add((local.host, local.port))
    for inst in await cluster.registry.instances(MANAGER_KEY, healthy_only=True):
        if (inst.host, inst.port) in seen:
            continue
        seen.add((inst.host, inst.port))
        client = WorkerClient(inst.address, cluster.http())
        try:
            groups = await client.call("models/supports", None, method="GET")
        except ClusterError:
            continue  # a manager that just died is not worth failing the page for
        for group in groups or []:
            for model in group.get("models", []):
                found.append(SupportedModel.model_validate(model))
    return [m.model_dump(mode="json") for m in found]


async def _on_manager(cluster: Cluster, body: WorkerStartupRequest, action: str) -> bool:
    target = await cluster.manager_at(body.host, body.port)
    if isinstance(target, WorkerManager):
        await (target.startup(body) if action == "startup" else target.shutdown(body))
        return True
    try:
        await target.call(f"models/{action}", body.model_dump(mode="json"))
    except ClusterError as exc:
        raise RemoteRefused(_remote_message(exc), status=exc.status) from None
    return True


def _remote_message(exc: ClusterError) -> str:
    # A remote manager answers DB-GPT's envelope; its err_msg is the part worth showing.
    text = str(exc)
    _, _, body = text.partition(": ")
    try:
        parsed = json.loads(body)
    except ValueError:
        return text
    if isinstance(parsed, dict) and isinstance(parsed.get("err_msg"), str):
        return str(parsed["err_msg"])
    return text


async def start_model(cluster: Cluster, body: WorkerStartupRequest) -> bool:
    """Start the model on the manager at ``body.host:body.port``."""
    return await _on_manager(cluster, body, "startup")


async def stop_model(cluster: Cluster, body: WorkerStartupRequest) -> bool:
    """Stop the model on the manager at ``body.host:body.port``."""
    return await _on_manager(cluster, body, "shutdown")
