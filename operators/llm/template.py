"""A model's chat template, rendered the way transformers renders it.

The template is the model's own Jinja source (``chat_template.jinja`` beside the tokenizer,
or ``chat_template`` in ``tokenizer_config.json``). It comes with the model, so it is
untrusted code: it runs in jinja2's immutable sandbox, which refuses attribute tricks and
in-place mutation. The environment matches transformers' (``trim_blocks``, ``lstrip_blocks``,
the ``loopcontrols`` extension, ``raise_exception`` and ``strftime_now``), so a prompt
rendered here tokenizes exactly as ``apply_chat_template`` would (a test pins this).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, NoReturn

from jinja2 import Template, TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["ChatTemplate", "ChatTemplateError"]


class ChatTemplateError(ValueError):
    """The template is missing, does not compile, or refused the conversation."""


def _raise_exception(message: str) -> NoReturn:
    # Templates call this to reject a conversation (e.g. roles out of order).
    raise ChatTemplateError(f"the chat template refused the messages: {message}")


def _tojson(value: Any, indent: int | None = None) -> str:
    # transformers' tojson keeps non-ASCII text as it is, unlike jinja2's (HTML-safe) one.
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


class ChatTemplate:
    """A compiled chat template and the special tokens it may refer to.

    >>> t = ChatTemplate("{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}")
    >>> t.render([{"role": "user", "content": "hi"}])
    '<user>hi'
    """

    def __init__(self, source: str, *, special_tokens: Mapping[str, str] | None = None) -> None:
        self.source = source
        self.special_tokens = dict(special_tokens or {})

    @cached_property
    def _template(self) -> Template:
        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]
        )
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = _strftime_now
        try:
            return env.from_string(self.source)
        except TemplateError as exc:
            raise ChatTemplateError(f"the chat template does not compile: {exc}") from exc

    @classmethod
    def from_folder(cls, folder: Path) -> ChatTemplate | None:
        """The template of a model folder, or None when the model has none."""
        config_path = folder / "tokenizer_config.json"
        config: dict[str, Any] = {}
        if config_path.exists():
            config = json.loads(config_path.read_text(encoding="utf-8"))
        specials = {
            key: value
            for key in ("bos_token", "eos_token", "pad_token", "unk_token")
            if isinstance(value := _token_text(config.get(key)), str)
        }
        jinja_path = folder / "chat_template.jinja"
        if jinja_path.exists():
            return cls(jinja_path.read_text(encoding="utf-8"), special_tokens=specials)
        source = config.get("chat_template")
        if isinstance(source, list):  # named templates: the default one is for chat
            named = {item.get("name"): item.get("template") for item in source}
            source = named.get("default")
        return cls(source, special_tokens=specials) if isinstance(source, str) else None

    def render(
        self, messages: Sequence[Mapping[str, Any]], *, add_generation_prompt: bool = True
    ) -> str:
        """The prompt text for ``messages``, ending with the assistant's turn opened."""
        try:
            return self._template.render(
                messages=[dict(m) for m in messages],
                add_generation_prompt=add_generation_prompt,
                **self.special_tokens,
            )
        except ChatTemplateError:
            raise
        except TemplateError as exc:
            raise ChatTemplateError(f"the chat template failed: {exc}") from exc


def _token_text(value: Any) -> str | None:
    # Older tokenizer configs spell a special token as {"content": "<s>", ...}.
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None
