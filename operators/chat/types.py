"""What a chat scene takes and gives: one :class:`SceneCall` in, :class:`Progress` events
and one :class:`RoundDone` out.

A scene's flow never writes to the store or frames SSE: the chat route does both, so every
scene's round is saved the same way (one transaction, only once the round is whole) and
every stream has the same shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from operators.llm.types import ChatMessage, GenerationRequest
from operators.storage import Datasource

if TYPE_CHECKING:
    from operators.knowledge.rag import Recalled

__all__ = ["ModelDone", "Progress", "RoundDone", "SceneCall", "SceneEvent"]


@dataclass(frozen=True, slots=True)
class SceneCall:
    """One chat round as a scene sees it."""

    conv_uid: str
    chat_mode: str
    #: The question.
    user_input: str
    #: The scene argument (db name, file descriptor, flow name), as text; "" for none.
    select_param: str = ""
    #: The model that answers (resolved: a served name).
    model_name: str = ""
    temperature: float = 0.5
    max_new_tokens: int = 1024
    user_name: str | None = None
    sys_code: str | None = None
    app_code: str | None = None
    #: Earlier turns, oldest first (user/assistant, maybe a system message first).
    history: list[ChatMessage] = field(default_factory=list)
    ext_info: dict[str, Any] = field(default_factory=dict)
    #: Filled by the scene's own operators as it runs.
    datasource: Datasource | None = None
    schema: str = ""
    #: What the knowledge space ``select_param`` names gave the question (chat_knowledge).
    recalled: Recalled | None = None
    request: GenerationRequest | None = None
    #: A stored prompt the round names (``prompt_code``): its template replaces the scene's.
    stored_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """The whole text the user should see so far (cumulative, not a delta).

    ``draft`` text is replaced by the round's view at the end (a data scene's raw model
    answer): cumulative streams show it, delta streams skip it.
    """

    text: str
    draft: bool = False


@dataclass(frozen=True, slots=True)
class ModelDone:
    """The model finished (or failed: ``error``); ``text`` is all it wrote."""

    call: SceneCall
    text: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RoundDone:
    """The end of a round: what is stored and what the user sees last.

    ``ai`` is the model's answer as stored (for data scenes the JSON the editor reads),
    ``view`` the rendered text; ``error`` says the round did not give a usable answer (it is
    stored all the same).
    """

    ai: str
    view: str
    error: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


SceneEvent = Progress | ModelDone | RoundDone
