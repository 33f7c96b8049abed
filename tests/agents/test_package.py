"""Reading packages: what is taken, and every unsafe package refused with its reason."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import pytest

from operators.agents.checks import load_agent_flows
from operators.agents.errors import AgentInvalid, PackageRefused
from operators.agents.manifest import parameter_values
from operators.agents.package import Limits, read_package

from .kit import agent_files, write_folder, zip_bytes, zip_with_symlink


def test_a_folder_and_its_zip_read_the_same(tmp_path: Path) -> None:
    folder = read_package(write_folder(tmp_path / "echo", agent_files()))
    zipped = read_package(zip_bytes(dict(agent_files())))
    assert folder.files == zipped.files
    m = folder.manifest
    assert (m.name, m.version, m.entry, m.author) == ("echo", "0.1.0", "flows/echo.yaml", "tests")
    assert m.parameters[0].name == "suffix" and m.parameters[0].default == "!"
    assert folder.code_files == []


def test_a_zip_with_one_top_folder_is_read_from_inside() -> None:
    files = {f"echo-main/{p}": t for p, t in agent_files().items()}
    assert read_package(zip_bytes(dict(files))).manifest.name == "echo"


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"../evil.txt": "x"}, "climbs out of the package"),
        ({"flows/../../evil.txt": "x"}, "climbs out of the package"),
        ({"/etc/evil": "x"}, "is absolute"),
        ({"C:/evil": "x"}, "is absolute"),
        ({"a\\..\\evil": "x"}, "backslash"),
    ],
)
def test_paths_out_of_the_package_are_refused(files: dict[str, str], reason: str) -> None:
    with pytest.raises(PackageRefused, match=reason):
        read_package(zip_bytes({**agent_files(), **files}))


def test_a_symlink_in_a_zip_is_refused() -> None:
    with pytest.raises(PackageRefused, match=re.escape("'flows/x.yaml' is a symlink")):
        read_package(zip_with_symlink(agent_files(), "flows/x.yaml", "/etc/passwd"))


def test_a_symlink_in_a_folder_is_refused(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "echo", agent_files())
    os.symlink("/etc/passwd", root / "prompts" / "p.md")
    with pytest.raises(PackageRefused, match=re.escape("'prompts/p.md' is a symlink")):
        read_package(root)


def test_a_bomb_is_refused_by_its_ratio_while_reading() -> None:
    bomb = zip_bytes({**agent_files(), "big.txt": b"\0" * (4 * 1024 * 1024)})
    with pytest.raises(PackageRefused, match=re.escape("more than 100 times its compressed size")):
        read_package(bomb)


def test_a_bomb_is_refused_by_its_total_size() -> None:
    files: dict[str, str | bytes] = {**agent_files()}
    files.update({f"d/{i}.bin": os.urandom(300_000) for i in range(4)})
    with pytest.raises(PackageRefused, match=re.escape("unpacks past 1000000 bytes")):
        read_package(zip_bytes(files, compression=zipfile.ZIP_STORED), Limits(max_total=1_000_000))


def test_a_bomb_of_entries_is_refused() -> None:
    files: dict[str, str | bytes] = {f"e/{i}": "" for i in range(600)}
    with pytest.raises(PackageRefused, match=re.escape("603 entries, over the limit of 500")):
        read_package(zip_bytes({**agent_files(), **files}))


def test_an_entry_past_the_file_limit_is_refused_while_reading() -> None:
    data = zip_bytes({**agent_files(), "big.txt": os.urandom(2 * 1024 * 1024)})
    with pytest.raises(PackageRefused, match=re.escape("'big.txt' unpacks past 1048576 bytes")):
        read_package(data, Limits(max_file=1024 * 1024))


def test_a_package_without_a_manifest_is_refused() -> None:
    with pytest.raises(
        PackageRefused, match=re.escape("no manifest: the package needs agent.toml")
    ):
        read_package(zip_bytes({"flows/echo.yaml": "id: x"}))


def test_a_package_over_the_size_limit_is_refused() -> None:
    with pytest.raises(PackageRefused, match=re.escape("over the limit of 100")):
        read_package(zip_bytes(dict(agent_files())), Limits(max_package=100))


def test_not_a_zip_is_refused() -> None:
    with pytest.raises(PackageRefused, match=re.escape("not a zip file")):
        read_package(b"PK but not really")


def test_a_manifest_missing_fields_lists_each() -> None:
    with pytest.raises(AgentInvalid) as caught:
        read_package(zip_bytes({"agent.toml": 'name = "bad name"\nentry = "nope.yaml"\n'}))
    text = str(caught.value)
    assert "agent.toml: the name 'bad name' must be" in text
    assert "entry 'nope.yaml' is not a flow file of the package" in text


def test_dbgpts_yaml_maps_and_json_is_refused_saying_why() -> None:
    dbgpts = (
        '[flow]\nname = "echo"\nlabel = "Echo"\nversion = "0.2.0"\ndescription = "d"\n'
        'authors = ["Ann <ann@example.com>"]\ndefinition_type = "yaml"\n'
    )
    files = {"dbgpts.toml": dbgpts, "flows/echo.yaml": agent_files()["flows/echo.yaml"]}
    m = read_package(zip_bytes(dict(files))).manifest
    assert (m.name, m.version, m.author, m.email, m.entry) == (
        "echo",
        "0.2.0",
        "Ann",
        "ann@example.com",
        "flows/echo.yaml",
    )
    as_json = dbgpts.replace('"yaml"', '"json"')
    with pytest.raises(
        AgentInvalid, match=re.escape("definition_type = 'json' is refused: a DB-GPT flow")
    ):
        read_package(zip_bytes({**files, "dbgpts.toml": as_json}))
    as_python = dbgpts.replace('"yaml"', '"python"')
    with pytest.raises(AgentInvalid, match=re.escape("installs with pip, running its code")):
        read_package(zip_bytes({**files, "dbgpts.toml": as_python}))


async def test_parameters_reach_the_flows_with_the_servers_values_over_defaults() -> None:
    package = read_package(zip_bytes(dict(agent_files())))
    assert parameter_values(package.manifest, None) == {"suffix": "!"}
    flows = load_agent_flows(package, None, {"suffix": "?!"})
    [dag] = flows["flows/echo.yaml"]
    assert await dag.output_node.call({"user_input": "hi"}) == "HI?!"


def test_bad_parameter_values_refuse_naming_each() -> None:
    package = read_package(zip_bytes(dict(agent_files())))
    with pytest.raises(AgentInvalid) as caught:
        parameter_values(package.manifest, {"suffix": 3, "colour": "red"})
    text = str(caught.value)
    assert "agent_params 'suffix': 3 is not of type str" in text
    assert "gives 'colour', which the agent does not declare (it declares: suffix)" in text
    no_default = agent_files()
    no_default["agent.toml"] = no_default["agent.toml"].replace('default = "!"\n', "")
    package = read_package(zip_bytes(dict(no_default)))
    with pytest.raises(AgentInvalid, match="parameter 'suffix' has no default"):
        load_agent_flows(package)
    # A flow naming a parameter the manifest lacks: refused at its line.
    typo = agent_files()
    typo["flows/echo.yaml"] = typo["flows/echo.yaml"].replace("params.suffix", "params.sufix")
    with pytest.raises(AgentInvalid) as caught:
        load_agent_flows(read_package(zip_bytes(dict(typo))))
    [problem] = caught.value.problems
    assert problem.code == "spec.unknown_param" and "did you mean 'suffix'" in problem.message
    assert str(problem.location).startswith("echo/flows/echo.yaml:8:")
