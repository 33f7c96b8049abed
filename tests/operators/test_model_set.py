"""The process's model set and the model operators, with fake models (and the real default
builds, when they are there)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from awel import DAG, InputOperator, registry
from awel.spec import load_flow
from operators.embed.operators import Embed, EmbedRequest
from operators.llm.operators import LLMGenerate, LLMStream
from operators.llm.types import ChatMessage, Delta, GenerationParams, GenerationRequest
from operators.models import (
    ModelSet,
    NoModel,
    UnknownModel,
    WrongModelKind,
    current_models,
    install_models,
    installed_models,
    using_models,
)
from tests.server.model_api_live import DATA_DIR, FakeEmbedder, FakeLLM


def request(model: str = "a", text: str = "x y", **params: object) -> GenerationRequest:
    return GenerationRequest(
        model=model,
        messages=[ChatMessage(role="user", content=text)],
        params=GenerationParams(**params),
    )


@pytest.fixture
async def models() -> AsyncIterator[ModelSet]:
    async with using_models(ModelSet([FakeLLM("a"), FakeLLM("b")], [FakeEmbedder("e")])) as m:
        yield m


def test_lookups_and_defaults() -> None:
    a, b, e = FakeLLM("a"), FakeLLM("b"), FakeEmbedder("e")
    models = ModelSet([a, b], [e], created=5)
    assert models.llm() is a and models.llm("b") is b
    assert models.embedder() is e and models.embedder("e") is e
    assert [(c.id, c.kind, c.created) for c in models.cards()] == [
        ("a", "llm", 5),
        ("b", "llm", 5),
        ("e", "embeddings", 5),
    ]
    assert len(models) == 3 and models.has_llm("a") and not models.has_llm("e")
    with pytest.raises(UnknownModel, match="'zz' does not exist; language models: a, b") as err:
        models.llm("zz")
    assert (err.value.code, err.value.param) == ("model.not_found", "model")
    with pytest.raises(WrongModelKind, match="'e' is an embeddings model") as wrong:
        models.llm("e")
    assert wrong.value.code == "model.wrong_kind"
    with pytest.raises(WrongModelKind):
        models.embedder("a")
    with pytest.raises(UnknownModel, match="models: a, b, e"):
        models.card("zz")
    with pytest.raises(NoModel, match="awel model build"):
        ModelSet().llm()
    with pytest.raises(NoModel):
        ModelSet().embedder()


async def test_close_closes_every_model_even_when_one_fails() -> None:
    class Stubborn(FakeLLM):
        async def aclose(self) -> None:
            raise RuntimeError("no")

    a, e = FakeLLM("a"), FakeEmbedder("e")
    models = ModelSet([Stubborn("s"), a], [e])
    await models.aclose()
    assert a.closed and e.closed and len(models) == 0


async def test_using_models_installs_and_restores() -> None:
    outer = ModelSet([FakeLLM("outer")])
    previous = install_models(outer)
    try:
        inner_llm = FakeLLM("inner")
        async with using_models(ModelSet([inner_llm])) as inner:
            assert current_models() is inner and installed_models() is inner
        assert current_models() is outer and inner_llm.closed
    finally:
        install_models(previous)
    install_models(None)
    try:
        assert installed_models() is None and len(current_models()) == 0
    finally:
        install_models(previous)


def test_load_skips_what_is_not_built(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "awel.models"):
        models = ModelSet.load(tmp_path)
    assert len(models) == 0
    assert "model 'smollm2' is not built" in caplog.text
    assert "awel model build all-minilm-l6-v2" in caplog.text


def test_load_skips_a_broken_build(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "models" / "smollm2-0123"
    folder.mkdir(parents=True)
    manifest = {"format": 1, "name": "smollm2", "kind": "llm", "key": "0123", "options": {}}
    (folder / "awel-model.json").write_text(json.dumps(manifest))
    with caplog.at_level(logging.ERROR, "awel.models"):
        models = ModelSet.load(tmp_path, names=["smollm2"])
    assert len(models) == 0
    assert "cannot load llm model 'smollm2'" in caplog.text


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_load_the_real_embeddings_build() -> None:
    from operators.export.cache import find_model

    if find_model(DATA_DIR, "all-minilm-l6-v2") is None:
        pytest.skip(f"all-minilm-l6-v2 is not built in {DATA_DIR}")
    models = ModelSet.load(DATA_DIR, names=["all-minilm-l6-v2"])
    async with using_models(models):
        with DAG("real_embed"):
            node = InputOperator.from_callable() >> Embed()
        out = await node.call(["a cat sat", "a dog ran"])
    assert out.model == "all-minilm-l6-v2" and out.vectors.shape == (2, 384)
    assert out.prompt_tokens > 4


async def test_generate_one_many_and_pinned(models: ModelSet) -> None:
    with DAG("gen"):
        node = InputOperator.from_callable() >> LLMGenerate()
    one = await node.call(request("a", "hi"))
    assert one.text == "You said: hi" and one.usage.prompt_tokens == 1
    many = await node.call([request("a", "one"), request("b", "two")])
    assert [c.text for c in many] == ["You said: one", "You said: two"]
    assert models.llm("b").requests[-1].messages[0].content == "two"  # type: ignore[attr-defined]
    with DAG("pinned"):
        pinned = InputOperator.from_callable() >> LLMGenerate(model="b")
    await pinned.call(request("a", "three"))
    assert models.llm("b").requests[-1].model == "b"  # type: ignore[attr-defined]


async def test_generate_checks_every_name_before_working(models: ModelSet) -> None:
    with DAG("gen_unknown"):
        node = InputOperator.from_callable() >> LLMGenerate()
    before = len(models.llm("a").requests)  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="'nope' does not exist") as err:
        await node.call([request("a"), request("nope")])
    assert isinstance(err.value.__cause__, UnknownModel)
    assert len(models.llm("a").requests) == before  # type: ignore[attr-defined]


async def test_stream_yields_deltas_and_ends_each_answer(models: ModelSet) -> None:
    with DAG("stream"):
        node = InputOperator.from_callable() >> LLMStream()
    deltas = [d async for d in node.call_stream([request("a", "p"), request("b", "q r")])]
    finished = [d for d in deltas if d.finish_reason is not None]
    assert len(finished) == 2 and all(d.usage is not None for d in finished)
    assert "".join(d.text for d in deltas) == "You said: pYou said: q r"


async def test_stream_adds_a_finish_the_engine_left_out_and_closes_early() -> None:
    closed: list[bool] = []

    class Terse(FakeLLM):
        async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
            try:
                for word in ("a", "b", "c"):
                    yield Delta(text=word)
            finally:
                closed.append(True)

    async with using_models(ModelSet([Terse("t")])):
        with DAG("terse"):
            node = InputOperator.from_callable() >> LLMStream()
        deltas = [d async for d in node.call_stream(request("t"))]
        assert deltas[-1] == Delta(finish_reason="stop")
        # A consumer that stops early closes the engine's stream at once.
        closed.clear()
        stream = node.call_stream(request("t"))
        async for _ in stream:
            break
        await stream.aclose()
        assert closed == [True]


async def test_embed_takes_text_lists_and_requests(models: ModelSet) -> None:
    fake = FakeEmbedder("e")
    with DAG("embed"):
        node = InputOperator.from_callable() >> Embed()
    out = await node.call("a b")
    assert out.model == "e" and out.prompt_tokens == 2
    np.testing.assert_array_equal(out.vectors[0], fake.vector("a b"))
    out = await node.call(EmbedRequest(texts=["x", "y z"], model="e"))
    assert out.vectors.shape == (2, 8) and out.prompt_tokens == 3
    with pytest.raises(Exception, match="does not exist"):
        await node.call(EmbedRequest(texts=["x"], model="nope"))


async def test_operators_are_registered_for_yaml(models: ModelSet, tmp_path: Path) -> None:
    assert registry.get("llm.generate") is LLMGenerate
    assert registry.get("llm.stream") is LLMStream
    assert registry.get("embeddings.embed") is Embed
    flow = tmp_path / "embed.yaml"
    flow.write_text(
        "name: yaml_embed\n"
        "trigger: {}\n"
        "nodes:\n"
        "  vectors: {op: embeddings.embed, params: {model: e}}\n"
        "edges:\n"
        "  - trigger >> vectors\n"
    )
    dag = load_flow(flow)
    out = await dag.output_node.call(["hello"])
    assert out.model == "e" and out.vectors.shape == (1, 8)
