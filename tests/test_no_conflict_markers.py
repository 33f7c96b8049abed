"""No merge leaves its conflict markers behind (one did, in bench/RESULTS.md)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_MARKER = re.compile(r"^(<{7} |>{7} |={7}$)", re.MULTILINE)


def test_no_tracked_file_holds_a_conflict_marker() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    found = []
    for name in filter(None, tracked):
        path = ROOT / name.decode()
        if path.suffix not in {".py", ".md", ".toml", ".yaml", ".yml", ".txt", ".j2", ".cfg"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [f"{name.decode()}: {m.group(0)!r}" for m in _MARKER.finditer(text)]
    assert found == []
