"""Where a datasource connects, to tell when a stored password would travel elsewhere.

A stored password is only ever sent to the endpoint it was stored for. A request that asks
the server to use the stored password (DB-GPT's clients send the mask ``******`` back) with
a different endpoint is how an attacker would have the server log in to a host of theirs
with someone else's password; the routes refuse it and ask for the password again.

The endpoint is the type, host, port, user and database, or the file of a file database;
values are compared normalised (host case-insensitive, port 0 as the type's default, paths
resolved). PostgreSQL's schema is not part of it: the same login reads every schema.
"""

from __future__ import annotations

from pathlib import Path

from operators.storage import Datasource

from .connector import DB_TYPES, normalise_type

#: The port a server database listens on when none is given.
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}


def endpoint(ds: Datasource) -> dict[str, object]:
    """The normalised endpoint of ``ds``, field by field."""
    kind = normalise_type(ds.db_type)
    if DB_TYPES[kind]:
        path = str(Path(ds.db_path).expanduser().resolve()) if ds.db_path else ""
        return {"type": kind, "path": path}
    database = ds.db_name
    if kind == "mysql":
        # The connector connects to ext_config's database when one is given.
        database = str((ds.ext_config or {}).get("database") or ds.db_name)
    return {
        "type": kind,
        "host": ds.db_host.strip().lower().rstrip("."),
        "port": int(ds.db_port or 0) or DEFAULT_PORTS.get(kind, 0),
        "user": ds.db_user,
        "database": database,
    }


def changed_endpoint(stored: Datasource, requested: Datasource) -> list[str]:
    """The endpoint fields (type, host, port, user, database, path) that differ."""
    before, after = endpoint(stored), endpoint(requested)
    return [
        name for name in dict.fromkeys([*before, *after]) if before.get(name) != after.get(name)
    ]
