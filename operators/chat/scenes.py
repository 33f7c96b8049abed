"""DB-GPT's chat scenes: the :class:`Scene` record each scene declares beside its flow
(``flows/chat/scenes/``), and what is derived from the records: the list the UI shows
(``POST /api/v1/chat/dialogue/scenes``, in DB-GPT 0.8.2's order), v2's chat modes, and the
checks of a scene's argument (:func:`check_param` in ``session``, :func:`mode_params`).

The records live with the flows, and this layer may not import ``flows/``: the flows
package declares them once, at import, through :func:`register_scenes`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from awel.errors import AwelError
from operators.storage import current_store
from operators.storage.agent_installs import DEFAULT_USER

from .request import ModeQuery

if TYPE_CHECKING:
    from awel import DAG

__all__ = [
    "PARAM_TYPES",
    "SCENES",
    "V2_MODES",
    "Scene",
    "UnknownScene",
    "mode_params",
    "register_scenes",
    "scene",
    "scene_list",
]


#: DB-GPT's name for each kind of scene argument (``Scene.needs``), as its UI titles it.
PARAM_TYPES = {
    "db": "DB Select",
    "file": "File Select",
    "flow": "Flow Select",
    "space": "Knowledge Space Select",
    "app": "Plugin Select",
}


@dataclass(frozen=True, slots=True)
class Scene:
    """One chat scene, declared once, beside its flow."""

    code: str
    name: str
    describe: str
    #: What ``select_param`` names: "db", "file", "flow", "space", "app", or "" (nothing).
    needs: str = ""
    #: Listed by ``dialogue/scenes`` (chat_normal and chat_flow are not, as in DB-GPT).
    listed: bool = True
    #: The names v2's ``chat_mode`` gives this scene.
    v2_modes: tuple[str, ...] = ()
    #: v2 refuses to answer it as one object (DB-GPT's chat_app streams only).
    stream_only: bool = False
    #: The template of the scene's system prompt, if it has one.
    prompt: Path | None = None
    #: Builds the scene's flow from this record; the flow takes a SceneCall and streams
    #: Progress events, then one RoundDone. A builder rather than a flow: each round flow
    #: calls flows of its own, which the metrics of the app that loaded it observe.
    flow: Callable[[Scene], DAG] | None = None

    @property
    def param_type(self) -> str:
        """What DB-GPT calls the kind of ``select_param`` (its ``param_title``); "": none."""
        return PARAM_TYPES.get(self.needs, "")

    def vo(self) -> dict[str, Any]:
        """DB-GPT's ``ChatSceneVo``."""
        return {
            "chat_scene": self.code,
            "scene_name": self.name,
            "scene_describe": self.describe,
            "param_title": self.param_type,
            "show_disable": False,
        }


#: Every scene by code, in DB-GPT 0.8.2's order (filled by :func:`register_scenes`).
SCENES: dict[str, Scene] = {}
#: v2's chat modes and the scene each runs, in the order v2's errors list them.
V2_MODES: dict[str, str] = {}


def register_scenes(scenes: Iterable[Scene], *, v2_order: Sequence[str]) -> None:
    """Declare the scenes (in DB-GPT's order) and the order of v2's modes (scene codes).

    The flows package does it once, when imported; a second call replaces the first.
    """
    found = {s.code: s for s in scenes}
    SCENES.clear()
    SCENES.update(found)
    V2_MODES.clear()
    V2_MODES.update({mode: code for code in v2_order for mode in found[code].v2_modes})


class UnknownScene(AwelError):
    code = "chat.unknown_mode"

    def __init__(self, mode: str, field: str = "chat_mode") -> None:
        super().__init__(
            f"{field}: '{mode}' is not a chat scene; use one of {', '.join(SCENES)}", param=field
        )


def scene(code: str | None, field: str = "chat_mode") -> Scene:
    """The scene called ``code`` (empty: chat_normal), or :class:`UnknownScene`."""
    found = SCENES.get((code or "chat_normal").strip())
    if found is None:
        raise UnknownScene(str(code), field)
    return found


def scene_list() -> list[dict[str, Any]]:
    return [s.vo() for s in SCENES.values() if s.listed]


async def mode_params(query: ModeQuery) -> Any:
    """The choices for ``select_param``: datasources for the scenes that need one, knowledge
    spaces for chat_knowledge, null for the others (and for unknown modes)."""
    mode = query.chat_mode or "chat_normal"
    found = SCENES.get(mode)
    needs = found.needs if found is not None else ""
    if needs == "db":
        datasources = await current_store().datasources.list()
        return [{"param": ds.db_name, "type": ds.db_type} for ds in datasources]
    # extract_refine_summary is no scene, but DB-GPT's UI asks for its spaces too.
    if needs == "space" or mode == "extract_refine_summary":
        spaces, _ = await current_store().spaces.list()
        return [{"param": s.name, "type": "space", "space_id": s.id} for s in spaces]
    if needs == "app":
        # chat_agent: the agents this user installed (each user's installs are their own).
        user = (query.user_name or "").strip() or DEFAULT_USER
        installs = await current_store().agent_installs.list(user_name=user)
        return [{"param": i.name, "type": "agent", "label": i.label} for i in installs]
    return None
