"""Guided decoding: the local engine's answers follow a JSON schema, a regex or a grammar.

onnxruntime-genai's ``set_guidance`` belongs to its ``Generator``, which our engine does not
use (see :mod:`.scheduler`), so the constraint is applied here with llguidance, the library
behind it:

- A request's :class:`~operators.llm.types.Guidance` becomes an llguidance grammar
  (:func:`grammar_of`) and is checked before the request is queued (:func:`check`), without
  the model: a bad schema is the caller's error, named ``params.guidance``.
- Per model, the tokenizer's vocabulary is turned once into an ``LLTokenizer``
  (:func:`grammar_tokenizer`, about 0.3 s for a 49k vocabulary, done on first use).
- Per request, a :class:`Guide` holds the grammar's matcher. Before each sampling it computes
  the bit mask of the tokens the grammar allows next and sets every other token's logit to
  minus infinity; after sampling it feeds the token to the matcher. When the grammar is
  complete (a JSON object closed) the answer ends with ``finish_reason="stop"``.

Only guided rows pay for this: a batch row without guidance never sees a mask.

JSON is written compactly with ``": "`` and ``", "`` separators and no other whitespace: a
small model allowed free whitespace between tokens can spend its whole budget on newlines.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
from llguidance import LLMatcher, LLTokenizer
from llguidance.numpy import fill_next_token_bitmask

from .types import Guidance

__all__ = ["GuidanceFailed", "Guide", "check", "grammar_of", "grammar_tokenizer"]

#: How JSON schemas compile (llguidance's JsonCompileOptions).
JSON_OPTIONS: dict[str, Any] = {
    "whitespace_flexible": False,
    "key_separator": ": ",
    "item_separator": ", ",
}


_HALF = np.float32(0.5)
_INF = np.float32(np.inf)


class GuidanceFailed(RuntimeError):
    """The grammar's matcher failed mid-answer (a limit of the parser was hit)."""


def grammar_of(guidance: Guidance) -> str:
    """The llguidance grammar (its JSON form) for ``guidance``."""
    if guidance.json_schema is not None:
        return LLMatcher.grammar_from_json_schema(
            guidance.json_schema,
            defaults=JSON_OPTIONS,  # type: ignore[arg-type]
        )
    if guidance.regex is not None:
        return LLMatcher.grammar_from_regex(guidance.regex)
    assert guidance.lark is not None
    return LLMatcher.grammar_from_lark(guidance.lark)


def check(guidance: Guidance) -> str | None:
    """Why ``guidance`` cannot be used, or None when it compiles. Needs no model."""
    try:
        grammar = grammar_of(guidance)
    except ValueError as exc:
        return str(exc)
    error, messages = LLMatcher.validate_grammar_with_warnings(grammar)
    if error:
        return _one_line(messages[0] if messages else "the grammar does not compile")
    return None


def _one_line(message: str) -> str:
    # llguidance follows its message with excerpts and carets; of those only the regex
    # parser's "error: ..." line adds what is wrong.
    lines = [line.strip() for line in message.strip().splitlines()] or [message]
    return " ".join([lines[0], *(line for line in lines[1:] if line.startswith("error:"))])


def grammar_tokenizer(tokenizer: Any, eos_token_ids: Iterable[int]) -> LLTokenizer:
    """llguidance's view of a ``tokenizers.Tokenizer`` (slow: build once per model)."""
    return LLTokenizer(tokenizer.to_str(), eos_token=sorted(eos_token_ids))


class Guide:
    """One request's grammar state; its methods run in the engine's worker thread."""

    def __init__(self, tokenizer: LLTokenizer, guidance: Guidance) -> None:
        self._matcher = LLMatcher(tokenizer, grammar_of(guidance), log_level=0)
        if self._matcher.is_error():
            raise ValueError(_one_line(self._matcher.get_error()))
        self._vocab = tokenizer.vocab_size
        self._bits = np.zeros((1, (self._vocab + 31) // 32), np.int32)

    @property
    def done(self) -> bool:
        """The grammar is complete: nothing but the end of the answer may follow."""
        return self._matcher.is_stopped()

    def fill(self) -> None:
        """Compute which tokens the grammar allows next (before :meth:`allows`, :meth:`apply`)."""
        fill_next_token_bitmask(self._matcher, self._bits)
        if self._matcher.is_error():
            raise GuidanceFailed(self._matcher.get_error())

    def allows(self, token: int) -> bool:
        """Whether the last :meth:`fill` allows ``token``."""
        if not 0 <= token < self._vocab:
            return False
        return bool((int(self._bits[0, token >> 5]) >> (token & 31)) & 1)

    def apply(self, logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """``logits`` with every token the last :meth:`fill` forbids at minus infinity (a new
        array). Logits past the tokenizer's vocabulary (padding some exports add) are
        forbidden too."""
        n = min(self._vocab, logits.shape[0])
        flags = np.unpackbits(self._bits.view(np.uint8), count=n, bitorder="little")
        # Allowed: +inf, forbidden: -inf; the minimum with the logits keeps or forbids each.
        # Branch-free: several times faster than np.where or a boolean copy on a dense mask.
        cap: npt.NDArray[np.float32] = (flags.astype(np.float32) - _HALF) * _INF
        if n < logits.shape[0]:
            cap = np.concatenate([cap, np.full(logits.shape[0] - n, -np.inf, np.float32)])
        return np.minimum(logits, cap)

    def mask(self, logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """:meth:`fill`, then :meth:`apply`."""
        self.fill()
        return self.apply(logits)

    def consume(self, token: int) -> None:
        """Advance past the sampled ``token``."""
        if not self._matcher.consume_token(token):
            raise GuidanceFailed(
                self._matcher.get_error() or f"the grammar does not allow token {token}"
            )
