"""Every repository pages through one helper, so no page number overflows a database."""

from __future__ import annotations

import re
from pathlib import Path

from operators.storage.paging import MAX_OFFSET, page_limit, page_offset

STORAGE = Path(__file__).resolve().parents[2] / "operators" / "storage"


def test_offsets_and_limits_stay_within_64_bit_integers() -> None:
    assert page_offset(1, 20) == 0 and page_offset(3, 20) == 40
    assert page_offset(0, 20) == 0 and page_offset(-5, 20) == 0
    assert page_offset(2**80, 2**40) == MAX_OFFSET < 2**63
    assert page_limit(2**80) == MAX_OFFSET and page_limit(-1) == 0


def test_every_repository_pages_through_the_helper() -> None:
    # The fuzzer found two repositories computing (page - 1) * page_size themselves.
    found = []
    for path in sorted(STORAGE.glob("*.py")):
        for match in re.finditer(r"\.(offset|limit)\(([^)]*)\)", path.read_text()):
            if not match.group(2).startswith(("page_offset(", "page_limit(")):
                found.append(f"{path.name}: {match.group(0)}")
    assert found == []
