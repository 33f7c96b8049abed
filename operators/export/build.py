"""``build_model``: resolve a source, pick its recipe, and build it once into the cache.

A recipe turns one kind of source (an LLM, an encoder) into an ONNX model folder. Its
options, with the source's content hash, make the cache key (see :mod:`.cache`), so the
same request is answered from the cache in the time it takes to hash the weights.
"""

from __future__ import annotations

import contextlib
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol

from .cache import (
    BUILDER_VERSION,
    ModelInfo,
    build_key,
    build_lock,
    clear,
    hash_source,
    models_dir,
    partial_dir,
    publish,
)
from .sources import Kind, Source, SourceError, resolve

__all__ = ["RECIPES", "BuildError", "Progress", "Recipe", "build_model"]

#: ``progress(step, total, text)``: called as each step starts, numbered from 1.
Progress = Callable[[int, int, str], None]

DEVICES = ("cpu", "cuda")

#: Packages whose versions a manifest records (those installed).
_RECORDED = (
    "torch",
    "transformers",
    "gguf",
    "onnx",
    "onnxscript",
    "onnxruntime",
    "onnxruntime-genai",
    "tokenizers",
)


class BuildError(Exception):
    """A model could not be built; the message says why and, where it can, what to do."""


class Recipe(Protocol):
    """How one kind of source becomes an ONNX model folder."""

    def options(self, source: Source, precision: str | None, device: str) -> dict[str, Any]:
        """The build options (validated, defaults filled in); they are part of the cache key."""
        ...

    def steps(self, source: Source, options: dict[str, Any]) -> list[str]:
        """The steps :meth:`build` will report, in order."""
        ...

    def build(
        self, source: Source, options: dict[str, Any], out: Path, step: Callable[[], None]
    ) -> dict[str, Any]:
        """Write the model into ``out``; call ``step()`` as each listed step starts.

        Returns what the manifest should add about this build.
        """
        ...


@dataclass(frozen=True)
class LLMRecipe:
    """GGUF or Hugging Face causal LM → onnxruntime-genai model."""

    def options(self, source: Source, precision: str | None, device: str) -> dict[str, Any]:
        from .exact_grid import GRID_VERSION
        from .llm import BUILDER_OPTIONS, LLM_PRECISIONS, default_llm_precision

        chosen = precision or default_llm_precision(device)
        allowed = LLM_PRECISIONS[device]
        if chosen not in allowed:
            raise BuildError(
                f"{source.name}: an LLM for {device} builds as {', '.join(allowed)}, not {chosen}"
            )
        if chosen == "exact" and source.format != "gguf":
            raise BuildError(
                f"{source.name}: precision 'exact' keeps a GGUF file's own quantisation; "
                "this source is not one (use int8)"
            )
        options: dict[str, Any] = {
            "precision": chosen,
            "device": device,
            "builder_options": dict(BUILDER_OPTIONS.get((device, chosen), {})),
        }
        if chosen == "exact":
            # The rewrite's own version: a change to it must not reuse an older build.
            options["grid"] = GRID_VERSION
        return options

    def steps(self, source: Source, options: dict[str, Any]) -> list[str]:
        from .llm import REWRITTEN_FROM

        found = []
        if source.format == "gguf":
            found.append("dequantising the GGUF into a Hugging Face folder (transformers)")
        found.append(
            f"building the ONNX model with onnxruntime-genai "
            f"({REWRITTEN_FROM.get(options['precision'], options['precision'])}, "
            f"{options['device']})"
        )
        if options["precision"] in REWRITTEN_FROM:
            found.append("putting the GGUF's own quantisation blocks back into the graph")
        if options["device"] == "cpu":
            found.append("checking the tokenizer and a short answer with onnxruntime-genai")
        return found

    def build(
        self, source: Source, options: dict[str, Any], out: Path, step: Callable[[], None]
    ) -> dict[str, Any]:
        from .llm import REWRITTEN_FROM, build_onnx_llm, check_llm, genai_summary

        extras: dict[str, Any] = {}
        hf_dir = source.path
        if source.format == "gguf":
            from .gguf import gguf_to_hf

            step()
            hf_dir = out / ".hf"
            fixes = gguf_to_hf(source.path, hf_dir)
            extras["tokenizer_fixes"] = fixes.applied
        step()
        precision = options["precision"]
        build_onnx_llm(
            hf_dir,
            out,
            precision=REWRITTEN_FROM.get(precision, precision),
            device=options["device"],
            options=options["builder_options"],
        )
        if precision == "exact":
            from .exact_grid import rewrite_graph

            step()
            extras["grid"] = rewrite_graph(out, out).as_dict()
        if options["device"] == "cpu":
            # A CUDA build cannot run here; bench/gpu_check.sh checks it on a GPU machine.
            step()
            extras["check"] = check_llm(out, hf_dir)
        clear([out / ".hf", out / ".builder-cache"])
        extras["genai"] = genai_summary(out)
        return extras


