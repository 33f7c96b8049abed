"""Starting the test session's Ray cluster (tests/conftest.py ``ray_cluster``)."""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

#: A node's object store: Ray's floor is about 75 MiB; the machine is shared.
STORE_BYTES = 80 * 2**20


@contextlib.contextmanager
def started() -> Iterator[Any]:
    # Read when ray is imported: every address Ray picks is the loopback one (else it picks
    # the machine's outward address, which the test machines may not route to themselves).
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    # A token for a throwaway cluster on loopback only writes ~/.ray/auth_token.
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'awel[ray]')")
    cluster_utils = importlib.import_module("ray.cluster_utils")
    node = {
        "num_cpus": 1,
        "object_store_memory": STORE_BYTES,
        "node_ip_address": "127.0.0.1",
        "include_dashboard": False,
    }
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args=dict(node))
    try:
        cluster.add_node(**{k: v for k, v in node.items() if k != "include_dashboard"})
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()


@contextlib.contextmanager
def connected(cluster: Any) -> Iterator[None]:
    """This process as the cluster's driver, until the block ends: Ray is on here only
    meanwhile, so other tests see a process without it (ingestion, for one, changes)."""
    ray = importlib.import_module("ray")
    ray.init(address=cluster.address, log_to_driver=False, logging_level="warning")
    try:
        yield
    finally:
        ray.shutdown()
