"""Encrypting datasource passwords at rest (Fernet: AES-128-CBC with an HMAC).

The key comes from the configuration (``secret_key``: a Fernet key, or any passphrase,
which is stretched into one with a random salt kept in ``<data_dir>/secret.salt``) or,
when none is given, from ``<data_dir>/secret.key``, created on first use. Losing the key
(or the salt) loses the stored passwords, not the datasources: each can be given its
password again.

Both files are made once, readable by their owner only, and atomically: each process
writes a complete file under a name of its own and hard-links it to the final name, which
fails if the name exists; so of servers starting at once on one data folder exactly one
file wins and every server reads that one. A key or salt file that group or others may
read or write stops the start (:class:`SecretError` says which ``chmod`` fixes it).

Passwords stored before the salt existed were encrypted with a key stretched with a fixed
salt; with a passphrase, that key stays one the box decrypts with (never encrypts with), so
they still read back. Servers sharing one metadata database must share the salt file too
(copy ``secret.salt``), or be given the same Fernet key instead of a passphrase.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from awel.errors import AwelError

#: The key file's name in the data folder.
KEY_FILE = "secret.key"
#: The passphrase's salt in the data folder.
SALT_FILE = "secret.salt"
#: The salt of keys stretched before the salt file existed; they only decrypt now.
_LEGACY_SALT = b"awel.datasource-passwords"
_ROUNDS = 200_000


class SecretError(AwelError):
    """A stored secret cannot be read back with the current key, or the key is unusable."""

    code = "storage.secret"


def _is_fernet_key(text: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(text.encode())) == 32
    except (binascii.Error, ValueError):
        return False


def key_from_passphrase(passphrase: str, salt: bytes) -> bytes:
    """A Fernet key derived from any passphrase and a salt (PBKDF2-SHA256)."""
    raw = hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, _ROUNDS)
    return base64.urlsafe_b64encode(raw)


def legacy_key_from_passphrase(passphrase: str) -> bytes:
    """The key the passphrase gave before salts were random (to read old passwords)."""
    return key_from_passphrase(passphrase, _LEGACY_SALT)


def check_private(path: Path) -> None:
    """Refuse a secret file that group or others may read or write."""
    if os.name == "nt":  # POSIX modes mean nothing there; ACLs are the owner's business.
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretError(
            f"{path} may be read or written by other users (mode {mode:o});"
            f" make it private with: chmod 600 {path}"
        )


def _shared_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """The content of ``path``, made with ``make()`` if missing, the same for every process.

    The content is written completely under a temporary name first, then hard-linked to
    ``path``: ``link`` never replaces a file, so when processes race exactly one link
    succeeds, and nobody can see a half-written file (O_EXCL then write could).
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(make())
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process won; its file is complete
            except OSError as exc:
                raise SecretError(
                    f"cannot create {path} ({exc.strerror}); the data folder's file system"
                    " must support hard links, or set secret_key to a Fernet key"
                ) from None
        finally:
            os.unlink(tmp)
    check_private(path)
    return path.read_bytes().strip()


def _salt(data_dir: Path) -> bytes:
    path = data_dir / SALT_FILE
    text = _shared_file(path, lambda: base64.b64encode(os.urandom(16)))
    try:
        salt = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        salt = b""
    if len(salt) < 16:
        raise SecretError(
            f"{path} does not hold a salt; restore it (the stored passwords need it),"
            " or remove it to make a new one and set the passwords again"
        )
    return salt


def load_keys(data_dir: Path, secret_key: str | None = None) -> list[bytes]:
    """The keys, the one to encrypt with first: from ``secret_key`` if given (a Fernet key,
    or a passphrase stretched with the data folder's salt, then its legacy key), else the
    data folder's key file (made once)."""
    if secret_key:
        text = secret_key.strip()
        if _is_fernet_key(text):
            return [text.encode()]
        return [key_from_passphrase(text, _salt(data_dir)), legacy_key_from_passphrase(text)]
    path = data_dir / KEY_FILE
    key = _shared_file(path, Fernet.generate_key)
    if not _is_fernet_key(key.decode(errors="replace")):
        raise SecretError(f"{path} does not hold a Fernet key; remove it to make a new one")
    return [key]


def load_key(data_dir: Path, secret_key: str | None = None) -> bytes:
    """The key new secrets are encrypted with (see :func:`load_keys`)."""
    return load_keys(data_dir, secret_key)[0]


class SecretBox:
    """Encrypts short secrets with the first key; decrypts with any of them."""

    def __init__(self, keys: bytes | Sequence[bytes]) -> None:
        keys = [keys] if isinstance(keys, bytes) else list(keys)
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, secret: str) -> str:
        """The secret as a token to store ('' stays '': no password is no secret)."""
        if not secret:
            return ""
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def decrypt(self, token: str, *, what: str = "a secret") -> str:
        if not token:
            return ""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, ValueError):
            raise SecretError(
                f"cannot decrypt {what}: the secret key changed since it was stored;"
                " set the password again"
            ) from None
