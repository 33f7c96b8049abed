"""The first wall: each database's own sandbox around SQL from users and models.

The SQL gate (:mod:`.gate`) reads a statement before it runs; this module makes the
database itself refuse what the gate is there to stop, so that a spelling the parser did not
foresee still reaches nothing. Every connection a connector opens, reading or (for the
editor) writing, gets:

- **DuckDB**: ``enable_external_access = false`` and then ``lock_configuration = true``
  (:data:`DUCKDB_CONFIG`): no function, ``ATTACH``, ``COPY`` or extension can reach a
  file, a URL or another database, and no statement can turn that back on. Uploads are
  loaded into their DuckDB file by our own code before any connector opens it.
- **SQLite**: the file opens read-only through the URI (``mode=ro``) for reading, and an
  authorizer (:func:`sqlite_authorizer`) refuses ``ATTACH``/``DETACH`` (which also stops
  ``VACUUM INTO``), virtual tables, every ``PRAGMA`` but the schema readers, and the refused
  functions. Extension loading is off in Python's driver.
- **PostgreSQL**: a login that could read or write the server's files or run programs (a
  superuser, or a member of ``pg_read_server_files``, ``pg_write_server_files`` or
  ``pg_execute_server_program``) is refused (:class:`PrivilegedLogin`). A datasource may
  name a plain role in ``ext_config.role``; each session then runs ``SET ROLE`` to it and the
  role is checked instead. ``RESET ROLE`` would undo that; the gate refuses it (``RESET``
  is not a reading statement), which is why a login without those rights is the better
  set-up.
- **MySQL/MariaDB**: a login with the ``FILE`` privilege (``LOAD_FILE``, ``INTO OUTFILE``,
  ``LOAD DATA INFILE``) is refused the same way, and the client never sends local files
  (``local_infile`` off).

A server whose operators know what they do can let privileged logins through
(:func:`allow_privileged_logins`; the setting ``allow_privileged_datasources``).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from awel.errors import AwelError

from .gate import REFUSED_FUNCTIONS

#: DuckDB's settings for every connection: nothing outside the database file, for good.
DUCKDB_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    # Last: once locked, no statement can change the settings above.
    "lock_configuration": True,
}

_allow_privileged = False


def allow_privileged_logins(allowed: bool) -> None:
    """Let datasources log in as superusers / with FILE rights (the server's setting)."""
    global _allow_privileged
    _allow_privileged = allowed


def privileged_logins_allowed() -> bool:
    return _allow_privileged


class PrivilegedLogin(AwelError):
    """A datasource logs in with rights over the database server's files."""

    code = "datasource.privileged_login"

    def __init__(self, db_name: str, user: str, rights: str, remedy: str) -> None:
        super().__init__(
            f"datasource '{db_name}' logs in as '{user}', {rights}, which lets SQL read or"
            f" write the database server's files; chat and the SQL editor refuse such logins."
            f" {remedy}",
            param="db_user",
        )


# --- SQLite -----------------------------------------------------------------------------

#: The pragmas that only describe the schema (what SQLAlchemy's reflection reads).
_SQLITE_READ_PRAGMAS = frozenset(
    {
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "collation_list",
    }
)
_SQLITE_DENIED_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_ATTACH,
        sqlite3.SQLITE_DETACH,
        sqlite3.SQLITE_CREATE_VTABLE,
        sqlite3.SQLITE_DROP_VTABLE,
    }
)


def sqlite_authorizer(
    action: int, arg1: str | None, arg2: str | None, _db: str | None, _source: str | None
) -> int:
    """SQLite's authorizer callback: deny what reaches other files or changes settings."""
    if action in _SQLITE_DENIED_ACTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA:
        return (
            sqlite3.SQLITE_OK
            if (arg1 or "").lower() in _SQLITE_READ_PRAGMAS
            else (sqlite3.SQLITE_DENY)
        )
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in REFUSED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


# --- PostgreSQL ---------------------------------------------------------------------------

_PG_FILE_ROLES = ("pg_read_server_files", "pg_write_server_files", "pg_execute_server_program")
_PG_RIGHTS = (
    "SELECT r.rolsuper, "
    + ", ".join(f"pg_has_role(current_user, '{role}', 'MEMBER')" for role in _PG_FILE_ROLES)
    + " FROM pg_roles r WHERE r.rolname = current_user"
)


def _quote_pg(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def guard_postgres(cursor: Any, db_name: str, login: str, role: str | None) -> None:
    """Run on each new session: ``SET ROLE`` to ``role`` if given, then refuse the session
    if the effective role has rights over the server's files."""
    if role:
        cursor.execute(f"SET ROLE {_quote_pg(role)}")
    if _allow_privileged:
        return
    cursor.execute(_PG_RIGHTS)
    row = cursor.fetchone()
    if row is None:
        return
    superuser, *members = row
    if not superuser and not any(members):
        return
    who = role or login
    held = [r for r, member in zip(_PG_FILE_ROLES, members, strict=True) if member]
    rights = "a superuser" if superuser else "a member of " + ", ".join(held)
    raise PrivilegedLogin(
        db_name,
        who,
        rights,
        "Give it a login without those rights (for example: CREATE ROLE awel_reader LOGIN"
        " PASSWORD '...'; GRANT pg_read_all_data TO awel_reader), or set ext_config.role to"
        " such a role (GRANT awel_reader TO the login), or start the server with"
        " allow_privileged_datasources = true.",
    )


# --- MySQL / MariaDB ----------------------------------------------------------------------


def guard_mysql(cursor: Any, db_name: str) -> None:
    """Run on each new session: refuse a login (or its roles) holding ``FILE``."""
    if _allow_privileged:
        return
    cursor.execute("SELECT CURRENT_USER()")
    current = str(cursor.fetchone()[0])
    user, _, host = current.rpartition("@")
    grantees = [f"'{user}'@'{host}'"]
    try:
        # Roles the login may switch on hold rights too (MariaDB 10.0.5+, MySQL 8.0.19+).
        cursor.execute("SELECT ROLE_NAME FROM information_schema.APPLICABLE_ROLES")
        grantees += [f"'{row[0]}'" for row in cursor.fetchall()]
    except Exception:  # an older server without the view: only the login's own rights
        pass
    marks = ", ".join(["%s"] * len(grantees))
    cursor.execute(
        "SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES"
        f" WHERE PRIVILEGE_TYPE = 'FILE' AND GRANTEE IN ({marks})",
        grantees,
    )
    if int(cursor.fetchone()[0]) == 0:
        return
    raise PrivilegedLogin(
        db_name,
        current,
        "a login with the FILE privilege",
        "Give it a login without FILE (for example: CREATE USER 'awel_reader'@'%'"
        " IDENTIFIED BY '...'; GRANT SELECT ON yourdb.* TO 'awel_reader'@'%'), or start the"
        " server with allow_privileged_datasources = true.",
    )
