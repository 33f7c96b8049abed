"""Encrypting datasource passwords at rest (Fernet: AES-128-CBC with an HMAC).

The key comes from the configuration (``secret_key``: a Fernet key, or any passphrase,
which is stretched into one) or, when none is given, from ``<data_dir>/secret.key``,
created on first use, readable by its owner only. Losing the key loses the stored
passwords, not the datasources: each can be given its password again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from awel.errors import AwelError

#: The key file's name in the data folder.
KEY_FILE = "secret.key"
#: A fixed salt: the passphrase alone must give the same key on every start.
_SALT = b"awel.datasource-passwords"


class SecretError(AwelError):
    """A stored secret cannot be read back with the current key."""

    code = "storage.secret"


def _is_fernet_key(text: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(text.encode())) == 32
    except (binascii.Error, ValueError):
        return False


def key_from_passphrase(passphrase: str) -> bytes:
    """A Fernet key derived from any passphrase (PBKDF2-SHA256)."""
    raw = hashlib.pbkdf2_hmac("sha256", passphrase.encode(), _SALT, 200_000)
    return base64.urlsafe_b64encode(raw)


def load_key(data_dir: Path, secret_key: str | None = None) -> bytes:
    """The key: from ``secret_key`` if given, else the data folder's key file (made once)."""
    if secret_key:
        text = secret_key.strip()
        return text.encode() if _is_fernet_key(text) else key_from_passphrase(text)
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: of two processes starting at once, one writes and both read the same key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(Fernet.generate_key())
    key = path.read_bytes().strip()
    if not _is_fernet_key(key.decode(errors="replace")):
        raise SecretError(f"{path} does not hold a Fernet key; remove it to make a new one")
    return key


class SecretBox:
    """Encrypts and decrypts short secrets with one key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

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
