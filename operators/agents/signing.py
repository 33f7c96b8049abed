"""Trust by signature: a package signed with an Ed25519 key the server trusts may ship
Python, wherever it comes from (a hub, a folder, an upload).

The signature lives in the package as ``agent.sig``, JSON::

    {"key": "ed25519:<base64 public key>", "signature": "<base64>"}

and signs a digest of every other file: its path and the SHA-256 of its bytes, in path
order, after a fixed label (so a signature over something else can never pass for one
over a package). Changing, adding or removing any file breaks it. The key travels with
the signature only to say *which* key signed; the server trusts a key because it is
listed in ``agent_trusted_keys``, never because a package names it.

Ed25519 through ``cryptography`` (already a dependency for secrets at rest): small keys
that fit a settings line, deterministic signatures, and no parameters to get wrong.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "SIGNATURE_FILE",
    "Verdict",
    "key_text",
    "parse_key",
    "sign_files",
    "verdict",
]

SIGNATURE_FILE = "agent.sig"
_PREFIX = "ed25519:"
_LABEL = b"awel agent package v1\n"


def key_text(key: Ed25519PublicKey) -> str:
    """The public key as the settings and ``agent.sig`` write it: ``ed25519:<base64>``."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _PREFIX + base64.b64encode(raw).decode()


def parse_key(text: str) -> Ed25519PublicKey:
    """The public key ``text`` writes; :class:`ValueError` says what is wrong with it."""
    if not text.startswith(_PREFIX):
        raise ValueError(f"'{text}' is not an agent signing key: keys are written ed25519:BASE64")
    try:
        raw = base64.b64decode(text[len(_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"'{text}': the key after 'ed25519:' is not base64") from None
    if len(raw) != 32:
        raise ValueError(f"'{text}': an Ed25519 public key is 32 bytes, this one {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def _digest(files: Mapping[str, bytes]) -> bytes:
    h = hashlib.sha256(_LABEL)
    for path in sorted(p for p in files if p != SIGNATURE_FILE):
        h.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    return h.digest()


def sign_files(files: Mapping[str, bytes], key: Ed25519PrivateKey) -> bytes:
    """The ``agent.sig`` that signs ``files`` (an ``agent.sig`` among them is left out)."""
    signature = key.sign(_digest(files))
    body = {"key": key_text(key.public_key()), "signature": base64.b64encode(signature).decode()}
    return (json.dumps(body, indent=2) + "\n").encode()


@dataclass(frozen=True)
class Verdict:
    """What a package's signature says: ``trusted`` when a listed key signed these very
    files; otherwise ``why`` not, in words for the refusal."""

    trusted: bool
    why: str
    #: The key that signed, when the signature could be read.
    key: str | None = None


def verdict(files: Mapping[str, bytes], trusted_keys: Sequence[str]) -> Verdict:
    """Whether ``files`` carry a valid signature by one of ``trusted_keys``."""
    sig = files.get(SIGNATURE_FILE)
    if sig is None:
        return Verdict(False, "it is not signed")
    try:
        body = json.loads(sig)
        key_name = str(body["key"])
        key = parse_key(key_name)
        signature = base64.b64decode(str(body["signature"]), validate=True)
    except (ValueError, KeyError, TypeError):
        return Verdict(False, f"its {SIGNATURE_FILE} is not a signature (see `awel agent sign`)")
    if key_name not in trusted_keys:
        return Verdict(
            False, f"it is signed by {key_name}, a key agent_trusted_keys lacks", key_name
        )
    try:
        key.verify(signature, _digest(files))
    except InvalidSignature:
        return Verdict(
            False,
            f"its signature by {key_name} does not match its files (changed after signing)",
            key_name,
        )
    return Verdict(True, f"signed by {key_name}", key_name)