@dataclass(frozen=True)
class EncoderRecipe:
    """Hugging Face encoder → ONNX graph of token states (pooling happens in the worker)."""

    def options(self, source: Source, precision: str | None, device: str) -> dict[str, Any]:
        from .encoder import ENCODER_PRECISIONS

        # int8 runs on onnxruntime's CPU kernels; a GPU gets the exact fp32 graph.
        chosen = precision or ("fp32" if device == "cuda" else "int8")
        if chosen not in ENCODER_PRECISIONS:
            raise BuildError(
                f"{source.name}: an encoder builds as {', '.join(ENCODER_PRECISIONS)}, not {chosen}"
            )
        # The device picks only the default precision, not the graph: any build runs on
        # every execution provider (onnxruntime places an op the GPU lacks on the CPU).
        # "export" names the graph recipe (3: fused for known types, layer norms apart, int8
        # in blocks), so a cache of an earlier graph is not reused for the same precision.
        return {"precision": chosen, "export": 3}

    def steps(self, source: Source, options: dict[str, Any]) -> list[str]:
        return [
            f"exporting the encoder to ONNX ({options['precision']}, torch.onnx)",
            "checking its embeddings against PyTorch's",
        ]

    def build(
        self, source: Source, options: dict[str, Any], out: Path, step: Callable[[], None]
    ) -> dict[str, Any]:
        from .encoder import check_encoder, export_encoder

        step()
        settings = export_encoder(source.path, out, precision=options["precision"])
        step()
        cosine = check_encoder(source.path, out, settings, precision=options["precision"])
        return {"embeddings": {**settings, "min_cosine": round(cosine, 7)}}


#: The recipe for each kind of source (tests put fakes here).
RECIPES: dict[Kind, Recipe] = {"llm": LLMRecipe(), "embeddings": EncoderRecipe()}


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _RECORDED:
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def build_model(
    name_or_path: str | Path,
    data_dir: Path,
    *,
    precision: str | None = None,
    device: str = "cpu",
    progress: Progress | None = None,
) -> Path:
    """Build a model to ONNX once and return its folder in ``<data_dir>/models/``.

    ``name_or_path`` is a known name (``smollm2``, ``all-minilm-l6-v2``), a Hugging Face
    folder or a GGUF file. ``precision`` defaults per kind and device (int8 on CPU; on
    CUDA fp16 for an LLM, fp32 for an encoder). A cached build with the same source bytes
    and options is returned at once. Raises :class:`BuildError`.
    """
    if device not in DEVICES:
        raise BuildError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
    report: Progress = progress or (lambda step, total, text: None)
    try:
        source = resolve(name_or_path)
    except SourceError as exc:
        raise BuildError(str(exc)) from None
    recipe = RECIPES[source.kind]
    options = recipe.options(source, precision, device)
    steps = recipe.steps(source, options)
    total = len(steps) + 1
    report(1, total, f"hashing {source.path}")
    source_hash = hash_source(source.path)
    key = build_key(source_hash, {"kind": source.kind, "format": source.format, **options})
    final = models_dir(data_dir) / f"{source.name}-{key[:12]}"
    if ModelInfo.load(final) is not None:
        report(total, total, "already built")
        return final
    with build_lock(final):
        if ModelInfo.load(final) is not None:  # built by another process while we waited
            report(total, total, "already built")
            return final
        partial = partial_dir(final)
        clear([partial, final])  # leftovers of an interrupted build of this key
        partial.mkdir(parents=True)
        numbered = iter(enumerate(steps, start=2))

        def step() -> None:
            number, text = next(numbered)
            report(number, total, text)

        started = time.monotonic()
        try:
            extras = recipe.build(source, options, partial, step)
        except ImportError as exc:
            clear([partial])
            raise BuildError(
                f"building {source.name} needs the export extra ({exc.name} is missing): "
                "pip install -e '.[export]'"
            ) from exc
        except BaseException as exc:
            clear([partial])
            if isinstance(exc, Exception) and not isinstance(exc, BuildError):
                raise BuildError(f"building {source.name} failed: {exc}") from exc
            raise
        manifest = {
            "name": source.name,
            "kind": source.kind,
            "key": key,
            "options": options,
            "builder": BUILDER_VERSION,
            "source": {
                "origin": source.origin,
                "path": str(source.path),
                "format": source.format,
                "sha256": source_hash,
            },
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "build_seconds": round(time.monotonic() - started, 1),
            "versions": _versions(),
            **extras,
        }
        return publish(partial, final, manifest)
