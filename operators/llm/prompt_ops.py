"""``prompt.chat``: a conversation built from jinja2 templates, for ``llm.chat``.

The templates render in the same sandbox as ``awel.format`` (jinja2's immutable sandbox,
``StrictUndefined``): the input's keys (or a model's fields) are top-level names and the
input itself is ``input`` (and ``x``, as in every awel expression). ``history`` is an
expression over the same names giving earlier turns (a list of ``{role, content}``), placed
between the system message and the new one.

    nodes:
      prompt:
        op: prompt.chat
        params:
          system: "You answer in {{ language }}."
          user: "{{ question }}"
          history: history
"""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError
from pydantic import Field, field_validator

from awel import MapOperator
from awel.builtin import compile_expression, compile_template, fields_of
from awel.errors import AwelError
from awel.registry import OperatorParams

from .chat_ops import InvalidChatInput, messages_of
from .types import ChatMessage

__all__ = ["PromptChat", "PromptChatParams", "PromptFailed"]


class PromptFailed(AwelError):
    """A template could not be rendered for this input (a name it uses is missing)."""

    code = "prompt.render_failed"


def _template(source: str | None) -> str | None:
    if source is None:
        return None
    try:
        compile_template(source)
    except TemplateSyntaxError as exc:
        raise ValueError(f"invalid template (line {exc.lineno}): {exc.message}") from None
    return source


class PromptChatParams(OperatorParams):
    """The templates of a conversation."""

    system: str | None = Field(None, description="A jinja2 template for the system message.")
    user: str = Field("{{ input }}", description="A jinja2 template for the user's message.")
    history: str | None = Field(
        None,
        description="A jinja2 expression giving earlier turns, a list of {role, content}.",
        examples=["history"],
    )

    @field_validator("system", "user")
    @classmethod
    def _templates_compile(cls, v: str | None) -> str | None:
        return _template(v)

    @field_validator("history")
    @classmethod
    def _history_compiles(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            compile_expression(v)
        except TemplateSyntaxError as exc:
            raise ValueError(f"invalid expression {v!r}: {exc.message}") from None
        return v


class PromptChat(MapOperator[Any, list[ChatMessage]]):
    """Renders a system message, earlier turns and a user message from the input."""

    Params = PromptChatParams

    def __init__(self, settings: PromptChatParams | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings = settings or PromptChatParams()
        self._system = compile_template(settings.system) if settings.system else None
        self._user = compile_template(settings.user)
        self._history = compile_expression(settings.history) if settings.history else None

    @classmethod
    def from_params(cls, params: PromptChatParams, **kwargs: Any) -> PromptChat:
        return cls(params, **kwargs)

    async def map(self, input_value: Any) -> list[ChatMessage]:
        # ``x`` is the input, as in every awel expression (awel.format, awel.set ...).
        names = {"input": input_value}
        names.update(fields_of(input_value))
        names["x"] = input_value
        try:
            messages: list[ChatMessage] = []
            if self._system is not None:
                messages.append(ChatMessage(role="system", content=self._system.render(names)))
            if self._history is not None:
                earlier = self._history(**names)
                if earlier:
                    messages += messages_of(list(earlier))
            messages.append(ChatMessage(role="user", content=self._user.render(names)))
        except TemplateError as exc:
            raise PromptFailed(f"the prompt cannot be rendered: {exc.message}") from None
        except (InvalidChatInput, TypeError) as exc:
            raise PromptFailed(f"the history is not a list of messages: {exc}") from None
        return messages
