"""Installing a web UI from a dbgpt-app wheel and serving it at ``/`` (server/ui_install.py,
server/web_ui.py), with wheels this test writes itself: the real one's browser tests are in
tests/webui/."""

from __future__ import annotations

import base64
import hashlib
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from server.ui_cli import ui
from server.ui_install import UIRefused, choose_build, install_wheel, installed_uis

from .conftest import running

PAGES = {
    "index.html": b"<html>home</html>",
    "404.html": b"<html>not found</html>",
    "chat/index.html": b"<html>chat</html>",
    "construct/flow/index.html": b"<html>flows</html>",
    "construct/tasks/[taskId]/index.html": b"<html>one task</html>",
    "prompt.html": b"<html>prompt (flat layout)</html>",
    "_next/static/chunks/app-1a2b.js": b"console.log(1)",
    "_next/static/css/site.css": b"body{}",
    "icons/db.svg": b"<svg/>",
    "favicon.ico": b"\x00\x00\x01\x00",
}


def _hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(
    path: Path,
    version: str = "9.9.9",
    *,
    extra: dict[str, bytes] | None = None,
    record_override: dict[str, bytes] | None = None,
    symlink: str | None = None,
) -> Path:
    """A dbgpt-app wheel holding both builds (old_web, web) of ``PAGES``, and RECORD."""
    files: dict[str, bytes] = {"dbgpt_app/__init__.py": b""}
    for build in ("old_web", "web"):
        for name, data in PAGES.items():
            files[f"dbgpt_app/static/{build}/{name}"] = data
    files.update(extra or {})
    record = [f"{n},sha256={_hash(d)},{len(d)}" for n, d in files.items()]
    for name, data in (record_override or {}).items():
        record.append(f"{name},sha256={_hash(data)},{len(data)}")
    record.append(f"dbgpt_app-{version}.dist-info/RECORD,,")
    wheel = path / f"dbgpt_app-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, "/etc/passwd")
        z.writestr(f"dbgpt_app-{version}.dist-info/RECORD", "\n".join(record) + "\n")
    return wheel


