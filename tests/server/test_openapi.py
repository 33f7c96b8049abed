"""The OpenAPI document and Swagger UI, against the real app on 127.0.0.1.

The document is pinned by a snapshot: ``AWEL_UPDATE_SNAPSHOTS=1 pytest tests/server`` writes
it again after an intended change (review the diff before committing it).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openapi_spec_validator import validate

from awel.cli import main
from server.app import reload_user_flows
from server.openapi import SERVER_TAG
from server.openapi_schema import to_openapi

from .conftest import FLOWS as SHIPPED_DIR
from .conftest import running

HELLO = [SHIPPED_DIR / "awel_examples" / "hello.py"]
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"

# A POST with a JSON model, an app `Result` and a response model.
NOTES = """
from pydantic import BaseModel, Field
from awel import DAG, MapOperator
from awel.trigger import HttpTrigger


class Meta(BaseModel):
    source: str | None = None
    priority: int = Field(1, ge=1, le=5, examples=[3])


class Body(BaseModel):
    title: str = Field(description="The note's title.")
    text: str | None = None
    tags: list[str] = []
    meta: Meta | None = None


class Saved(BaseModel):
    id: int
    title: str


class Save(MapOperator[Body, Saved]):
    async def map(self, body: Body) -> Saved:
        return Saved(id=1, title=body.title)


with DAG("notes_create", description="Save a note.") as dag:
    t = HttpTrigger("/notes", methods="POST", request_body=Body, response="result",
                    response_model=Saved, tags=["notes"])
    t >> Save(task_name="save")
"""

# A path parameter; its model is also called Body.
NOTE = """
from pydantic import BaseModel
from awel import DAG, MapOperator
from awel.trigger import HttpTrigger


class Body(BaseModel):
    note_id: int
    title: str | None = None


class Show(MapOperator[Body, dict]):
    async def map(self, body: Body) -> dict:
        return body.model_dump()


with DAG("note") as dag:
    t = HttpTrigger("/notes/{note_id}", methods=["GET", "PUT"], request_body=Body,
                    summary="Read or rename one note")
    t >> Show(task_name="show")
"""

# Server-Sent Events with OpenAI's error shapes.
COUNT = """
from collections.abc import AsyncIterator
from pydantic import BaseModel
from awel import DAG, StreamifyAbsOperator
from awel.trigger import HttpTrigger


class Ask(BaseModel):
    n: int = 3
    stream: bool = True


class Count(StreamifyAbsOperator[Ask, str]):
    async def streamify(self, ask: Ask) -> AsyncIterator[str]:
        for i in range(ask.n):
            yield "item " + str(i)


with DAG("count", description="Count to n.\\n\\nOne event per number.") as dag:
    t = HttpTrigger("/count", methods="POST", request_body=Ask, sse_end="[DONE]",
                    errors="openai", stream_errors="openai")
    t >> Count(task_name="count")
"""

# A multipart upload answered with text.
UPLOAD = """
from pydantic import BaseModel
from awel import DAG, MapOperator
from awel.trigger import HttpTrigger, UploadedFile


class Upload(BaseModel):
    file: UploadedFile
    note: str = ""


class Size(MapOperator[Upload, str]):
    async def map(self, up: Upload) -> str:
        return str(up.file.size)


with DAG("upload") as dag:
    t = HttpTrigger("/files/upload", methods="POST", request_body=Upload, response="text")
    t >> Size(task_name="size")
