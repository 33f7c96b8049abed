"""The key that encrypts stored passwords: made once per data folder even when servers
start at once, salted at random when it comes from a passphrase, private or refused."""

from __future__ import annotations

import base64
import hashlib
import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken

from operators.storage import Datasource, SecretError, open_store
from operators.storage import secrets as secrets_module
from operators.storage.secrets import load_key

#: Rounds of processes racing on one fresh data folder.
ROUNDS = 30
RACERS = 4


def _race(data_dir: str, passphrase: str | None, start: Any, out: Any) -> None:
    start.wait()
    try:
        out.put(load_key(Path(data_dir), passphrase).decode())
    except Exception as exc:  # reported to the test, which names it
        out.put(f"error: {type(exc).__name__}: {exc}")


def _keys_of_racing_processes(data_dir: Path, passphrase: str | None) -> list[str]:
    # fork: the children start in milliseconds, so they really do reach the files together.
    ctx = multiprocessing.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    racers = [
        ctx.Process(target=_race, args=(str(data_dir), passphrase, start, out))
        for _ in range(RACERS)
    ]
    for p in racers:
        p.start()
    start.set()
    keys = [out.get(timeout=60) for _ in racers]
    for p in racers:
        p.join(timeout=60)
    return keys


@pytest.mark.parametrize("passphrase", [None, "correct horse battery staple"])
def test_servers_starting_at_once_on_one_data_folder_end_with_the_same_key(
    tmp_path: Path, passphrase: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fewer PBKDF2 rounds (the forked children inherit it): the race is about the files.
    monkeypatch.setattr(secrets_module, "_ROUNDS", 1000, raising=False)
    for n in range(ROUNDS):
        data_dir = tmp_path / f"round{n}"
        keys = _keys_of_racing_processes(data_dir, passphrase)
        assert not [k for k in keys if k.startswith("error")], keys
        assert len(set(keys)) == 1, keys
        # And a later start reads the same key again.
        assert load_key(data_dir, passphrase).decode() == keys[0]
        # Nothing half-made is left behind.
        assert sorted(p.name for p in data_dir.iterdir()) == [
            "secret.key" if passphrase is None else "secret.salt"
        ]


def test_a_passphrase_is_salted_at_random_per_data_folder(tmp_path: Path) -> None:
    a = load_key(tmp_path / "a", "the same passphrase")
    b = load_key(tmp_path / "b", "the same passphrase")
    assert a != b
    assert load_key(tmp_path / "a", "the same passphrase") == a  # stable across starts
    salt = tmp_path / "a" / "secret.salt"
    assert stat.S_IMODE(salt.stat().st_mode) == 0o600
    assert len(base64.b64decode(salt.read_bytes())) >= 16
    # A Fernet key given as such is used as it is, no salt made.
    key = Fernet.generate_key()
    assert load_key(tmp_path / "c", key.decode()) == key
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize(("name", "passphrase"), [("secret.key", None), ("secret.salt", "pass")])
async def test_a_key_or_salt_others_may_read_stops_the_start(
    tmp_path: Path, name: str, passphrase: str | None
) -> None:
    load_key(tmp_path, passphrase)
    path = tmp_path / name
    os.chmod(path, 0o644)
    with pytest.raises(SecretError) as caught:
        async with open_store(None, data_dir=tmp_path, secret_key=passphrase):
            pass
    assert f"chmod 600 {path}" in str(caught.value) and "644" in str(caught.value)
    os.chmod(path, 0o600)
    async with open_store(None, data_dir=tmp_path, secret_key=passphrase):
        pass


def _fixed_salt_key(passphrase: str) -> bytes:
    """How a passphrase became a key before salts were random (a fixed salt)."""
    raw = hashlib.pbkdf2_hmac("sha256", passphrase.encode(), b"awel.datasource-passwords", 200_000)
    return base64.urlsafe_b64encode(raw)


async def test_passwords_stored_under_the_fixed_salt_key_still_read_back(tmp_path: Path) -> None:
    passphrase = "an old passphrase"
    old_key = _fixed_salt_key(passphrase).decode()
    # What a server before random salts stored, with the key its passphrase gave.
    async with open_store(None, data_dir=tmp_path, secret_key=old_key) as store:
        await store.datasources.add(Datasource(db_type="mysql", db_name="old", db_pwd="old-pw"))
    async with open_store(None, data_dir=tmp_path, secret_key=passphrase) as store:
        assert (await store.datasources.require("old")).password == "old-pw"
        await store.datasources.add(Datasource(db_type="mysql", db_name="new", db_pwd="new-pw"))
        token = store.secrets.encrypt("new-pw")
    # New passwords are encrypted with the salted key, not the fixed-salt one.
    with pytest.raises(InvalidToken):
        Fernet(old_key.encode()).decrypt(token.encode())
    async with open_store(None, data_dir=tmp_path, secret_key=passphrase) as store:
        assert (await store.datasources.require("new")).password == "new-pw"
        assert (await store.datasources.require("old")).password == "old-pw"


def test_awel_serve_refuses_to_start_with_a_key_others_may_read(tmp_path: Path) -> None:
    from tests.server.test_main import awel_serve, free_port

    data = tmp_path / "data"
    load_key(data)
    key = data / "secret.key"
    key.chmod(0o640)
    args = ("--port", str(free_port()), "--data-dir", str(data), "--model-api-port", "0")
    with awel_serve(*args) as proc:
        assert proc.wait(45) == 1
        out = proc.stdout.read() if proc.stdout else ""
    assert f"cannot start: {key} may be read or written by other users" in out, out
    assert f"chmod 600 {key}" in out and "Traceback" not in out
