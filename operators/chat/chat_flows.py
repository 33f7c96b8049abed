"""The flow chat_flow runs: named by its id (the YAML ``name``), or by the ``uid`` the flow
API gave it, which is what DB-GPT's web UI sends as ``select_param``."""

from __future__ import annotations

from awel import DAG
from awel.catalog import find_flow
from operators.storage import current_store

__all__ = ["chat_flow"]


async def chat_flow(select_param: str) -> DAG | None:
    """The served flow ``select_param`` names (id first, then a saved flow's uid), or None."""
    dag = find_flow(select_param)
    if dag is not None:
        return dag
    stored = await current_store().flows.get(select_param)
    # A draft is not served: find_flow answers only for deployed ones.
    return find_flow(stored.name) if stored is not None else None
