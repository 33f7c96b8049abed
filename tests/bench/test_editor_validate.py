"""bench/editor_validate.py: its 50-node flow is valid and has 50 nodes in the drawing."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.editor_validate import flow_yaml  # noqa: E402
from operators.userflows.validate import check_flow_yaml  # noqa: E402


def test_the_benchmark_flow_is_valid_with_fifty_nodes() -> None:
    check = check_flow_yaml(flow_yaml(50))
    assert check.ok, check.problems
    assert len(check.graph["nodes"]) == 50
    assert len(check.graph["edges"]) == 49
