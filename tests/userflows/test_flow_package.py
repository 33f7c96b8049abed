"""A flow exported as DB-GPT's dbgpts package (a zip) and imported back, and the packages
an import refuses: a JSON or Python definition (with the reason), a path out of the package,
a zip bomb."""

from __future__ import annotations

import io
import tomllib
import zipfile
from pathlib import Path

import aiohttp
import pytest

from tests.server.conftest import running

from .kit import CRUD, V1, V2, failed, greeting, ok, say


def form(content: bytes, name: str = "greet.zip") -> aiohttp.FormData:
    f = aiohttp.FormData()
    f.add_field("file", content, filename=name, content_type="application/zip")
    return f


def zipped(files: dict[str, bytes | str], *, level: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", level) as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return buffer.getvalue()


def dbgpts_toml(kind: str = "yaml", file_path: str = "definition/greet.yaml") -> str:
    return f"""\
[flow]
name = "greet"
label = "Greeter"
version = "0.2.0"
description = "Greets."
authors = ["Ann <ann@example.com>"]
definition_type = "{kind}"

[flow.yaml_config]
file_path = "{file_path}"
"""


@pytest.mark.parametrize("base", [V1, V2])
async def test_export_as_dbgpts_and_import_it_back(tmp_path: Path, base: str) -> None:
    async with running(tmp_path, shipped=CRUD) as client:
        body = {"yaml": greeting(), "label": "Greeter", "authors": "Ann <ann@example.com>"}
        made = await ok(await client.post(f"{base}/flows", json=body))
        resp = await client.get(f"{base}/flow/export/{made['uid']}?export_type=dbgpts")
        assert resp.status == 200
        assert resp.content_type == "application/zip"
        assert resp.headers["Content-Disposition"] == 'attachment; filename="greet.zip"'
        data = await resp.read()

        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = sorted(archive.namelist())
            manifest = tomllib.loads(archive.read("greet/dbgpts.toml").decode())
            definition = archive.read("greet/definition/greet.yaml").decode()
        assert names == ["greet/README.md", "greet/dbgpts.toml", "greet/definition/greet.yaml"]
        flow = manifest["flow"]
        assert flow["name"] == "greet" and flow["label"] == "Greeter"
        assert flow["definition_type"] == "yaml" and flow["description"] == "Greets."
        assert flow["authors"] == ["Ann <ann@example.com>"] and flow["version"] == "0.1.0"
        assert flow["yaml_config"] == {"file_path": "definition/greet.yaml"}
        assert definition == greeting()

        await ok(await client.delete(f"{base}/flows/{made['uid']}"))
        checked = await ok(await client.post(f"{base}/flow/import", data=form(data)))
        assert checked["name"] == "greet" and checked["yaml"] == greeting()
        assert checked["label"] == "Greeter" and checked["authors"] == "Ann <ann@example.com>"
        assert (await ok(await client.get(f"{base}/flows")))["total_count"] == 0
        saved = await ok(await client.post(f"{base}/flow/import?save_flow=true", data=form(data)))
        assert saved["yaml"] == greeting() and saved["source"] == "dbgpts"
        assert (await ok(await client.get(f"{base}/flows/{saved['uid']}")))["name"] == "greet"


async def test_a_dotted_flow_name_makes_a_dbgpts_name(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=CRUD) as client:
        body = {"yaml": greeting("my.greet"), "state": "deployed"}
        made = await ok(await client.post(f"{V1}/flows", json=body))
        resp = await client.get(
            f"{V1}/flow/export/{made['uid']}?export_type=dbgpts&file_name=../pkg.zip"
        )
        assert resp.headers["Content-Disposition"] == 'attachment; filename="pkg.zip"'
        data = await resp.read()
        await ok(await client.delete(f"{V1}/flows/{made['uid']}"))
        saved = await ok(
            await client.post(f"{V1}/flow/import?save_flow=true", data=form(data, "pkg.zip"))
        )
        # Saved as a draft (an import never serves by itself), under its YAML's name.
        assert saved["name"] == "my.greet" and saved["state"] == "initializing"
        assert (await say(client))[0] == 404


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        ("json", "a DB-GPT flow JSON definition"),
        ("python", "a Python package that DB-GPT builds into a wheel"),
    ],
)
async def test_a_json_or_python_dbgpts_package_is_refused_saying_why(
    tmp_path: Path, kind: str, why: str
) -> None:
    package = zipped(
        {
            "greet/dbgpts.toml": dbgpts_toml(kind),
            "greet/definition/greet.yaml": greeting(),
            "greet/definition/flow_definition.json": "{}",
        }
    )
    async with running(tmp_path, shipped=CRUD) as client:
        said = await failed(await client.post(f"{V1}/flow/import", data=form(package)), 400)
        assert f"definition_type = '{kind}' is refused" in said and why in said
        assert (await ok(await client.get(f"{V1}/flows")))["total_count"] == 0


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"../evil.yaml": "x"}, "climbs out of the package"),
        ({"/etc/evil.yaml": "x"}, "is absolute"),
        ({"definition/bomb.txt": b"\0" * (9 * 1024 * 1024)}, "zip bomb"),
    ],
    ids=["slip", "absolute", "bomb"],
)
async def test_an_unsafe_zip_is_refused(
    tmp_path: Path, extra: dict[str, bytes | str], reason: str
) -> None:
    package = zipped({"dbgpts.toml": dbgpts_toml(), "definition/greet.yaml": greeting(), **extra})
    assert len(package) < 2 * 1024 * 1024
    async with running(tmp_path, shipped=CRUD) as client:
        said = await failed(
            await client.post(f"{V1}/flow/import?save_flow=true", data=form(package)), 400
        )
        assert "the package is refused" in said and reason in said
        assert (await ok(await client.get(f"{V1}/flows")))["total_count"] == 0


async def test_a_zip_that_is_no_package(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=CRUD) as client:
        said = await failed(await client.post(f"{V1}/flow/import", data=form(b"PK")), 400)
        assert "not a zip file" in said
        no_manifest = zipped({"greet.yaml": greeting()})
        said = await failed(await client.post(f"{V1}/flow/import", data=form(no_manifest)), 400)
        assert "dbgpts.toml" in said
