"""A Hugging Face causal LM folder → an onnxruntime-genai model folder.

The conversion is onnxruntime-genai's own model builder, run as a subprocess
(``python -m onnxruntime_genai.models.builder``): its command line is the interface its
authors document and keep stable, its Python entry points are not, and a subprocess hands
back all the memory the conversion took. Its output goes to ``build.log`` in the model folder.

Precision choices, measured on SmolLM2-135M (see ``bench/RESULTS.md``): ``exact`` (a GGUF
source only) keeps the GGUF's own 4-bit and 8-bit blocks (:mod:`.exact_grid`): closer to the
dequantised model than int8 on average, smaller and faster;
``int8`` weights with asymmetric (zero-point) blocks keep teacher-forced greedy tokens within
a few percent of PyTorch; the builder's ``int4`` re-quantises and loses about a fifth of
them; ``fp32`` matches PyTorch token for token and is about three times slower.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "BUILDER_OPTIONS",
    "LLM_PRECISIONS",
    "REWRITTEN_FROM",
    "build_onnx_llm",
    "check_llm",
    "default_llm_precision",
]

#: The precisions the builder supports per execution provider (device).
LLM_PRECISIONS: dict[str, tuple[str, ...]] = {
    "cpu": ("exact", "int4", "int8", "fp32"),
    "cuda": ("int4", "int8", "fp16", "bf16", "fp32"),
}

#: Builder ``--extra_options`` per (device, precision); part of the cache key.
BUILDER_OPTIONS: dict[tuple[str, str], dict[str, str]] = {
    # Zero points follow each block's range: measured closer to PyTorch than symmetric int8.
    ("cpu", "int8"): {"is_symmetric": "false"},
}

_LOG_TAIL = 25


#: Precisions built by rewriting the builder's graph of another: ``exact`` is the fp32 graph
#: with the GGUF's blocks put back (:mod:`.exact_grid`).
REWRITTEN_FROM: dict[str, str] = {"exact": "fp32"}


def default_llm_precision(device: str) -> str:
    """int8 on CPU (quality close to fp32); fp16 on CUDA.

    ``exact`` measured closer to the dequantised GGUF and a tenth faster for one stream
    (``bench/RESULTS.md``), but flips the first token of "What is the capital of France?", a
    near-tie in fp32 that the int8 build keeps and llama.cpp on the same GGUF flips too; for
    eight streams it is a little slower. Not the default.
    """
    return "fp16" if device == "cuda" else "int8"


class BuilderFailed(RuntimeError):
    """The model builder exited with an error; the message ends with its log."""


def build_onnx_llm(
    hf_dir: Path,
    out: Path,
    *,
    precision: str,
    device: str,
    options: Mapping[str, str],
    python: str | None = None,
) -> None:
    """Run the onnxruntime-genai builder on ``hf_dir``, writing the model into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    cache = out / ".builder-cache"
    command = [
        python or sys.executable,
        "-m",
        "onnxruntime_genai.models.builder",
        "-i",
        str(hf_dir),
        "-o",
        str(out),
        "-p",
        precision,
        "-e",
        device,
        "-c",
        str(cache),
    ]
    if options:
        command += ["--extra_options", *(f"{k}={v}" for k, v in sorted(options.items()))]
    # Offline by construction: the input is a local folder, and nothing may reach a hub.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    log = out / "build.log"
    with log.open("w", encoding="utf-8") as fh:
        fh.write(" ".join(command) + "\n")
        fh.flush()
        done = subprocess.run(command, stdout=fh, stderr=subprocess.STDOUT, env=env, check=False)
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-_LOG_TAIL:]
        raise BuilderFailed(
            f"the onnxruntime-genai model builder exited with {done.returncode}:\n"
            + "\n".join(tail)
        )
    if not (out / "genai_config.json").exists():
        raise BuilderFailed(f"the model builder wrote no genai_config.json into {out}")


_CHECK_PROMPT = "What is the capital of France?"


def check_llm(model_dir: Path, hf_dir: Path, *, max_new_tokens: int = 16) -> dict[str, Any]:
    """Load the built model with onnxruntime-genai, as serving will, and try it once.

    The runtime's tokenizer must encode a chat prompt exactly as the transformers tokenizer
    does (this catches a doubled BOS and a lost chat template), and a short greedy answer is
    recorded in the manifest for people to read. Raises ValueError on a mismatch.
    """
    import numpy as np
    import onnxruntime_genai as og
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(hf_dir)
    messages = [{"role": "user", "content": _CHECK_PROMPT}]
    model = og.Model(str(model_dir))
    tokenizer = og.Tokenizer(model)
    if getattr(reference, "chat_template", None):
        prompt = reference.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        runtime_prompt = tokenizer.apply_chat_template(
            json.dumps(messages), add_generation_prompt=True
        )
        if runtime_prompt != prompt:
            raise ValueError(
                f"onnxruntime-genai renders the chat template differently:\n"
                f"{runtime_prompt!r}\nvs transformers:\n{prompt!r}"
            )
    else:
        prompt = _CHECK_PROMPT
    expected = list(reference(prompt)["input_ids"])
    ids = [int(i) for i in tokenizer.encode(prompt)]
    if ids != expected:
        raise ValueError(
            f"onnxruntime-genai tokenizes the prompt as {ids[:8]}..., "
            f"transformers as {expected[:8]}..."
        )
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(ids) + max_new_tokens, do_sample=False)
    generator = og.Generator(model, params)
    generator.append_tokens(np.asarray(ids, dtype=np.int32))
    answer: list[int] = []
    while not generator.is_done():
        generator.generate_next_token()
        answer.append(int(generator.get_next_tokens()[0]))
    return {
        "prompt": _CHECK_PROMPT,
        "answer": tokenizer.decode(np.asarray(answer, dtype=np.int32)),
        "prompt_tokens": len(ids),
    }


def genai_summary(model_dir: Path) -> dict[str, Any]:
    """The serving-relevant facts of a built model, from its genai_config.json."""
    config = json.loads((model_dir / "genai_config.json").read_text(encoding="utf-8"))
    model = config.get("model", {})
    return {
        "context_length": model.get("context_length"),
        "eos_token_id": model.get("eos_token_id"),
        "pad_token_id": model.get("pad_token_id"),
        "type": model.get("type"),
    }


def decoder_logits(model_dir: Path, ids: list[int]) -> Any:
    """Logits for every position of ``ids`` from a built decoder graph, in one pass.

    No KV cache: the past inputs are given empty. This is how a build is compared with
    PyTorch position by position (teacher forcing), which a free-running comparison cannot
    do once one near-tie flips a token.
    """
    import numpy as np
    import onnxruntime as ort

    config = json.loads((model_dir / "genai_config.json").read_text())["model"]["decoder"]
    session = ort.InferenceSession(
        str(model_dir / config["filename"]), providers=["CPUExecutionProvider"]
    )
    tokens = np.asarray([ids], dtype=np.int64)
    feeds: dict[str, Any] = {"input_ids": tokens, "attention_mask": np.ones_like(tokens)}
    empty = np.zeros((1, config["num_key_value_heads"], 0, config["head_size"]), np.float32)
    for item in session.get_inputs():
        if item.name.startswith("past_key_values"):
            feeds[item.name] = empty
    return session.run(["logits"], feeds)[0][0]
