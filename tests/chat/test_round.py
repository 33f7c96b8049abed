"""The chat round is one graph: the scene runs as a sub-flow of the round's flow, and the
metrics time the scene's nodes like every other node."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from server.app import FLOWS

from .conftest import ScriptedLLM, chat, plain_texts, serving

V2 = "/api/v2/chat/completions"


def node_count(text: str, dag: str, node: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "awel_node_duration_seconds_count" and sample.labels == {
                "dag": dag,
                "node": node,
            }:
                return sample.value
    return 0.0


async def test_the_scene_of_a_round_is_timed_by_the_metrics(
    tmp_path: Path, llm: ScriptedLLM
) -> None:
    async with serving(tmp_path) as client:
        status, _, raw = await chat(client, conv_uid="m1", user_input="hello")
        assert status == 200
        assert plain_texts(raw)[-1] == "You said: hello"
        resp = await client.post(
            V2, json={"messages": [{"role": "user", "content": "again"}], "stream": False}
        )
        assert resp.status == 200
        text = await (await client.get("/metrics")).text()
    # The round's own nodes, and the scene's nodes under the scene's flow id: one round
    # on each route, both running chat_normal.
    assert node_count(text, "chat_completions", "prepare") == 1
    assert node_count(text, "chat_completions", "scene") == 1
    assert node_count(text, "chat_completions_v2", "answer") == 1
    assert node_count(text, "scene_chat_normal", "prompt") == 2
    assert node_count(text, "scene_chat_normal", "model") == 2


async def test_the_round_flows_call_every_scene(tmp_path: Path, llm: ScriptedLLM) -> None:
    async with serving(tmp_path) as client:
        dags = {d.dag_id: d for d in client.app[FLOWS].dags()}
    called = {d.dag_id for d in dags["chat_completions"].subflows()}
    assert called == {
        "scene_chat_with_db_execute",
        "scene_chat_with_db_qa",
        "scene_chat_excel",
        "scene_chat_knowledge",
        "scene_chat_dashboard",
        "scene_chat_agent",
        "scene_chat_normal",
        "scene_chat_flow",
    }
    assert {d.dag_id for d in dags["chat_completions_v2"].subflows()} == called
