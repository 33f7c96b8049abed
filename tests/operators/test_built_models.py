"""The default models, really built: they load, answer, and match PyTorch.

The models come from the shared cache that ``make test`` fills first (``awel model build
--data-dir .cache``; ``$AWEL_TEST_DATA_DIR`` overrides the folder). A fixture asks
:func:`build_model` for each model, which returns the cached build after hashing the
weights, or builds it when the export extra is installed. Without the export extra or the
weights packages, an existing build is used if there is one, else the tests are skipped.
Comparisons with PyTorch need torch and transformers and are skipped without them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from operators.export import BuildError, ModelInfo, build_model, find_model
from operators.export.llm import decoder_logits
from operators.pooling import pool

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("AWEL_TEST_DATA_DIR", ROOT / ".cache"))

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

CHAT = [{"role": "user", "content": "What is the capital of France?"}]
PROMPTS = ["What is the capital of France?", "Explain what a database index is."]
SENTENCES = [
    "The capital of France is Paris.",
    "Paris is the capital city of France.",
    "hi",
    "A man is playing a guitar on stage while the crowd sings along with him.",
    "Quantum entanglement links particles across any distance.",
]


def built(name: str, precision: str) -> ModelInfo:
    """The CPU build of ``name`` at its default precision (the cache may hold others too)."""
    try:
        path = build_model(name, DATA_DIR, precision=precision)
    except BuildError as exc:
        found = find_model(DATA_DIR, name, precision=precision, device="cpu")
        if found is None:
            pytest.skip(f"{name} is not built in {DATA_DIR} and cannot be built here: {exc}")
        return found
    info = ModelInfo.load(path)
    assert info is not None
    return info


@pytest.fixture(scope="module")
def llm() -> ModelInfo:
    return built("smollm2", "int8")


@pytest.fixture(scope="module")
def encoder() -> ModelInfo:
    return built("all-minilm-l6-v2", "int8")


# --- the LLM ------------------------------------------------------------------------------


def greedy(info: ModelInfo, messages: list[dict[str, str]], max_new: int) -> tuple[str, int]:
    og = pytest.importorskip("onnxruntime_genai")
    model = og.Model(str(info.path))
    tokenizer = og.Tokenizer(model)
    prompt = tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True)
    ids = tokenizer.encode(prompt)
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(ids) + max_new, do_sample=False)
    generator = og.Generator(model, params)
    generator.append_tokens(ids)
    out: list[int] = []
    while not generator.is_done():
        generator.generate_next_token()
        out.append(int(generator.get_next_tokens()[0]))
    return tokenizer.decode(np.asarray(out, dtype=np.int32)), len(out)


def test_llm_answers_and_stops(llm: ModelInfo) -> None:
    answer, produced = greedy(llm, CHAT, 64)
    assert "Paris" in answer
    # It stopped on its end-of-turn token, well before the limit: the EOS is right.
    assert produced < 64
    assert llm.manifest["check"]["answer"] == answer.strip()


def test_llm_prompt_starts_with_one_im_start(llm: ModelInfo) -> None:
    og = pytest.importorskip("onnxruntime_genai")
    tokenizer = og.Tokenizer(og.Model(str(llm.path)))
    prompt = tokenizer.apply_chat_template(json.dumps(CHAT), add_generation_prompt=True)
    assert prompt.startswith("<|im_start|>system\n")
    ids = [int(i) for i in tokenizer.encode(prompt)]
    im_start = int(tokenizer.encode("<|im_start|>")[-1])
    assert ids[0] == im_start and ids[1] != im_start


def test_llm_config_stops_on_im_end_and_pads(llm: ModelInfo) -> None:
    config = json.loads((llm.path / "genai_config.json").read_text())["model"]
    assert config["eos_token_id"] == 2 and config["pad_token_id"] == 2  # <|im_end|>
    assert llm.precision == "int8" and llm.device == "cpu"


def test_llm_follows_pytorch_greedy_tokens(llm: ModelInfo) -> None:
    """Teacher-forced: along PyTorch's own greedy continuation, the ONNX model's top token
    agrees at most positions (int8 measured 97%; exact ties of a tiny model decide the rest).
    """
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    source = Path(llm.manifest["source"]["path"])
    if not source.exists():
        pytest.skip(f"the source weights {source} are gone")
    tokenizer = transformers.AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        source.parent, gguf_file=source.name, dtype=torch.float32
    ).eval()
    agree = total = 0
    for prompt in PROMPTS:
        ids = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, return_dict=True
        )["input_ids"]
        with torch.inference_mode():
            x = torch.tensor([ids])
            out = model.generate(
                x,
                attention_mask=torch.ones_like(x),
                max_new_tokens=64,
                min_new_tokens=64,
                do_sample=False,
            )
        full = out[0].tolist()
        theirs = full[len(ids) :]
        ours = decoder_logits(llm.path, full)[len(ids) - 1 : len(full) - 1].argmax(-1).tolist()
        agree += sum(a == b for a, b in zip(ours, theirs, strict=True))
        total += len(theirs)
    assert agree / total >= 0.9, f"{agree}/{total} greedy tokens agree"


# --- the embeddings encoder ---------------------------------------------------------------


def embed(info: ModelInfo, texts: list[str]) -> Any:
    ort = pytest.importorskip("onnxruntime")
    from tokenizers import Tokenizer

    spec = info.manifest["embeddings"]
    tokenizer = Tokenizer.from_file(str(info.path / "tokenizer.json"))
    encodings = tokenizer.encode_batch(texts)
    width = max(len(e.ids) for e in encodings)
    feeds = {n: np.zeros((len(texts), width), dtype=np.int64) for n in spec["inputs"]}
    for row, enc in enumerate(encodings):
        values = {
            "input_ids": enc.ids,
            "attention_mask": enc.attention_mask,
            "token_type_ids": enc.type_ids,
        }
        for name in spec["inputs"]:
            feeds[name][row, : len(enc.ids)] = values[name]
    session = ort.InferenceSession(
        str(info.path / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    (hidden,) = session.run([spec["output"]], feeds)
    return pool(hidden, feeds["attention_mask"], mode=spec["pooling"], normalize=spec["normalize"])


def test_encoder_manifest(encoder: ModelInfo) -> None:
    spec = encoder.manifest["embeddings"]
    assert (spec["pooling"], spec["normalize"], spec["dimension"]) == ("mean", True, 384)
    assert spec["max_length"] == 256 and spec["min_cosine"] >= 0.99


def test_encoder_graph_is_fused_and_int8(encoder: ModelInfo) -> None:
    onnx = pytest.importorskip("onnx")
    # Every layer's attention is one op, and no fp32 MatMul is left to quantise.
    assert encoder.manifest["embeddings"]["fused"]["Attention"] == 6
    ops = {node.op_type for node in onnx.load(str(encoder.path / "model.onnx")).graph.node}
    assert {"Attention", "MatMulNBits", "EmbedLayerNormalization"} <= ops
    assert "MatMul" not in ops


def test_encoder_pads_to_the_longest_sentence_only(encoder: ModelInfo) -> None:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(encoder.path / "tokenizer.json"))
    assert len(tokenizer.encode("hi").ids) == 3  # [CLS] hi [SEP], not 128
    assert len(tokenizer.encode("word " * 400).ids) == 256
    together = embed(encoder, SENTENCES)
    alone = np.concatenate([embed(encoder, [s]) for s in SENTENCES])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_encoder_embeddings_mean_something(encoder: ModelInfo) -> None:
    vectors = embed(encoder, SENTENCES)
    similar = float(vectors[0] @ vectors[1])
    unrelated = float(vectors[0] @ vectors[4])
    assert similar > 0.8 > 0.3 > unrelated


def test_encoder_matches_pytorch(encoder: ModelInfo) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    source = Path(encoder.manifest["source"]["path"])
    if not source.exists():
        pytest.skip(f"the source weights {source} are gone")
    tokenizer = transformers.AutoTokenizer.from_pretrained(source)
    model = transformers.AutoModel.from_pretrained(source).eval()
    batch = tokenizer(SENTENCES, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.inference_mode():
        states = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    theirs = torch.nn.functional.normalize((states * mask).sum(1) / mask.sum(1), dim=1).numpy()
    cosine = (embed(encoder, SENTENCES) * theirs).sum(axis=1)
    assert cosine.min() >= 0.99, cosine


def test_an_encoder_the_optimizer_does_not_know_is_exported_plain(
    encoder: ModelInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only BERT-family types are fused; any other encoder keeps torch's dynamo graph, and
    # its int8 build must still pass the cosine check against PyTorch.
    pytest.importorskip("torch")
    from operators.export import encoder as export

    monkeypatch.setattr(export, "FUSED_TYPES", frozenset())
    source = Path(encoder.manifest["source"]["path"])
    if not source.exists():
        pytest.skip(f"the source weights {source} are gone")
    out = tmp_path / "plain"
    settings = export.export_encoder(source, out, precision="int8")
    assert settings["fused"] == {}
    assert export.check_encoder(source, out, settings, precision="int8") >= 0.99
    onnx = pytest.importorskip("onnx")
    ops = {node.op_type for node in onnx.load(str(out / "model.onnx")).graph.node}
    assert "Attention" not in ops and "MatMulNBits" in ops