def test_install_unpacks_only_the_two_builds(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path)
    done = install_wheel(wheel, tmp_path / "ui")
    assert done.version == "9.9.9" and done.builds == ("old", "new")
    root = tmp_path / "ui" / "9.9.9"
    assert sorted(p.name for p in root.iterdir()) == ["new", "old", "ui.json"]
    assert (root / "old" / "chat" / "index.html").read_bytes() == b"<html>chat</html>"
    assert not list(tmp_path.glob("ui/.*")), "no staging folder is left behind"
    # Again over the same version: replaced whole.
    install_wheel(wheel, tmp_path / "ui")
    assert [u.version for u in installed_uis(tmp_path / "ui")] == ["9.9.9"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"extra": {"dbgpt_app/static/web/../../../evil.txt": b"x"}}, "climbs out"),
        ({"extra": {"dbgpt_app/static/web/x\\y.txt": b"x"}}, "backslash"),
        ({"symlink": "dbgpt_app/static/web/link"}, "symlink"),
        ({"record_override": {"dbgpt_app/static/web/index.html": b"other"}}, "RECORD"),
    ],
)
def test_install_refuses_an_unsafe_wheel(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    # record_override: RECORD's later line for a file wins, and its hash no longer matches.
    wheel = make_wheel(tmp_path, **kwargs)
    with pytest.raises(UIRefused, match=message):
        install_wheel(wheel, tmp_path / "ui")
    assert installed_uis(tmp_path / "ui") == []
    assert not (tmp_path / "evil.txt").exists()


def test_install_refuses_a_file_missing_from_record_and_a_wrong_version(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path)
    with zipfile.ZipFile(wheel, "a") as z:
        z.writestr("dbgpt_app/static/web/unlisted.js", b"x")
    with pytest.raises(UIRefused, match="not listed"):
        install_wheel(wheel, tmp_path / "ui")
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(UIRefused, match=r"not 0\.8\.2"):
        install_wheel(make_wheel(other, "9.9.8"), tmp_path / "ui", version="0.8.2")
    bad = tmp_path / "not.whl"
    bad.write_bytes(b"no zip")
    with pytest.raises(UIRefused, match="not a wheel"):
        install_wheel(bad, tmp_path / "ui")


def test_the_command_installs_from_a_wheel_file(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path)
    result = CliRunner().invoke(
        ui, ["install", "--wheel", str(wheel), "--data-dir", str(tmp_path / "data")]
    )
    assert result.exit_code == 0, result.output
    assert "installed DB-GPT 9.9.9's web UIs (old, new)" in result.output
    listed = CliRunner().invoke(ui, ["list", "--data-dir", str(tmp_path / "data")])
    assert "9.9.9\told, new" in listed.output


def test_choosing_a_build(tmp_path: Path) -> None:
    ui_dir = tmp_path / "ui"
    assert choose_build(ui_dir, None)[0] is None
    assert choose_build(ui_dir, "off")[0] is None
    with pytest.raises(UIRefused, match="awel ui install"):
        choose_build(ui_dir, "new")
    install_wheel(make_wheel(tmp_path), ui_dir)
    assert choose_build(ui_dir, None)[0] == ui_dir / "9.9.9" / "old"
    assert choose_build(ui_dir, "new")[0] == ui_dir / "9.9.9" / "new"


async def test_without_a_ui_the_root_page_says_how_to_install_it(tmp_path: Path) -> None:
    async with running(tmp_path) as client:
        resp = await client.get("/")
        text = await resp.text()
        assert resp.status == 200 and resp.content_type == "text/html"
        assert 'href="/docs"' in text and 'href="/flows"' in text and "awel ui install" in text
        resp = await client.get("/chat", headers={"Accept": "text/html"})
        assert resp.status == 404


async def test_the_ui_is_served_with_the_api_first(tmp_path: Path) -> None:
    ui_dir = tmp_path / "ui"
    install_wheel(make_wheel(tmp_path), ui_dir)
    page = {"Accept": "text/html,application/xhtml+xml"}
    async with running(tmp_path, ui_dir=ui_dir, web_ui="new") as client:
        resp = await client.get("/")
        assert await resp.read() == b"<html>home</html>"
        assert resp.headers["Cache-Control"] == "no-cache"
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        for path in ("/chat", "/chat/", "/chat/index.html"):
            assert await (await client.get(path)).read() == b"<html>chat</html>", path
        # Next's flat layout, and a dynamic page.
        assert await (await client.get("/prompt")).read() == b"<html>prompt (flat layout)</html>"
        assert await (await client.get("/construct/tasks/42")).read() == b"<html>one task</html>"
        # Assets: their type, and a year's cache for the content-hashed ones.
        resp = await client.get("/_next/static/chunks/app-1a2b.js")
        assert resp.headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert "immutable" in resp.headers["Cache-Control"]
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        resp = await client.get("/icons/db.svg")
        assert resp.headers["Content-Type"] == "image/svg+xml"
        assert resp.headers["Cache-Control"] == "public, max-age=3600"
        # A client-side route the export has no file for: the home page, for a browser.
        resp = await client.get("/somewhere/else", headers=page)
        assert resp.status == 200 and await resp.read() == b"<html>home</html>"
        # ... but a missing asset or an XHR stays a 404, and the API's paths are the API's.
        assert (await client.get("/_next/static/chunks/missing.js")).status == 404
        assert (await client.get("/somewhere/else")).status == 404
        resp = await client.get("/api/v1/nothing/here", headers=page)
        assert resp.status == 404 and (await resp.json())["success"] is False
        resp = await client.get("/api/v1/chat/dialogue/list")
        assert resp.status == 200 and (await resp.json())["success"] is True
        # Only GET and HEAD.
        assert (await client.head("/chat")).status == 200
        assert (await client.post("/chat", headers=page)).status == 404


@pytest.mark.parametrize(
    "path",
    [
        "/../ui.json",
        "/%2e%2e/ui.json",
        "/..%2fui.json",
        "/chat/..%2f..%2fui.json",
        "/%2e%2e%2f%2e%2e%2fetc/passwd",
        "/.%2e/.%2e/etc/passwd",
        "/C:%5cwindows",
        "/chat/%00",
    ],
)
async def test_no_path_reaches_outside_the_build(tmp_path: Path, path: str) -> None:
    ui_dir = tmp_path / "ui"
    install_wheel(make_wheel(tmp_path), ui_dir)
    async with running(tmp_path, ui_dir=ui_dir) as client:
        resp = await client.get(path, headers={"Accept": "*/*"})
        body = await resp.read()
        assert resp.status in (400, 404), (path, resp.status)
        assert b'"dist"' not in body and b"root:" not in body


async def test_with_keys_the_ui_is_open_and_the_api_is_not(tmp_path: Path) -> None:
    ui_dir = tmp_path / "ui"
    install_wheel(make_wheel(tmp_path), ui_dir)
    async with running(tmp_path, ui_dir=ui_dir, api_keys=["k1"]) as client:
        assert (await client.get("/")).status == 200
        assert (await client.get("/_next/static/css/site.css")).status == 200
        assert (await client.get("/api/v1/chat/dialogue/list")).status == 401
        assert (await client.get("/api/v1/nothing")).status == 401
        assert (await client.post("/chat")).status == 401
        keyed = {"Authorization": "Bearer k1"}
        assert (await client.get("/api/v1/chat/dialogue/list", headers=keyed)).status == 200
