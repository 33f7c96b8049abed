"""The ``exact`` LLM build: a GGUF's own Q4_1 / Q8_0 blocks put back into an fp32 graph.

Unit tests recover blocks from synthetic weights and run a one-MatMul graph through the
rewrite with onnxruntime. The real model's exact build is not one ``make models`` makes (it
is not the default), so its agreement with the dequantised model and its greedy text are
measured by the bench (``bench/export_compare.py``, bench/RESULTS.md), not skipped here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from operators.export.build import BuildError, LLMRecipe
from operators.export.exact_grid import (
    BLOCK,
    DIGITS,
    minimum_digits,
    pack_4bit,
    q4_1_blocks,
    q8_0_blocks,
    rewrite_graph,
)
from operators.export.llm import default_llm_precision
from operators.export.sources import Source

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("AWEL_TEST_DATA_DIR", ROOT / "data"))


def q4_1_weight(k: int, n: int, seed: int = 0) -> np.ndarray:
    """``[K, N]`` float32 values on a Q4_1 grid, dequantised as gguf-py does."""
    rng = np.random.default_rng(seed)
    blocks = k // BLOCK
    d = rng.uniform(0.001, 0.05, (n, blocks)).astype(np.float16).astype(np.float32)
    m = rng.uniform(-0.4, 0.0, (n, blocks)).astype(np.float16).astype(np.float32)
    q = rng.integers(0, 16, (n, blocks, BLOCK)).astype(np.float32)
    q[..., 0], q[..., 1] = 0, 15  # quantising a block always uses both ends of the grid
    w = d[..., None] * q + m[..., None]
    return np.ascontiguousarray(w.reshape(n, k).T)


def q8_0_weight(k: int, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    blocks = k // BLOCK
    d = rng.uniform(0.001, 0.05, (n, blocks)).astype(np.float16).astype(np.float32)
    q = rng.integers(-127, 128, (n, blocks, BLOCK)).astype(np.float32)
    q[..., 0] = 127
    return np.ascontiguousarray((d[..., None] * q).reshape(n, k).T)


def test_q4_1_blocks_are_recovered_exactly() -> None:
    w = q4_1_weight(64, 6)
    found = q4_1_blocks(w)
    assert found is not None
    q, d, m = found
    assert q.shape == (6, 2, BLOCK) and q.max() == 15 and q.min() == 0
    rebuilt = (d[..., None] * q + m[..., None]).reshape(6, 64).T
    assert np.array_equal(rebuilt, w)


def test_weights_off_the_grid_are_not_taken_for_it() -> None:
    w = q4_1_weight(64, 4)
    w[3, 2] += 1e-4
    assert q4_1_blocks(w) is None
    assert q8_0_blocks(w) is None
    assert q4_1_blocks(q8_0_weight(64, 4)) is None  # 255 levels do not fit 16
    assert q8_0_blocks(q8_0_weight(64, 4)) is not None


def test_pack_4bit_puts_even_elements_in_the_low_nibble() -> None:
    q = np.arange(32, dtype=np.uint8).reshape(1, 1, 32) % 16
    packed = pack_4bit(q)
    assert packed.shape == (1, 1, 16)
    assert packed[0, 0, 0] == 0x10 and packed[0, 0, 1] == 0x32


@pytest.mark.parametrize("blocks", [4, 18, 48])
def test_block_minimums_fit_in_three_4bit_digits(blocks: int) -> None:
    rng = np.random.default_rng(blocks)
    c = rng.normal(scale=rng.uniform(0.01, 1.0, (5, 1)), size=(5, blocks)).astype(np.float32)
    c[0] = 0  # an all-zero column must not divide by zero
    q, scales = minimum_digits(c)
    width = -(-blocks // BLOCK)
    assert q.shape == (5, DIGITS, width * BLOCK) and scales.shape == (5, DIGITS, width)
    assert q.min() >= 1 and q.max() <= 15  # digits -7..7 around the zero point 8
    assert (q[:, :, blocks:] == 8).all()  # the padding reads as zero
    rebuilt = ((q[:, :, :blocks].astype(np.float64) - 8) * scales[:, :, :1]).sum(1)
    largest = np.maximum(np.abs(c).max(1, keepdims=True), 1e-30)
    assert (np.abs(rebuilt - c) / largest).max() < 1 / 2700
    assert np.array_equal(rebuilt[0], np.zeros(blocks))


def _one_matmul_graph(folder: Path, weights: dict[str, np.ndarray]) -> None:
    """x -> MatMul(w0) -> y0, x -> MatMul(w1) -> y1 (two MatMuls sharing an input)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    k = next(iter(weights.values())).shape[0]
    nodes, outputs, inits = [], [], []
    for name, w in weights.items():
        nodes.append(helper.make_node("MatMul", ["x", name], [f"y_{name}"], name=f"/{name}/MatMul"))
        outputs.append(helper.make_tensor_value_info(f"y_{name}", TensorProto.FLOAT, None))
        inits.append(numpy_helper.from_array(w, name))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, None, k])],
        outputs,
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))


