"""``GET /flow/templates`` through the running server: the example flows, paged, in
DB-GPT's FlowPanel-ish shape with our YAML; uids stable; each template loads as a flow."""

from __future__ import annotations

from pathlib import Path

import pytest

from awel.spec import load_flow_text
from operators.userflows.templates import EXAMPLES, templates
from tests.server.conftest import running

SHIPPED = [Path(__file__).resolve().parents[2] / "flows" / "awel_flows" / "nodes.py"]


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
