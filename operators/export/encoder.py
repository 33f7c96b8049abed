"""A Hugging Face encoder (sentence-transformers or bare) → an ONNX graph of token states.

The graph ends at ``last_hidden_state``; pooling and normalisation run in the worker
(:mod:`operators.pooling`), as the manifest written here prescribes. The export uses
torch's own exporter rather than optimum: optimum-onnx 0.1.0 pins ``transformers<4.58`` and
``optimum~=2.1.0``, which conflicts with the transformers 5 that the LLM path needs, while an
encoder's forward pass is simple enough to export directly, with batch and sequence length
dynamic.

Speed on a CPU comes from two steps after the export (measured in bench/RESULTS.md):

* **fusion**: onnxruntime's transformer optimizer folds each layer's attention into one
  ``Attention`` op, the embeddings into ``EmbedLayerNormalization`` and the activation into
  ``BiasGelu`` (285 nodes become 70 for MiniLM; the residual adds stay apart from their
  layer norms, see :func:`_fuse`). It recognises the attention of the TorchScript exporter's
  graph with eager attention only, so that is the graph exported for a model type it knows;
  any other encoder keeps the plain graph.
* **int8** (the default): every remaining MatMul's weights in blocks of 32 with their own
  scale and zero point (``MatMulNBits``, 8 bits, int8 arithmetic). Blocks this small keep
  the cosine to PyTorch at 0.9997, where the per-channel dynamic scheme reached only 0.985.

The tokenizer is saved without the fixed padding the shipped one carries (all-MiniLM-L6-v2's
pads every input to 128 tokens) and truncates at the model's sequence limit, so a batch is
padded to its longest sentence only.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import logging
import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "ENCODER_PRECISIONS",
    "MIN_COSINE",
    "check_encoder",
    "encoder_settings",
    "export_encoder",
]

#: int8 (block-wise weights) is the CPU default; fp32 is exact and the one for a GPU.
ENCODER_PRECISIONS = ("int8", "fp32")
#: Least cosine similarity to PyTorch a build must reach, per precision.
MIN_COSINE = {"fp32": 0.99, "int8": 0.99}
#: Model types whose graph onnxruntime's optimizer fuses (its "bert" recipe covers them).
FUSED_TYPES = frozenset({"bert", "roberta", "xlm-roberta", "camembert", "electra"})
#: Weight block of the int8 build: smaller blocks cost a little speed for a lot of accuracy.
INT8_BLOCK = 32

_CHECK_SENTENCES = [
    "The capital of France is Paris.",
    "hi",
    "A man is playing a guitar on stage while the crowd sings along with him.",
    "What is the weather like today?",
    "Dataflow engines run operators as soon as their inputs are ready.",
]
_COPIED = ("config.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def encoder_settings(src: Path, config: Any, tokenizer: Any) -> dict[str, Any]:
    """Pooling, normalisation and sequence limit, from sentence-transformers files if any.

    A bare encoder folder gets mean pooling and normalisation, the common choice for
    sentence embeddings.
    """
    pooling = "mean"
    pool_cfg = _read_json(src / "1_Pooling" / "config.json")
    if isinstance(pool_cfg, dict) and pool_cfg.get("pooling_mode_cls_token"):
        pooling = "cls"
    modules = _read_json(src / "modules.json")
    normalize = True
    if isinstance(modules, list):
        normalize = any(str(m.get("type", "")).endswith(".Normalize") for m in modules)
    limit = int(getattr(config, "max_position_embeddings", 512))
    st_cfg = _read_json(src / "sentence_bert_config.json")
    if isinstance(st_cfg, dict) and st_cfg.get("max_seq_length"):
        max_length = int(st_cfg["max_seq_length"])
    else:
        max_length = int(min(getattr(tokenizer, "model_max_length", limit), limit))
    return {
        "pooling": pooling,
        "normalize": normalize,
        "max_length": min(max_length, limit),
        "dimension": int(config.hidden_size),
    }


def _save_tokenizer(src: Path, out: Path, max_length: int) -> None:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(src / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    tokenizer.save(str(out / "tokenizer.json"))
    for name in _COPIED:
        if (src / name).exists():
            shutil.copy2(src / name, out / name)


def export_encoder(src: Path, out: Path, *, precision: str) -> dict[str, Any]:
    """Export the encoder in ``src`` into ``out/model.onnx``, with its tokenizer.

    Returns the manifest's ``embeddings`` section: pooling, normalize, max_length, dimension,
    and the graph's inputs and output.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    if precision not in ENCODER_PRECISIONS:
        raise ValueError(f"encoders build as {', '.join(ENCODER_PRECISIONS)}, not {precision!r}")
    out.mkdir(parents=True, exist_ok=True)
    config = AutoConfig.from_pretrained(src)
    tokenizer = AutoTokenizer.from_pretrained(src)
    fuse = config.model_type in FUSED_TYPES
    # Eager attention is the pattern the optimizer fuses; sdpa's graph it does not recognise.
    extra = {"attn_implementation": "eager"} if fuse else {}
    model = AutoModel.from_pretrained(src, dtype=torch.float32, **extra).eval()
    settings = encoder_settings(src, config, tokenizer)
    accepted = inspect.signature(model.forward).parameters
    inputs = [n for n in tokenizer.model_input_names if n in accepted]
    if "input_ids" not in inputs or "attention_mask" not in inputs:
        raise ValueError(f"{src}: the encoder does not take input_ids and attention_mask")

    class Encoder(torch.nn.Module):  # type: ignore[misc]  # torch is Any to mypy (skipped)
        """Positional inputs in a fixed order, one output: the last hidden state."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            hidden: torch.Tensor = self.inner(**dict(zip(inputs, tensors, strict=True)))[0]
            return hidden

    sample = tokenizer(_CHECK_SENTENCES[:2], padding=True, truncation=True, return_tensors="pt")
    args = tuple(sample[n] for n in inputs)
    dims = {0: "batch", 1: "sequence"}
    log = io.StringIO()
    large = sum(p.numel() * p.element_size() for p in model.parameters()) > (1 << 30)
    target = out / "model.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stdout(log), _quiet("torch.onnx"):
        # The exporter narrates its passes and warns about its own internals; neither is
        # actionable here, and the CLI's stdout is reserved for the resulting path.
        warnings.simplefilter("ignore")
        # The fusable graph comes from the TorchScript exporter; otherwise torch's dynamo
        # exporter, whose shapes say batch and sequence are dynamic (one entry: the tuple
        # that fills forward(*tensors)).
        how: dict[str, Any] = (
            {
                "dynamic_axes": {name: dims for name in [*inputs, "last_hidden_state"]},
                "opset_version": 17,
                "dynamo": False,
            }
            if fuse
            else {
                "dynamic_shapes": (tuple(dims for _ in inputs),),
                "dynamo": True,
                "external_data": large,
            }
        )
        torch.onnx.export(
            Encoder(model),
            args,
            str(target),
            input_names=inputs,
            output_names=["last_hidden_state"],
            **how,
        )
    fused = _fuse(target, config) if fuse else {}
    if precision == "int8":
        _quantize(target)
    (out / "build.log").write_text(log.getvalue(), encoding="utf-8")
    _save_tokenizer(src, out, settings["max_length"])
    return {**settings, "inputs": inputs, "output": "last_hidden_state", "fused": fused}


def check_encoder(src: Path, out: Path, settings: dict[str, Any], *, precision: str) -> float:
    """The least cosine similarity between PyTorch's and the ONNX graph's embeddings.

    Both sides pool with :func:`operators.pooling.pool`, over a batch padded to its longest
    sentence. Raises ValueError when it is below :data:`MIN_COSINE` for the precision.
    """
    import numpy as np
    import onnxruntime as ort
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel

    from ..pooling import pool

    inputs: list[str] = settings["inputs"]
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    fast = Tokenizer.from_file(str(out / "tokenizer.json"))
    encodings = fast.encode_batch(_CHECK_SENTENCES)
    width = max(len(e.ids) for e in encodings)
    feeds = {n: np.zeros((len(encodings), width), dtype=np.int64) for n in inputs}
    for row, enc in enumerate(encodings):
        given = {
            "input_ids": enc.ids,
            "attention_mask": enc.attention_mask,
            "token_type_ids": enc.type_ids,
        }
        for name in inputs:
            feeds[name][row, : len(enc.ids)] = given[name]
    (hidden,) = session.run([settings["output"]], feeds)
    mask = feeds["attention_mask"]
    ours = pool(hidden, mask, mode=settings["pooling"], normalize=True)
    model = AutoModel.from_pretrained(src, dtype=torch.float32).eval()
    with torch.inference_mode():
        states = model(**{n: torch.from_numpy(feeds[n]) for n in inputs})[0].numpy()
    theirs = pool(states, mask, mode=settings["pooling"], normalize=True)
    cosine = float(np.min(np.sum(ours * theirs, axis=1)))
    if cosine < MIN_COSINE[precision]:
        raise ValueError(
            f"the ONNX encoder's embeddings are {cosine:.4f} cosine-similar to PyTorch's, "
            f"below the {MIN_COSINE[precision]} a {precision} build needs"
        )
    return cosine


@contextlib.contextmanager
def _quiet(logger: str) -> Iterator[None]:
    # The exporter logs a warning for every optional torchvision op it cannot register.
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _fuse(path: Path, config: Any) -> dict[str, int]:
    """Fuse the graph at ``path`` in place; the count of each fused op made."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    # onnxruntime's CPU SkipLayerNormalization took 5x the time of LayerNormalization plus
    # Add on MiniLM's [40, 384] activations (the encoder's sessions also keep onnxruntime
    # from fusing them back at load): 9% of a batch-1 call.
    options.enable_skip_layer_norm = False
    with _quiet(""), _quiet("onnxruntime"):
        optimized = optimize_model(
            str(path),
            model_type="bert",
            num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size),
            optimization_options=options,
        )
    optimized.save_model_to_file(str(path))
    return {k: int(v) for k, v in optimized.get_fused_operator_statistics().items() if v}


def _quantize(path: Path) -> None:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    # Asymmetric 8-bit blocks of 32 along the input dimension; accuracy level 4 runs the
    # product in int8 (activations quantised per block too), which is where the speed is.
    with _quiet(""), _quiet("onnxruntime"):  # it logs every node it quantises
        quantizer = MatMulNBitsQuantizer(
            onnx.load(str(path)),
            bits=8,
            block_size=INT8_BLOCK,
            is_symmetric=False,
            accuracy_level=4,
        )
        quantizer.process()
    tmp = path.with_name("model.int8.onnx")
    onnx.save(quantizer.model.model, str(tmp))
    os.replace(tmp, path)
