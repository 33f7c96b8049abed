"""Quantised weights that keep a GGUF's own grid: lossless with respect to the shipped model.

The onnxruntime-genai builder re-quantises whatever it reads, so a Q4_1 GGUF built as int4
loses a fifth of its greedy tokens (``bench/RESULTS.md``), although the GGUF's values already
sit on a 4-bit grid. This module rewrites an fp32 builder graph (whose weights are the GGUF
dequantised) so that each ``MatMul`` gets back the GGUF's exact blocks of 32:

* **Q4_1** (``w = d*q + m``, ``q`` in 0..15, a scale ``d`` and a minimum ``m`` per block):
  onnxruntime's fast 4-bit ``MatMulNBits`` kernel takes only integer zero points, and
  ``-m/d`` is not an integer (float zero points run through an unpacked fallback about 40x
  slower, measured). So the kernel gets ``scale = d`` and its default zero point 8, which
  computes ``x . d*(q-8)``, and the rest, ``sum over blocks b of (m_b + 8d_b) * S_b`` with
  ``S_b`` the sum of ``x`` over block ``b``, rides in the same product: the input is widened
  with its block sums (``Reshape``, ``ReduceSum``, ``Pad`` to whole blocks, ``Concat``, once
  per input however many products read it) and the weight gets extra blocks that hold the
  per-block constants ``c = m + 8d`` as three 4-bit digits (``c ~ s1*q1 + s2*q2 + s3*q3``,
  each digit in -7..7 with a scale per output column, each digit's block reading its own
  copy of the sums): ``c`` is kept to 1/2700 of its column's largest, far below the int8
  build's rounding of the weights themselves. Putting the correction in the product is what
  makes the 4-bit build fast: as separate fp32 ``MatMul`` + ``Add`` nodes (the first
  version) each read its cold ``[K/32, N]`` matrix on one thread and the 540 of them ate the
  kernel's gain; here the extra blocks stream with the weights (+11-17% of a product's
  bytes) and only the four small block-sum nodes per input remain.
* **Q8_0** (``w = d*q``, ``q`` in -127..127; the tied embedding/``lm_head``): ``MatMulNBits``
  with 8 bits, ``scale = d`` and the default zero point 128: exact with nothing added.

The blocks are recovered from the fp32 values, not read from the GGUF (whose tensor names and
row order differ from the graph's): in a Q4_1 block the smallest value is ``m`` and the
largest ``15d + m``, so ``d`` is ``(max - min) / 15`` rounded to float16, as stored; a Q8_0
block's largest magnitude is ``127d``. Every block is checked: its values rebuilt from the
recovered ``(q, d, m)`` must equal the fp32 weights bit for bit, or the weight is left fp32
(and reported). ``accuracy_level`` 4 has the kernels quantise activations to int8 per block,
as llama.cpp does (Q8 activations against Q4_1 weights).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "BLOCK",
    "DIGITS",
    "GRID_VERSION",
    "GridReport",
    "minimum_digits",
    "pack_4bit",
    "q4_1_blocks",
    "q8_0_blocks",
    "rewrite_graph",
]

BLOCK = 32
#: Part of a build's cache key: bump it when the rewritten graph changes.
GRID_VERSION = 2
#: 4-bit digits that carry each block's ``m + 8d`` (three keep it to 1/2700 of the column's
#: largest; two measured a little further from the dequantised model than int8).
DIGITS = 3
_MS = "com.microsoft"

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]


def _blocks(weight: F32) -> F32:
    """``[K, N]`` → ``[N, K/32, 32]``: MatMulNBits' layout, blocks along K per output."""
    k, n = weight.shape
    return np.ascontiguousarray(weight.T).reshape(n, k // BLOCK, BLOCK)


def q4_1_blocks(weight: F32) -> tuple[U8, F32, F32] | None:
    """``(q [N, K/32, 32], d [N, K/32], m [N, K/32])`` if ``weight`` is exactly Q4_1."""
    blocks = _blocks(weight)
    low, high = blocks.min(-1), blocks.max(-1)
    d = ((high - low) / 15).astype(np.float16).astype(np.float32)
    q = np.clip(np.rint((blocks - low[..., None]) / np.where(d == 0, 1, d)[..., None]), 0, 15)
    if not np.array_equal(d[..., None] * q + low[..., None], blocks):
        return None
    if not np.array_equal(low.astype(np.float16).astype(np.float32), low):
        return None
    return q.astype(np.uint8), d, low


def q8_0_blocks(weight: F32) -> tuple[npt.NDArray[np.int8], F32] | None:
    """``(q [N, K/32, 32], d [N, K/32])`` if ``weight`` is exactly Q8_0."""
    blocks = _blocks(weight)
    d = (np.abs(blocks).max(-1) / 127).astype(np.float16).astype(np.float32)
    q = np.clip(np.rint(blocks / np.where(d == 0, 1, d)[..., None]), -127, 127)
    if not np.array_equal(d[..., None] * q, blocks):
        return None
    return q.astype(np.int8), d


def pack_4bit(q: U8) -> U8:
    """``[N, blocks, 32]`` values 0..15 → ``[N, blocks, 16]`` bytes, even elements low."""
    return (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)


def minimum_digits(c: F32, digits: int = DIGITS) -> tuple[U8, F32]:
    """``c [N, blocks]`` as ``digits`` 4-bit digits per value, each with a scale per row.

    Returns ``q [N, digits, E*32]`` (zero point 8 added; each digit's values in the first
    ``blocks`` places, 8, which is zero, after them) and ``scales [N, digits, E]`` (a digit's
    scale repeated over its ``E = ceil(blocks/32)`` blocks), so that
    ``sum_i scales_i * (q_i - 8)`` is ``c`` to within half the last digit's scale.
    """
    n, blocks = c.shape
    width = -(-blocks // BLOCK)
    q = np.full((n, digits, width * BLOCK), 8, np.uint8)
    scales = np.zeros((n, digits, width), np.float32)
    rest = c.astype(np.float64)
    for i in range(digits):
        scale = (np.abs(rest).max(1) / 7).astype(np.float32).astype(np.float64)
        digit = np.clip(np.rint(rest / np.where(scale == 0, 1, scale)[:, None]), -7, 7)
        rest -= digit * scale[:, None]
        q[:, i, :blocks] = (digit + 8).astype(np.uint8)
        scales[:, i, :] = scale[:, None]
    return q, scales


@dataclass
class GridReport:
    """What :func:`rewrite_graph` did, for the manifest."""

    q4_1: int = 0
    q8_0: int = 0
    kept_fp32: list[str] = field(default_factory=list)
    #: The largest ``|m + 8d - digits|`` over every Q4_1 block, against its column's largest.
    worst_minimum_error: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "q4_1_matmuls": self.q4_1,
            "q8_0_matmuls": self.q8_0,
            "fp32": self.kept_fp32,
            "minimum_digits": DIGITS,
            "worst_minimum_error": self.worst_minimum_error,
        }


def rewrite_graph(source: Path, out: Path, *, accuracy_level: int = 4) -> GridReport:
    """Rewrite ``source/model.onnx`` (an fp32 builder graph) into ``out/model.onnx``."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source / "model.onnx"))
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    consumers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    report = GridReport()
    new_nodes: list[Any] = []
    new_inits: list[Any] = []
    widened: dict[str, str] = {}  # activation → itself with its block sums, shared
    used: set[str] = set()

    def widen(x: str, k: int) -> str:
        """``x [B, S, K]`` → ``[B, S, K + DIGITS*E*32]``: ``x``, then its block sums padded
        to whole blocks, once per digit."""
        if x not in widened:
            blocks = k // BLOCK
            pad = -(-blocks // BLOCK) * BLOCK - blocks
            shape, axes, pads = f"{x}/grid_blocks", f"{x}/grid_axes", f"{x}/grid_pads"
            summed, padded = f"{x}/grid_block_sums", f"{x}/grid_padded_sums"
            new_inits.append(
                numpy_helper.from_array(np.asarray([0, 0, blocks, BLOCK], np.int64), shape)
            )
            new_inits.append(numpy_helper.from_array(np.asarray([-1], np.int64), axes))
            new_nodes.append(helper.make_node("Reshape", [x, shape], [shape + "/out"]))
            new_nodes.append(
                helper.make_node("ReduceSum", [shape + "/out", axes], [summed], keepdims=0)
            )
            if pad:
                new_inits.append(
                    numpy_helper.from_array(np.asarray([0, 0, 0, 0, 0, pad], np.int64), pads)
                )
                new_nodes.append(helper.make_node("Pad", [summed, pads], [padded]))
            else:
                padded = summed
            new_nodes.append(
                helper.make_node("Concat", [x] + [padded] * DIGITS, [f"{x}/grid_wide"], axis=-1)
            )
            widened[x] = f"{x}/grid_wide"
        return widened[x]

    for node in graph.node:
        weight_name = node.input[1] if node.op_type == "MatMul" else ""
        tensor = inits.get(weight_name)
        if tensor is None or len(tensor.dims) != 2 or tensor.dims[0] % BLOCK:
            new_nodes.append(node)
            continue
        weight = numpy_helper.to_array(tensor).astype(np.float32)
        k, n = weight.shape
        x, y = node.input[0], node.output[0]
        base = weight_name.removesuffix(".weight")
        attrs = {"N": n, "block_size": BLOCK, "accuracy_level": accuracy_level}
        four = q4_1_blocks(weight)
        if four is not None:
            q, d, low = four
            report.q4_1 += 1
            # What the zero point 8 takes away, plus the minimum: one constant per block.
            minimum = low.astype(np.float64) + 8 * d.astype(np.float64)
            digits, digit_scales = minimum_digits(minimum.astype(np.float32))
            rebuilt = np.einsum(
                "ndw,nd->nw",
                digits[..., : q.shape[1]].astype(np.float64) - 8,
                digit_scales[..., 0].astype(np.float64),
            )
            scale = np.maximum(np.abs(minimum).max(1, keepdims=True), 1e-30)
            report.worst_minimum_error = max(
                report.worst_minimum_error, float((np.abs(rebuilt - minimum) / scale).max())
            )
            extra = digits.reshape(n, -1, BLOCK)
            packed, scales = f"{base}.q4", f"{base}.scales"
            new_inits += [
                numpy_helper.from_array(pack_4bit(np.concatenate([q, extra], axis=1)), packed),
                numpy_helper.from_array(
                    np.concatenate([d, digit_scales.reshape(n, -1)], axis=1), scales
                ),
            ]
            new_nodes.append(
                helper.make_node(
                    "MatMulNBits",
                    [widen(x, k), packed, scales],
                    [y],
                    name=node.name,
                    domain=_MS,
                    bits=4,
                    K=k + extra.shape[1] * BLOCK,
                    **attrs,
                )
            )
            used.add(weight_name)
            continue
        eight = q8_0_blocks(weight)
        if eight is not None:
            q8, d = eight
            report.q8_0 += 1
            packed, scales = f"{base}.q8", f"{base}.scales"
            new_inits += [
                numpy_helper.from_array((q8.astype(np.int16) + 128).astype(np.uint8), packed),
                numpy_helper.from_array(d, scales),
            ]
            new_nodes.append(
                helper.make_node(
                    "MatMulNBits",
                    [x, packed, scales],
                    [y],
                    name=node.name,
                    domain=_MS,
                    bits=8,
                    K=k,
                    **attrs,
                )
            )
            used.add(weight_name)
            continue
        report.kept_fp32.append(weight_name)
        new_nodes.append(node)
    # A weight another node still reads (the tied embedding's Gather) stays.
    keep = [t for t in graph.initializer if t.name not in used or consumers[t.name] > 1]
    del graph.node[:]
    graph.node.extend(new_nodes)
    del graph.initializer[:]
    graph.initializer.extend([*keep, *new_inits])
    out.mkdir(parents=True, exist_ok=True)
    target = out / "model.onnx"
    data = target.with_suffix(".onnx.data")
    if data.exists():
        os.remove(data)
    onnx.save(model, str(target), save_as_external_data=True, location=data.name)
    return report