# accuracy_level 1 (fp32 activations): only the three-digit minimums differ from the fp32
# product; 4 (int8 activations, the build's): the activations' rounding too.
@pytest.mark.parametrize(("level", "tolerance"), [(1, 2e-4), (4, 2e-2)])
def test_the_rewritten_graph_computes_the_same_products(
    tmp_path: Path, level: int, tolerance: float
) -> None:
    import onnx
    import onnxruntime as ort

    weights = {
        "four": q4_1_weight(128, 48, seed=1),
        "four_too": q4_1_weight(128, 16, seed=2),
        "eight": q8_0_weight(128, 32, seed=3),
        "plain": np.random.default_rng(4).normal(size=(128, 8)).astype(np.float32),
    }
    _one_matmul_graph(tmp_path / "fp32", weights)
    report = rewrite_graph(tmp_path / "fp32", tmp_path / "grid", accuracy_level=level)
    assert (report.q4_1, report.q8_0, report.kept_fp32) == (2, 1, ["plain"])
    session = ort.InferenceSession(
        str(tmp_path / "grid" / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    nodes = onnx.load(str(tmp_path / "grid" / "model.onnx")).graph.node
    ops = [n.op_type for n in nodes]
    assert ops.count("MatMulNBits") == 3 and ops.count("MatMul") == 1  # "plain" stays fp32
    # The two Q4_1 products share one widened input: x, then its 4 block sums padded to a
    # block, once per digit.
    assert ops.count("Concat") == 1 and ops.count("ReduceSum") == 1
    widths = {
        n.name: next(a.i for a in n.attribute if a.name == "K")
        for n in nodes
        if n.op_type == "MatMulNBits"
    }
    assert widths == {
        "/four/MatMul": 128 + DIGITS * BLOCK,
        "/four_too/MatMul": 128 + DIGITS * BLOCK,
        "/eight/MatMul": 128,
    }
    assert report.as_dict()["worst_minimum_error"] < 1 / 2700
    x = np.random.default_rng(5).normal(size=(1, 3, 128)).astype(np.float32)
    got = dict(
        zip([o.name for o in session.get_outputs()], session.run(None, {"x": x}), strict=True)
    )
    for name, w in weights.items():
        want = x.astype(np.float64) @ w.astype(np.float64)
        err = np.abs(got[f"y_{name}"] - want).max() / np.abs(want).max()
        assert err < tolerance, (name, err)


def test_exact_is_asked_for_and_only_a_gguf_can_be_built_so() -> None:
    assert default_llm_precision("cpu") == "int8"
    gguf = Source(name="m", kind="llm", format="gguf", path=Path("m.gguf"), origin="test")
    options = LLMRecipe().options(gguf, "exact", "cpu")
    assert options["precision"] == "exact" and "grid" in options  # the rewrite's version
    assert "grid" not in LLMRecipe().options(gguf, None, "cpu")
    steps = LLMRecipe().steps(gguf, options)
    assert any("(fp32, cpu)" in s for s in steps) and any("blocks back" in s for s in steps)
    hf = Source(name="m", kind="llm", format="hf", path=Path("m"), origin="test")
    with pytest.raises(BuildError, match="keeps a GGUF file's own quantisation"):
        LLMRecipe().options(hf, "exact", "cpu")
