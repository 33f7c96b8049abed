"""``GET /flow/templates`` through the running server: the example flows, paged, in
DB-GPT's FlowPanel-ish shape with our YAML and its flow_data (the palette's ids); uids
stable; each template loads as a flow. And where the templates are found: the checkout's
``examples/``, or the copy a wheel carries (a real wheel is built and read)."""

from __future__ import annotations

import json
import runpy
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from awel.spec import load_flow_text
from operators.userflows.templates import EXAMPLES, PACKAGED, examples_folder, templates
from tests.server.conftest import running

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [ROOT / "flows" / "awel_flows" / "nodes.py"]


@pytest.mark.parametrize("base", ["/api/v1/serve/awel", "/api/v2/serve/awel"])
async def test_templates_are_the_examples(tmp_path: Path, base: str) -> None:
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert len(files) >= 3
    async with running(tmp_path, shipped=SHIPPED) as client:
        answer = await (await client.get(f"{base}/flow/templates?page_size=100")).json()
        assert answer["success"] is True
        page = answer["data"]
        assert page["total_count"] == len(files) and page["total_pages"] == 1
        items = page["items"]
        assert [t["yaml"] for t in items] == [f.read_text(encoding="utf-8") for f in files]
        hello = next(t for t in items if t["name"] == "examples.hello_yaml")
        assert (hello["label"], hello["define_type"], hello["flow_category"]) == (
            "Hello yaml",
            "yaml",
            "common",
        )
        assert hello["description"] == "Greets a person by name and age."
        assert hello["source_url"] == "examples/hello.yaml"
        chat = next(t for t in items if t["name"] == "examples.chat_stream")
        assert chat["flow_category"] == "chat_flow"
        assert chat["metadata"]["triggers"][0]["path"].startswith("/api/v1/awel/trigger/examples/")
        # The same uid on every read (and every server: derived from the name).
        again = await (await client.get(f"{base}/flow/templates?page_size=100")).json()
        assert [t["uid"] for t in again["data"]["items"]] == [t["uid"] for t in items]
        assert len({t["uid"] for t in items}) == len(items)
        second = await (await client.get(f"{base}/flow/templates?page=2&page_size=2")).json()
        assert [t["uid"] for t in second["data"]["items"]] == [t["uid"] for t in items[2:4]]
        resp = await client.get(f"{base}/flow/templates?page=0")
        assert resp.status == 400 and "page" in (await resp.json())["err_msg"]


async def test_templates_carry_flow_data_with_the_palettes_ids(tmp_path: Path) -> None:
    base = "/api/v1/serve/awel"
    async with running(tmp_path, shipped=SHIPPED) as client:
        items = (await (await client.get(f"{base}/flow/templates?page_size=100")).json())["data"][
            "items"
        ]
        palette = {n["id"] for n in (await (await client.get(f"{base}/nodes")).json())["data"]}
    assert items
    for template in items:
        drawn = template["flow_data"]
        nodes = drawn["nodes"]
        assert nodes, template["name"]
        for node in nodes:
            assert node["data"]["id"] in palette, (template["name"], node["data"]["id"])
            assert node["id"].startswith(node["data"]["id"] + "_")
        ids = {n["id"] for n in nodes}
        assert all(e["source"] in ids and e["target"] in ids for e in drawn["edges"])
    hello = next(t for t in items if t["name"] == "examples.hello_yaml")
    labels = [n["data"]["custom_label"] for n in hello["flow_data"]["nodes"]]
    assert labels == ["trigger", "greet"] and len(hello["flow_data"]["edges"]) == 1


def test_every_template_is_a_flow_that_loads() -> None:
    for template in templates():
        dag = load_flow_text(template["yaml"], template["source_url"])
        assert dag.dag_id == template["name"]


def test_a_folder_without_flows_and_a_broken_file(tmp_path: Path) -> None:
    assert templates(tmp_path / "missing") == []
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    (tmp_path / "ok.yaml").write_text("name: t.ok\ndescription: Fine.\nnodes: {}\n")
    assert [t["name"] for t in templates(tmp_path)] == ["t.ok"]


def test_the_packaged_copy_wins_over_the_checkout(tmp_path: Path) -> None:
    # In this checkout no copy exists: the examples folder is read.
    assert not PACKAGED.exists()
    assert examples_folder() == EXAMPLES
    assert examples_folder(tmp_path / "none", EXAMPLES) == EXAMPLES
    assert examples_folder(tmp_path, EXAMPLES) == tmp_path


def test_the_build_hook_copies_the_example_flows(tmp_path: Path) -> None:
    setup = runpy.run_path(str(ROOT / "setup.py"), run_name="awel_setup")
    written = setup["copy_examples"](tmp_path)
    folder = tmp_path / "operators" / "userflows" / "example_flows"
    assert sorted(p.name for p in written) == sorted(p.name for p in EXAMPLES.glob("*.yaml"))
    assert [t["yaml"] for t in templates(folder)] == [t["yaml"] for t in templates(EXAMPLES)]


def test_an_installed_wheel_finds_its_templates(tmp_path: Path) -> None:
    """Build the real wheel from a copy of the sources, unpack it as site-packages would
    hold it, and list the templates from there in a fresh interpreter."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(ROOT / name, src / name)
    skip = shutil.ignore_patterns(
        "__pycache__", "node_modules", "*.pyc", "example_flows", "example_hub"
    )
    for name in ("awel", "operators", "flows", "server", "examples"):
        shutil.copytree(ROOT / name, src / name, ignore=skip)
    out = tmp_path / "wheel"
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run(
        [*pip, "-w", str(out), str(src)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = out.glob("awel-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    script = (
        "import json\n"
        "from operators.userflows import templates as t\n"
        "from operators.agents.hub import DEFAULT_HUB as hub\n"
        "print(json.dumps([str(t.examples_folder()), [x['name'] for x in t.templates()],"
        " str(hub), sorted(p.name for p in hub.iterdir())]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    folder, names, hub, agents = json.loads(done.stdout)
    assert folder == str(site / "operators" / "userflows" / "example_flows")
    assert names == [t["name"] for t in templates(EXAMPLES)] and names
    # The shipped agent hub too: a server installed from the wheel has its default hub.
    assert hub == str(site / "operators" / "agents" / "example_hub")
    assert agents == sorted(p.name for p in (EXAMPLES / "agent_hub").iterdir() if p.is_dir())
