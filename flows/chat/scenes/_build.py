"""How the scene flows are built: where their prompts live, the chain of a scene that asks
the model, and the flow of a scene that is not served yet. A scene's record names its
builder (``flow=asks_model(...)``), which builds the flow from the record.

A scene that asks the model is ``input >> [its context] >> prompt >> model >> answer``; what
differs is the prompt, how the answer is read, whether the history goes in, and the context
the scene needs (:attr:`Scene.needs`): a datasource's schema, an uploaded file's table, a
knowledge space's chunks (whose prompt is the space's own template), or nothing. So a scene
module names only those.
"""

from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

from awel import DAG, BaseOperator, InputOperator, MapOperator
from operators.chat.knowledge import SpaceChunks, SpacePrompt
from operators.chat.scene_ops import (
    AskModel,
    ExcelTable,
    Prompt,
    RoundEnd,
    SchemaOf,
)
from operators.chat.scenes import Scene
from operators.chat.types import SceneCall

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"


def _context(needs: str) -> MapOperator[SceneCall, SceneCall] | None:
    """What the prompt is given besides the question, by what ``select_param`` names."""
    if needs == "db":
        return SchemaOf(task_name="schema")
    if needs == "file":
        return ExcelTable(task_name="table")
    if needs == "space":
        return SpaceChunks(task_name="recall")
    return None


def _prompt(
    prompt: Path | None, *, history: bool, json_schema: dict[str, Any] | None
) -> MapOperator[SceneCall, SceneCall]:
    """The scene's template, or (none: a knowledge scene) the space's own."""
    if prompt is None:
        return SpacePrompt(history=history, task_name="prompt")
    return Prompt(prompt, history=history, json_schema=json_schema, task_name="prompt")


def model_chain(
    dag_id: str,
    description: str,
    *,
    needs: str,
    prompt: Path | None,
    answer: type[RoundEnd],
    history: bool = False,
) -> DAG:
    """``input >> [context] >> prompt >> model >> answer``. An answer read as JSON
    (``answer.json_schema``) holds the model to that schema, and its text streams as a
    draft that the round's view replaces."""
    schema = answer.json_schema
    with DAG(dag_id, description=description) as dag:
        steps: list[BaseOperator] = [InputOperator.from_callable(task_name="input")]
        if (context := _context(needs)) is not None:
            steps.append(context)
        steps.append(_prompt(prompt, history=history, json_schema=schema))
        steps.append(AskModel(draft=schema is not None, task_name="model"))
        steps.append(answer(task_name="answer"))
        for before, after in pairwise(steps):
            before >> after
    return dag


def asks_model(
    description: str, answer: type[RoundEnd], *, history: bool = False
) -> Callable[[Scene], DAG]:
    """The builder of a scene that asks the model: its flow ``scene_<code>`` is
    :func:`model_chain` with the scene's prompt and the context its ``needs`` names."""

    def build(scene: Scene) -> DAG:
        assert scene.prompt is not None or scene.needs == "space", (
            f"{scene.code} asks the model, so it has a prompt (a space brings its own)"
        )
        return model_chain(
            f"scene_{scene.code}",
            description,
            needs=scene.needs,
            prompt=scene.prompt,
            answer=answer,
            history=history,
        )

    return build


def runs_named(description: str, node: Callable[[], BaseOperator]) -> Callable[[Scene], DAG]:
    """A scene whose answer comes from what ``select_param`` names, run by the node
    ``node()`` makes (chat_flow: a user flow; chat_agent: an installed agent)."""

    def build(scene: Scene) -> DAG:
        with DAG(f"scene_{scene.code}", description=description) as dag:
            InputOperator.from_callable(task_name="input") >> node()
        return dag

    return build
