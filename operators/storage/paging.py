"""The row offset of a page, safe for every database.

Clients send any page number (the fuzzer sends 2**60); the offset ``(page - 1) * page_size``
must still fit the databases' 64-bit integers, or the driver fails with an overflow before
the query runs. A page past every row is simply empty, so the offset is capped there.
"""

from __future__ import annotations

#: Far beyond any table's rows, and within a signed 64-bit integer.
MAX_OFFSET = 2**62


def page_offset(page: int, page_size: int) -> int:
    """The offset of ``page`` (1-based; below 1 counts as 1) of ``page_size`` rows."""
    return min((max(page, 1) - 1) * max(page_size, 0), MAX_OFFSET)


def page_limit(page_size: int) -> int:
    """``page_size`` as a row limit within the databases' integers."""
    return min(max(page_size, 0), MAX_OFFSET)
