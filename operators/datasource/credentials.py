"""What a request may ask of the server's files and stored passwords.

A file a user registers must pass :mod:`.files`; a stored password is only sent to the
endpoint it was stored for (:mod:`.endpoint`): a request that sends the mask and changes the
endpoint is refused, naming the fields it changes as that request named them.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from awel.errors import BadRequest
from operators.storage import Datasource, current_store

from .connector import DB_TYPES
from .endpoint import changed_endpoint
from .files import FilePolicy, check_database_file


def _file_policy() -> FilePolicy:
    store = current_store()
    url = store.engine.url
    own = [Path(url.database)] if url.get_backend_name() == "sqlite" and url.database else []
    return FilePolicy(store.data_dir, store.datasource_roots, own)


async def check_file(ds: Datasource, fields: dict[str, str]) -> None:
    """Refuse a file datasource whose file a user may not register (the rule named)."""
    if DB_TYPES.get(ds.db_type, False):
        # Off the event loop: resolving the path and reading the header touch the disk.
        policy = _file_policy()
        await asyncio.to_thread(check_database_file, ds.db_type, ds.db_path, policy, fields["path"])


def with_stored_password(stored: Datasource, ds: Datasource, fields: dict[str, str]) -> Datasource:
    """``ds`` with ``stored``'s password, which is only sent where it was stored for: a
    request that changes the endpoint must send the password again."""
    if ds.ext_config is None:  # no ext_config in a request keeps the stored one
        ds = replace(ds, ext_config=stored.ext_config)
    changed = changed_endpoint(stored, ds)
    if changed:
        names = ", ".join(fields[name] for name in changed)
        raise BadRequest(
            f"the stored password of '{stored.db_name}' is only used to connect where it was"
            f" stored for, and this request changes {names}: send the password"
            f" ({fields['password']}) again",
            param=fields["password"],
        )
    return replace(ds, db_pwd=stored.password)
