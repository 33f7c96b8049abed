"""``file.read``: a file from the server's data directory, as text, JSON or bytes.

The path (the ``path`` parameter, else the input) is relative to the data directory (the
``data_dir`` setting; the metadata store's folder). It is resolved with symlinks followed
and must stay inside that directory: ``../``, an absolute path elsewhere or a link out are
refused, and so are the server's own secrets there (its key and salt, the metadata
database, which holds datasource passwords), anything that is not a regular file, and files
over ``max_bytes``.

    nodes:
      notes: {op: file.read, params: {path: "notes/faq.md"}}
      config: {op: file.read, params: {format: json}}   # the input names the file
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread
from pydantic import Field

from awel import MapOperator
from awel.builtin import fields_of
from awel.errors import AwelError
from awel.registry import OperatorParams

from ..storage import current_store
from ..storage.secrets import KEY_FILE, SALT_FILE
from ..storage.store import DEFAULT_DB_FILE

__all__ = [
    "FileNotFound",
    "FileRead",
    "FileReadParams",
    "FileRefused",
    "FileTooLarge",
    "FileUnreadable",
    "read_inside",
]

#: Files of the data directory no flow may read: what keeps the server's secrets.
PRIVATE = frozenset(
    {KEY_FILE, SALT_FILE, DEFAULT_DB_FILE, f"{DEFAULT_DB_FILE}-wal", f"{DEFAULT_DB_FILE}-shm"}
    | {f"{DEFAULT_DB_FILE}-journal"}
)


class FileRefused(AwelError):
    """The path leads outside the data directory, or to a file flows may not read."""

    code = "file.refused"

    def __init__(self, message: str) -> None:
        super().__init__(message, param="path")


class FileNotFound(AwelError):
    code = "file.not_found"

    def __init__(self, message: str) -> None:
        super().__init__(message, param="path")


class FileTooLarge(AwelError):
    code = "file.too_large"


class FileUnreadable(AwelError):
    """The file is not text in the encoding given, or not JSON."""

    code = "file.unreadable"


class FileReadParams(OperatorParams):
    """Which file, and how to read it."""

    path: str | None = Field(
        None,
        description="The file, relative to the data directory; unset: the input (a string,"
        " or a dict's 'path').",
    )
    format: Literal["text", "json", "bytes"] = Field(
        "text", description="text: a string; json: the parsed value; bytes: raw."
    )
    encoding: str = Field("utf-8", description="The text encoding (text and json).")
    max_bytes: int = Field(1 << 20, ge=1, le=64 << 20, description="The largest file read, bytes.")


def read_inside(root: Path, given: str, max_bytes: int) -> bytes:
    """The bytes of ``given`` under ``root``, refusing anything that leaves it (blocking)."""
    base = root.resolve()
    try:
        path = (base / given).resolve(strict=True)
    except FileNotFoundError:
        raise FileNotFound(f"no file '{given}' in the data directory") from None
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
        raise FileRefused(f"'{given}' cannot be resolved: {exc}") from None
    if not path.is_relative_to(base):
        raise FileRefused(f"'{given}' is outside the data directory")
    if path.parent == base and path.name in PRIVATE:
        raise FileRefused(f"'{given}' holds the server's secrets; flows may not read it")
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(f"'{given}' is not a regular file")
    if info.st_size > max_bytes:
        raise FileTooLarge(f"'{given}' is {info.st_size} bytes; max_bytes is {max_bytes}")
    with path.open("rb") as f:
        # Read one byte past the cap: a file that grew since stat() is still refused.
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileTooLarge(f"'{given}' is over max_bytes ({max_bytes} bytes)")
    return data


class FileRead(MapOperator[str | dict[str, Any] | None, Any]):
    """Reads a file of the data directory: its text (or JSON value, or bytes) out."""

    Params = FileReadParams

    def __init__(self, settings: FileReadParams | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings or FileReadParams()

    @classmethod
    def from_params(cls, params: FileReadParams, **kwargs: Any) -> FileRead:
        return cls(params, **kwargs)

    def _path(self, value: Any) -> str:
        if self.settings.path is not None:
            return self.settings.path
        if not isinstance(value, str):
            value = fields_of(value).get("path")
        if isinstance(value, str) and value.strip():
            return value
        raise FileRefused(
            "file.read has no path: set its 'path' parameter or give the path as its input"
        )

    async def map(self, input_value: str | dict[str, Any] | None) -> Any:
        s = self.settings
        given = self._path(input_value)
        root = current_store().data_dir
        data = await anyio.to_thread.run_sync(read_inside, root, given, s.max_bytes)
        if s.format == "bytes":
            return data
        try:
            text = data.decode(s.encoding)
            return json.loads(text) if s.format == "json" else text
        except LookupError:
            raise FileUnreadable(f"unknown encoding '{s.encoding}'") from None
        except ValueError as exc:
            kind = "JSON" if s.format == "json" else f"{s.encoding} text"
            raise FileUnreadable(f"'{given}' is not {kind}: {exc}") from None
