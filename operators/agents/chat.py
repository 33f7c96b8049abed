"""chat_agent: the question goes to the entry flow of the agent ``select_param`` names,
among the agents the asking user installed (another user's installs are not theirs)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from awel import StreamifyAbsOperator
from awel.errors import AwelError
from operators.chat.chart import error_view
from operators.chat.scene_ops import answer_from_flow
from operators.chat.types import RoundDone, SceneCall, SceneEvent

from .installs import current_agents, default_user


class RunAgent(StreamifyAbsOperator[SceneCall, SceneEvent]):
    """The round's answer from the user's agent ``select_param``: its entry flow's stream,
    or an error round naming why it cannot run (not installed for this user)."""

    async def streamify(self, input_value: SceneCall) -> AsyncIterator[SceneEvent]:
        call = input_value
        name = call.select_param
        try:
            dag = await current_agents().entry_flow(name, user=default_user(call.user_name))
        except AwelError as exc:
            yield RoundDone("", error_view(exc.message), exc.message)
            return
        async for event in answer_from_flow(call, dag, f"the agent '{name}'"):
            yield event
