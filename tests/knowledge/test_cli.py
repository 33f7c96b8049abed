"""``awel knowledge add`` and ``query`` on a data folder with the real embeddings model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from operators.knowledge.cli import knowledge
from tests.knowledge.conftest import DATA_DIR, EMBEDDER
from tests.knowledge.documents import pdf


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    models = DATA_DIR / "models"
    if not any(models.glob(f"{EMBEDDER}-*")):
        pytest.skip(f"{EMBEDDER} is not built in {DATA_DIR}: run `make models`")
    folder = tmp_path / "data"
    folder.mkdir()
    # The built models, shared; the database and the kept files, this test's own.
    (folder / "models").symlink_to(models)
    return folder


def test_files_are_added_with_progress_and_queried(data_dir: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Parking\n\nVisitors park in the north lot, staff in the garage.\n")
    manual = tmp_path / "manual.pdf"
    manual.write_bytes(pdf(["The coffee machine is descaled every Friday."]))
    runner = CliRunner()
    common = ["--data-dir", str(data_dir)]

    result = runner.invoke(knowledge, ["add", "office", str(notes), str(manual), *common])
    assert result.exit_code == 0, result.output
    assert "notes.md: 1 chunks" in result.stdout and "manual.pdf: 1 chunks" in result.stdout
    assert "notes.md" in result.stderr  # the progress bar's label

    # Adding a file again replaces it.
    notes.write_text("# Parking\n\nEveryone parks in the south lot now.\n")
    result = runner.invoke(knowledge, ["add", "office", str(notes), *common])
    assert result.exit_code == 0, result.output

    result = runner.invoke(
        knowledge, ["query", "office", "where do I park?", "--json", "--top-k", "1", *common]
    )
    assert result.exit_code == 0, result.output
    (chunk,) = json.loads(result.stdout)
    assert chunk["doc_name"] == "notes.md" and "south lot" in chunk["content"]

    result = runner.invoke(knowledge, ["query", "office", "descaling the coffee machine", *common])
    assert result.exit_code == 0 and "manual.pdf" in result.stdout.splitlines()[0]


def test_errors_are_said_plainly(data_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    common = ["--data-dir", str(data_dir)]
    result = runner.invoke(knowledge, ["query", "nowhere", "hello", *common])
    assert result.exit_code == 1 and "no knowledge space named 'nowhere'" in result.stderr
    picture = tmp_path / "photo.png"
    picture.write_bytes(b"\x89PNG")
    result = runner.invoke(knowledge, ["add", "office", str(picture), *common])
    assert result.exit_code == 1 and "photo.png: failed:" in result.stderr
    result = runner.invoke(knowledge, ["add", "office", str(picture), "--model", "nope", *common])
    assert result.exit_code == 1 and "'nope' is not built" in result.stderr
