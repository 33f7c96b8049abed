"""Smoke test of bench/engine.py: each scenario, tiny, gives the same result as its plain
Python form. Correctness only; nothing here looks at timings."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import engine  # noqa: E402

CASES: dict[str, tuple[Callable[[], engine.Scenario], object]] = {
    "chain-1": (lambda: engine.chain(1), 1),
    "chain-10": (lambda: engine.chain(10), 10),
    # Well past the depth where a recursive runner overflows the stack.
    "chain-2000": (lambda: engine.chain(2000), 2000),
    "fan-out-4": (lambda: engine.fan_out(4), sum(1 + k for k in range(4))),
    "stream-1": (lambda: engine.stream(1), [3]),
    "stream-5": (lambda: engine.stream(5), [3, 4, 5, 6, 7]),
    "stream-0": (lambda: engine.stream(0), []),
    "concurrent-4x3": (lambda: engine.concurrent(4, 3), [3, 4, 5, 6]),
    "sleep-3": (lambda: engine.sleep_branches(3, 0.0), sum(1 + k for k in range(3))),
    # 0 -> a 1 -> b 2, c 3 -> d 5 -> a 6 -> b 7, c 8 -> d 15
    "diamonds-2": (lambda: engine.diamonds(2), 15),
    "diamonds-20": (lambda: engine.diamonds(20), None),
    # 2 * 3.5 = 7.0, * 1.25 = 8.75
    "yaml-shape-10": (engine.yaml_shape, "total: 8.75 EUR"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_engine_and_plain_agree(case: str) -> None:
    make, expected = CASES[case]
    scenario = make()
    plain = await scenario.plain()
    if expected is not None:
        assert plain == expected
    assert scenario.engines
    for form, run in scenario.engines.items():
        assert await run() == plain, form
        # A second call reuses the compiled plan; it must give the same answer.
        assert await run() == plain, form


def test_harness_runs_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--quick", "--rounds", "1", "--round-time", "0.0005", "--json"]
    argv += ["--long-chain", "200", "--stream-items", "20"]
    assert engine.main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    names = [row["name"] for row in out["results"]]
    for name in (
        "chain-100",
        "fan-out-16",
        "stream-20 [iter]",
        "stream-20 [await]",
        "yaml-shape-10",
    ):
        assert name in names
    assert any(name.startswith("scaling") for name in names)
    assert out["meta"]["rounds"] == 1
