"""Which files a user may register as a SQLite or DuckDB datasource.

A datasource's file is opened by the server, with the server's rights, and its tables are
shown to whoever chats with it. So a path a user registers must not reach what the server
keeps for itself, and must really be a database of the declared type:

- **not in the data folder**: the metadata database, the secret key and salt, other users'
  uploads all live there (the path is resolved first, so a symlink into it is refused too,
  and a hard link to one of the server's own files);
- **a regular file with the type's header**: SQLite's ``SQLite format 3\\0``, DuckDB's
  ``DUCK`` at byte 8 (a zero-length file is an empty SQLite database, as SQLite says);
- **under one of the configured roots** (the ``datasource_roots`` setting), when any are.

These rules are for the paths that come in requests (``db/add``, ``db/edit``, test
connections, v2 create and update); the datasources the server makes itself (uploads in
``<data_dir>/files/``) never go through them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .connector import BadDatasource

#: The first 16 bytes of every SQLite 3 database.
SQLITE_HEADER = b"SQLite format 3\x00"
#: DuckDB's magic, after the 8-byte checksum of its main header.
DUCKDB_MAGIC = b"DUCK"
DUCKDB_MAGIC_AT = 8


@dataclass(frozen=True, slots=True)
class FilePolicy:
    """Where the server keeps its own files, and where users' databases may be."""

    data_dir: Path
    roots: Sequence[Path] = ()
    #: Files of the server's that may live outside the data folder (a SQLite metadata db).
    own_files: Sequence[Path] = field(default_factory=tuple)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _header_matches(kind: str, path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(len(SQLITE_HEADER))
    if kind == "sqlite":
        return head == SQLITE_HEADER or not head
    return head[DUCKDB_MAGIC_AT : DUCKDB_MAGIC_AT + len(DUCKDB_MAGIC)] == DUCKDB_MAGIC


def _same_file(path: Path, others: Sequence[Path]) -> bool:
    for other in others:
        try:
            if os.path.samefile(path, other):
                return True
        except OSError:
            continue
    return False


class FileRefused(BadDatasource):
    """A datasource file the server will not open for users (its own data, a path outside
    the roots): the request is refused, whatever the database would say."""

    code = "request.file_refused"


def check_database_file(kind: str, given: str, policy: FilePolicy, field_name: str) -> Path:
    """The resolved path of ``given`` if a user may register it as a ``kind`` datasource;
    else :class:`FileRefused` naming ``field_name`` and the rule broken."""
    if not given:
        raise FileRefused(f"a {kind} datasource needs {field_name} (the database file)", field_name)
    path = Path(given).expanduser().resolve()
    data_dir = policy.data_dir.expanduser().resolve()
    own = [data_dir / name for name in ("awel.db", "secret.key", "secret.salt")]
    own += [p.expanduser().resolve() for p in policy.own_files]
    if _inside(path, data_dir) or path in own or _same_file(path, own):
        raise FileRefused(
            f"{field_name} '{given}' points into the server's data folder (or at one of the"
            " server's own files), which datasources may not read",
            field_name,
        )
    roots = [r.expanduser().resolve() for r in policy.roots]
    if roots and not any(_inside(path, root) for root in roots):
        allowed = ", ".join(str(r) for r in roots)
        raise FileRefused(
            f"{field_name} '{given}' is outside the folders datasources may be in"
            f" (datasource_roots: {allowed})",
            field_name,
        )
    if not path.is_file():
        raise FileRefused(f"{field_name} '{given}' is not a file", field_name)
    try:
        matches = _header_matches(kind, path)
    except OSError as exc:
        raise FileRefused(
            f"{field_name} '{given}' cannot be read ({exc.strerror})", field_name
        ) from None
    if not matches:
        raise FileRefused(
            f"{field_name} '{given}' is not a {kind} database file (its header is not"
            f" {kind}'s; the file's name does not matter)",
            field_name,
        )
    return path
