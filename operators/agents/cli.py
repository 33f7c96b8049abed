"""``awel agent``: make a signing key, sign an agent package, check one before publishing.

    awel agent keygen team.pem           # prints the public key for agent_trusted_keys
    awel agent sign my_agent/ --key team.pem
    awel agent check my_agent/           # every problem, as an install would find it

``check`` reads the package as an install does (the same safety limits), loads every YAML
flow with the parameters' defaults (or ``--param NAME=VALUE``, as the server's
``agent_params`` would give) and says whether code in it would be trusted by the keys
given with ``--trusted-key``. Untrusted, its flows are checked as an untrusted install
loads them (registered operators only, no import paths) and its Python is never
imported; trusted (a listed key signed it, or ``--trust``), its Python is imported from a
temporary copy, as an install would. Exit codes: 0 fine, 1 problems, 2 misuse.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from awel.errors import AwelError

from .checks import forget_code, load_agent_flows
from .errors import AgentInvalid
from .package import AgentPackage, read_package
from .signing import SIGNATURE_FILE, key_text, sign_files, verdict

__all__ = ["agent"]


@click.group()
def agent() -> None:
    """Agent packages: signing keys, signatures, checks."""


@agent.command()
@click.argument("key_file", type=click.Path(dir_okay=False, path_type=Path))
def keygen(key_file: Path) -> None:
    """Write a new Ed25519 private key to KEY_FILE (readable by you only) and print its
    public key, the line to add to agent_trusted_keys."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        # O_EXCL: never overwrite a key someone signed with; 0600 before a byte is written.
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{key_file} exists; choose another file") from None
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    click.echo(key_text(key.public_key()))


@agent.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The private key (from `awel agent keygen`).",
)
def sign(folder: Path, key_file: Path) -> None:
    """Sign the package in FOLDER: writes FOLDER/agent.sig over every other file."""
    try:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise click.ClickException(f"{key_file} is not an unencrypted PEM key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise click.ClickException(f"{key_file} is not an Ed25519 key")
    package = _read(folder)
    (folder / SIGNATURE_FILE).write_bytes(sign_files(package.files, key))
    m = package.manifest
    click.echo(f"signed {m.name} {m.version} with {key_text(key.public_key())}")


@agent.command()
@click.argument("package_path", metavar="PACKAGE", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter's value (JSON, or text).",
)
@click.option(
    "--trusted-key", "keys", multiple=True, metavar="ed25519:BASE64", help="A key to trust."
)
@click.option("--trust", is_flag=True, help="Check it as a trusted source would install it.")
def check(package_path: Path, params: Sequence[str], keys: Sequence[str], trust: bool) -> None:
    """Check the package in PACKAGE (a folder or a zip) as an install would."""
    package = _read(package_path)
    values = dict(_param(p) for p in params)
    signed = verdict(package.files, keys)
    trusted = trust or signed.trusted
    problems = 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = None
        if trusted and package.code_files:
            # As an install would: its Python imported from a copy, forgotten after.
            folder = Path(tmp)
            for path, data in package.files.items():
                (folder / path).parent.mkdir(parents=True, exist_ok=True)
                (folder / path).write_bytes(data)
        try:
            # Untrusted, flows load as an untrusted install loads them: no import paths.
            load_agent_flows(package, folder, values or None, trusted=trusted)
        except AgentInvalid as exc:
            for problem in exc.problems:
                click.echo(str(problem))
            problems = len(exc.problems)
        finally:
            forget_code(package.manifest.name)
    code = package.code_files
    if code:
        said = "trusted: " if trusted else "not trusted here: "
        why = "--trust given" if trust and not signed.trusted else signed.why
        click.echo(f"ships Python ({', '.join(code)}); {said}{why}")
    name = f"{package.manifest.name} {package.manifest.version}"
    if problems:
        click.echo(f"{name}: {problems} problem(s)")
        raise click.exceptions.Exit(1)
    yaml_files = [f for f in package.flow_files if not f.endswith(".py")]
    unread = "; its Python loads only when installed" if code else ""
    click.echo(f"{name}: ok, {len(yaml_files)} YAML flow file(s) checked{unread}")


def _read(where: Path) -> AgentPackage:
    try:
        return read_package(where)
    except AgentInvalid as exc:
        for problem in exc.problems:
            click.echo(str(problem))
        raise click.exceptions.Exit(1) from None
    except AwelError as exc:
        raise click.ClickException(exc.message) from None


def _param(text: str) -> tuple[str, object]:
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"'{text}' is not NAME=VALUE", param_hint="--param")
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError:
        # Text needs no quotes on a command line: --param space=handbook.
        return name, raw
