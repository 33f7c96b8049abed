"""Trust by signature: `awel agent keygen` and `sign` make a package whose Python installs
from an untrusted source when its key is trusted, and nothing else passes for that: an
unsigned package, another key, a file changed after signing, a signature file that is not
one, a mistyped key in the settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from awel.cli import main
from operators.agents.errors import UntrustedAgent
from operators.agents.installs import current_agents
from operators.agents.package import read_package
from server.settings import Settings
from tests.server.conftest import running

from .kit import agent_files, write_folder
from .test_install_routes import ANN, SHIPPED, SHOUT_FLOW, SHOUT_PY, TRIGGER

CODE_AGENT = {**agent_files(flow=SHOUT_FLOW), "ops/shout.py": SHOUT_PY}


def keygen(runner: CliRunner, path: Path) -> str:
    done = runner.invoke(main, ["agent", "keygen", str(path)])
    assert done.exit_code == 0, done.output
    assert path.stat().st_mode & 0o777 == 0o600
    return done.output.strip()


def signed_agent(tmp_path: Path) -> tuple[Path, str, Path]:
    runner = CliRunner()
    key_file = tmp_path / "team.pem"
    public = keygen(runner, key_file)
    folder = write_folder(tmp_path / "pkg", CODE_AGENT)
    done = runner.invoke(main, ["agent", "sign", str(folder), "--key", str(key_file)])
    assert done.exit_code == 0 and public in done.output, done.output
    return folder, public, key_file


async def test_a_package_signed_by_a_trusted_key_installs_its_code(tmp_path: Path) -> None:
    folder, public, _ = signed_agent(tmp_path)
    assert public.startswith("ed25519:")
    async with running(tmp_path, shipped=SHIPPED, agent_trusted_keys=[public]) as client:
        # The source is a folder nobody listed in agent_trusted_sources: the key is the trust.
        await current_agents().install(read_package(folder), user="ann", source=str(folder))
        answer = await client.post(f"{TRIGGER}/echo/echo", headers=ANN, json={"user_input": "a"})
        assert await answer.json() == "A!!"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ("unsigned", "it is not signed"),
        ("tampered", "does not match its files (changed after signing)"),
        ("added", "does not match its files (changed after signing)"),
        ("other key", "a key agent_trusted_keys lacks"),
        ("garbage", "its agent.sig is not a signature"),
    ],
)
async def test_nothing_else_passes_for_a_signature(tmp_path: Path, change: str, why: str) -> None:
    folder, public, _ = signed_agent(tmp_path)
    if change == "unsigned":
        (folder / "agent.sig").unlink()
    elif change == "tampered":
        (folder / "ops" / "shout.py").write_text(SHOUT_PY + "\nimport os\n")
    elif change == "added":
        (folder / "ops" / "extra.py").write_text("X = 1\n")
    elif change == "other key":
        public = keygen(CliRunner(), tmp_path / "other.pem")
    else:
        (folder / "agent.sig").write_text(json.dumps({"key": public, "signature": "!!"}))
    async with running(tmp_path, shipped=SHIPPED, agent_trusted_keys=[public]) as client:
        with pytest.raises(UntrustedAgent) as refused:
            await current_agents().install(read_package(folder), user="ann", source=str(folder))
        assert why in refused.value.message and "agent_trusted_keys" in refused.value.message
        assert not (tmp_path / "data" / "agents" / "echo").exists()
        gone = await client.post(f"{TRIGGER}/echo/echo", headers=ANN, json={"user_input": "a"})
        assert gone.status == 404


def test_a_mistyped_key_stops_the_settings(tmp_path: Path) -> None:
    for bad, why in [
        ("mAjW/rLzodFP06jsYtEJ", "keys are written ed25519:BASE64"),
        ("ed25519:not base64!", "is not base64"),
        ("ed25519:AAAA", "32 bytes, this one 3"),
    ]:
        with pytest.raises(ValidationError, match=why):
            Settings(data_dir=tmp_path, agent_trusted_keys=[bad])
    assert Settings(data_dir=tmp_path, agent_trusted_keys="").agent_trusted_keys == []


def test_the_cli_checks_a_package_as_an_install_would(tmp_path: Path) -> None:
    folder, public, key_file = signed_agent(tmp_path)
    runner = CliRunner()
    ok = runner.invoke(main, ["agent", "check", str(folder), "--trusted-key", public])
    assert ok.exit_code == 0, ok.output
    assert "ships Python (ops/shout.py); trusted: signed by" in ok.output
    assert "echo 0.1.0: ok, 1 YAML flow file(s) checked; its Python loads" in ok.output
    # Not trusted here: its flows load as an untrusted install's, and its operator's path
    # is refused; --trust checks it as a trusted source's.
    unknown = runner.invoke(main, ["agent", "check", str(folder)])
    assert "not trusted here: it is signed by" in unknown.output and unknown.exit_code == 1
    assert "'awel_agent_echo.ops.shout:Shout' names Python by import path" in unknown.output
    trusted = runner.invoke(main, ["agent", "check", str(folder), "--trust"])
    assert trusted.exit_code == 0 and "trusted: --trust given" in trusted.output
    typo = runner.invoke(main, ["agent", "check", str(folder), "--param", "suffix=3"])
    assert typo.exit_code == 1 and "agent_params 'suffix': 3 is not of type str" in typo.output
    broken = write_folder(tmp_path / "broken", agent_files())
    (broken / "flows" / "echo.yaml").write_text("name: x\nnodes: {a: {op: awel.nope}}\n")
    bad = runner.invoke(main, ["agent", "check", str(broken)])
    assert bad.exit_code == 1 and "echo/flows/echo.yaml:2:" in bad.output, bad.output
    # keygen never overwrites a key.
    again = runner.invoke(main, ["agent", "keygen", str(key_file)])
    assert again.exit_code != 0 and "exists" in again.output
