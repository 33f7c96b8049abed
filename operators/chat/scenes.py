"""DB-GPT's chat scenes: codes, names, what ``select_param`` holds, and the list the UI
shows (``POST /api/v1/chat/dialogue/scenes``: six scenes, in DB-GPT 0.8.2's order)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from awel.errors import AwelError

__all__ = [
    "SCENES",
    "SHOWN",
    "Scene",
    "UnknownScene",
    "scene",
    "scene_list",
]


@dataclass(frozen=True, slots=True)
class Scene:
    code: str
    name: str
    describe: str
    param_types: tuple[str, ...] = ()
    #: What ``select_param`` names: "db", "file", "flow", "space", or "" (nothing needed).
    needs: str = ""
    #: Served here yet; the others answer "not available yet" in the stream.
    available: bool = True

    def vo(self) -> dict[str, Any]:
        """DB-GPT's ``ChatSceneVo``."""
        return {
            "chat_scene": self.code,
            "scene_name": self.name,
            "scene_describe": self.describe,
            "param_title": ",".join(self.param_types),
            "show_disable": False,
        }


SCENES: dict[str, Scene] = {
    s.code: s
    for s in (
        Scene(
            "chat_with_db_execute",
            "Chat Data",
            "Ask a question about your data: the model writes SQL, the query runs read-only"
            " and the answer comes back as a table or a chart.",
            ("DB Select",),
            needs="db",
        ),
        Scene(
            "chat_with_db_qa",
            "Chat DB",
            "Ask about a database's tables and columns: the model answers from its schema"
            " without running any query.",
            ("DB Select",),
            needs="db",
        ),
        Scene(
            "chat_excel",
            "Chat Excel",
            "Upload a CSV, Excel, JSON or Parquet file and ask questions about it in plain"
            " language.",
            ("File Select",),
            needs="file",
        ),
        Scene(
            "chat_knowledge",
            "Chat Knowledge",
            "Ask questions answered from the documents of a knowledge space.",
            ("Knowledge Space Select",),
            needs="space",
            available=False,
        ),
        Scene(
            "chat_dashboard",
            "Dashboard",
            "Describe a report: the model proposes several charts, each one backed by a"
            " query on your database.",
            ("DB Select",),
            needs="db",
        ),
        Scene(
            "chat_agent",
            "Agent Chat",
            "Talk to an app made of cooperating agents and their tools.",
            ("Plugin Select",),
            available=False,
        ),
        Scene("chat_normal", "Chat Normal", "Talk with the model; it remembers the conversation."),
        Scene(
            "chat_flow",
            "Flow Chat",
            "Send the question to a deployed AWEL flow and stream its answer.",
            ("Flow Select",),
            needs="flow",
        ),
    )
}

#: The scenes ``dialogue/scenes`` lists, in DB-GPT 0.8.2's order.
SHOWN = (
    "chat_with_db_execute",
    "chat_with_db_qa",
    "chat_excel",
    "chat_knowledge",
    "chat_dashboard",
    "chat_agent",
)


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
    return [SCENES[code].vo() for code in SHOWN]
