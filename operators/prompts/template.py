"""A stored prompt as a template: DB-GPT writes its variables as ``{name}`` (Python's
f-string style). Only the names given are replaced; any other brace (a JSON example in
the prompt) stays as written, so a stored prompt never fails to render."""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["fill", "variables_of"]

_VARIABLE = re.compile(r"\{(\w+)\}")


def variables_of(content: str) -> list[str]:
    """The ``{names}`` in ``content``, each once, in order.

    >>> variables_of("Answer {question} in {language}; {question}")
    ['question', 'language']
    """
    return list(dict.fromkeys(_VARIABLE.findall(content)))


def fill(content: str, values: Mapping[str, object]) -> str:
    """``content`` with each ``{name}`` that ``values`` has replaced by its value.

    >>> fill('Say {question} as {"json": 1}', {"question": "hi"})
    'Say hi as {"json": 1}'
    """
    return _VARIABLE.sub(lambda m: str(values[m[1]]) if m[1] in values else m[0], content)