"""

FLOW_SOURCES = {"notes.py": NOTES, "note.py": NOTE, "count.py": COUNT, "upload.py": UPLOAD}


def write_flows(dags: Path) -> None:
    for name, source in FLOW_SOURCES.items():
        (dags / name).write_text(source)


def flow_paths(doc: dict[str, Any]) -> dict[str, Any]:
    """The document's flow routes: the server's own depend on its settings (metrics)."""
    return {
        path: item
        for path, item in doc["paths"].items()
        if not any(SERVER_TAG in op.get("tags", []) for op in item.values())
    }


def check_snapshot(name: str, value: Any) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("AWEL_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert path.exists(), f"no snapshot {path.name}; run with AWEL_UPDATE_SNAPSHOTS=1"
    assert value == json.loads(path.read_text(encoding="utf-8"))


async def test_document_of_the_flows_matches_the_snapshot(tmp_path: Path, dags: Path) -> None:
    write_flows(dags)
    async with running(tmp_path, shipped=HELLO) as client:
        resp = await client.get("/openapi.json")
        assert resp.status == 200
        assert resp.content_type == "application/json"
        doc = await resp.json()
    validate(doc)
    snapshot = {**doc, "paths": flow_paths(doc)}
    check_snapshot("openapi_flows.json", snapshot)


async def test_document_shape(tmp_path: Path, dags: Path) -> None:
    write_flows(dags)
    async with running(tmp_path, shipped=HELLO) as client:
        doc = await (await client.get("/openapi.json")).json()
    assert doc["openapi"] == "3.0.3"
    paths = doc["paths"]
    schemas = doc["components"]["schemas"]
    # Two flows' `Body` models keep their own names.
    assert {"notes_create.Body", "note.Body"} <= set(schemas)
    hello = paths["/api/v1/awel/trigger/examples/hello"]["get"]
    assert [(p["name"], p["in"], p.get("required", False)) for p in hello["parameters"]] == [
        ("name", "query", True),
        ("age", "query", False),
    ]
    note = paths["/api/v1/awel/trigger/notes/{note_id}"]
    assert note["get"]["parameters"][0] == {
        "name": "note_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    }
    put_body = note["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert "note_id" not in put_body["properties"]
    created = paths["/api/v1/awel/trigger/notes"]["post"]["responses"]["200"]
    envelope = created["content"]["application/json"]["schema"]
    assert envelope["properties"]["data"] == {"$ref": "#/components/schemas/notes_create.Saved"}
    assert "host_name" in envelope["required"]
    count = paths["/api/v1/awel/trigger/count"]["post"]["responses"]
    assert list(count["200"]["content"]) == ["text/event-stream"]
    assert "data: [DONE]" in count["200"]["description"]
    assert count["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OpenAIError"
    }
    upload = paths["/api/v1/awel/trigger/files/upload"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["properties"]["file"] == {
        "type": "string",
        "format": "binary",
    }
    assert {"/health", "/api/v1/awel/flows/errors"} <= set(paths)
    assert "/openapi.json" not in paths and "/docs" not in paths


async def test_swagger_ui_page_and_every_asset_it_loads_are_served(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=HELLO) as client:
        resp = await client.get("/docs")
        assert resp.status == 200
        assert resp.content_type == "text/html"
        page = await resp.text()
        # No CDN: the machines this runs on have no internet.
        assert "http://" not in page and "https://" not in page
        assert '"/openapi.json"' in page
        assets = re.findall(r'(?:href|src)="([^"]+)"', page)
        assert len(assets) == 4
        types = {
            ".css": {"text/css"},
            ".js": {"text/javascript", "application/javascript"},
            ".png": {"image/png"},
        }
        for asset in assets:
            assert asset.startswith("/docs/static/"), asset
            got = await client.get(asset)
            assert got.status == 200, asset
            assert got.content_type in types[Path(asset).suffix], asset
            assert len(await got.read()) > 0


async def test_document_follows_a_reload(tmp_path: Path, dags: Path) -> None:
    async with running(tmp_path, shipped=[]) as client:
        first = await (await client.get("/openapi.json")).read()
        assert "/api/v1/awel/trigger/notes" not in json.loads(first)["paths"]
        # Nothing changed: the same document.
        assert await (await client.get("/openapi.json")).read() == first
        (dags / "notes.py").write_text(NOTES)
        await reload_user_flows(client.app)
        doc = await (await client.get("/openapi.json")).json()
        assert "/api/v1/awel/trigger/notes" in doc["paths"]
        assert "notes_create.Body" in doc["components"]["schemas"]
        validate(doc)
        (dags / "notes.py").unlink()
        await reload_user_flows(client.app)
        doc = await (await client.get("/openapi.json")).json()
        assert "/api/v1/awel/trigger/notes" not in doc["paths"]
        assert "notes_create.Body" not in doc["components"]["schemas"]


def test_cli_prints_a_valid_document_of_the_shipped_flows() -> None:
    result = CliRunner().invoke(main, ["openapi"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    validate(doc)
    assert "/api/v1/awel/trigger/examples/hello" in doc["paths"]


def test_cli_documents_a_dags_folder_to_a_file(tmp_path: Path, dags: Path) -> None:
    write_flows(dags)
    out = tmp_path / "openapi.json"
    result = CliRunner().invoke(main, ["openapi", "--dags", str(dags), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stderr
    doc = json.loads(out.read_text())
    validate(doc)
    assert "/api/v1/awel/trigger/count" in doc["paths"]


def test_cli_fails_on_a_broken_user_flow(dags: Path) -> None:
    (dags / "broken.py").write_text("x = 1 +\n")
    result = CliRunner().invoke(main, ["openapi", "--dags", str(dags)])
    assert result.exit_code == 1
    assert "broken.py:1" in result.stderr
    assert result.stdout == ""


def _ref(target: str) -> str:
    return "#/components/schemas/f." + target.rsplit("/", 1)[-1]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"type": ["string", "null"]}, {"type": "string", "nullable": True}),
        (
            {"anyOf": [{"$ref": "#/$defs/M"}, {"type": "null"}], "default": None},
            {"allOf": [{"$ref": "#/components/schemas/f.M"}], "default": None, "nullable": True},
        ),
        (
            {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
            {"anyOf": [{"type": "integer"}, {"type": "string"}], "nullable": True},
        ),
        ({"const": "a", "type": "string"}, {"enum": ["a"], "type": "string"}),
        ({"type": "integer", "examples": [3, 4]}, {"type": "integer", "example": 3}),
        (
            {"type": "number", "exclusiveMinimum": 0},
            {"type": "number", "exclusiveMinimum": True, "minimum": 0},
        ),
        (
            {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
            {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]}},
        ),
        (
            {"$ref": "#/$defs/M", "description": "d"},
            {"allOf": [{"$ref": "#/components/schemas/f.M"}], "description": "d"},
        ),
        (
            {"type": "object", "propertyNames": {"enum": ["a"]}, "properties": {"const": {}}},
            {"type": "object", "properties": {"const": {}}},
        ),
    ],
)
def test_json_schema_becomes_openapi_3_0(given: dict[str, Any], expected: dict[str, Any]) -> None:
    assert to_openapi(given, _ref) == expected
