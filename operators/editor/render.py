"""Drawing a chart's Vega-Lite spec on the server, as PNG or SVG (vl-convert).

vl-convert runs Vega's own renderer (embedded, no browser, nothing fetched), so the picture
is exactly what a client drawing the same spec would show. Drawing takes tens of
milliseconds (the first call about a second, to start the renderer) and runs in a worker
thread. Pictures are kept in the data folder by the hash of their spec, so the file
response can name its type by suffix and a chart drawn again is read back instead.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import anyio.to_thread
import vl_convert

from awel.errors import AwelError

__all__ = ["FORMATS", "render_file"]

#: What render can draw, and the suffix the file gets.
FORMATS = ("png", "svg")
#: Pictures kept at most; the oldest go first.
KEEP = 200


class UnknownFormat(AwelError):
    code = "chart.unknown_format"

    def __init__(self, fmt: str) -> None:
        super().__init__(f"format '{fmt}' cannot be drawn; use png or svg", param="format")


def _draw(spec: dict[str, Any], fmt: str) -> bytes:
    if fmt == "svg":
        return vl_convert.vegalite_to_svg(spec).encode()
    return bytes(vl_convert.vegalite_to_png(spec, scale=2))


async def render_file(spec: dict[str, Any], fmt: str, folder: Path) -> Path:
    """The picture of ``spec`` in ``fmt`` (png or svg), as a file under ``folder``."""
    fmt = (fmt or "").lower()
    if fmt not in FORMATS:
        raise UnknownFormat(fmt)
    text = json.dumps(spec, sort_keys=True, ensure_ascii=False, default=str)
    name = hashlib.sha256(text.encode()).hexdigest()[:32]
    path = folder / f"chart-{name}.{fmt}"
    if path.is_file():
        return path
    data = await anyio.to_thread.run_sync(_draw, spec, fmt)
    await anyio.to_thread.run_sync(_write, folder, path, data)
    return path


def _write(folder: Path, path: Path, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_bytes(data)
    partial.replace(path)  # a reader never sees half a picture
    pictures = sorted(folder.glob("chart-*.*"), key=lambda p: p.stat().st_mtime)
    for old in pictures[:-KEEP]:
        old.unlink(missing_ok=True)
