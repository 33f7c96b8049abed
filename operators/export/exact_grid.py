"""Quantised weights that keep a GGUF's own grid: lossless with respect to the shipped model.

The onnxruntime-genai builder re-quantises whatever it reads, so a Q4_1 GGUF built as int4
loses a fifth of its greedy tokens (``bench/RESULTS.md``), although the GGUF's values already
sit on a 4-bit grid. This module rewrites an fp32 builder graph (whose weights are the GGUF
dequantised) so that each ``MatMul`` gets back the GGUF's exact blocks of 32:

* **Q4_1** (``w = d*q + m``, ``q`` in 0..15, a scale ``d`` and a minimum ``m`` per block):
  ``MatMulNBits`` with 4 bits, ``scale = d`` and the kernel's default zero point 8, so it
  computes ``x . d*(q-8)``; the rest, ``sum over blocks of (m + 8d) * sum(x in block)``, is a
  small fp32 ``MatMul`` of the activations' block sums (``K/32`` of them) with a ``[K/32, N]``
  matrix, added to the product. The sum is exactly ``x . w``. onnxruntime's fast CPU kernel
  takes only integer zero points; the float zero points that would carry ``m`` directly run
  through an unpacked fallback about 50x slower (measured, ``bench/RESULTS.md``).
* **Q8_0** (``w = d*q``, ``q`` in -127..127; the tied embedding/``lm_head``): ``MatMulNBits``
  with 8 bits, ``scale = d`` and the default zero point 128: exact with nothing added.

The blocks are recovered from the fp32 values, not read from the GGUF (whose tensor names and
row order differ from the graph's): in a Q4_1 block the smallest value is ``m`` and the
largest ``15d + m``, so ``d`` is ``(max - min) / 15`` rounded to float16, as stored; a Q8_0
block's largest magnitude is ``127d``. Every block is checked: its values rebuilt from the
recovered ``(q, d, m)`` must equal the fp32 weights bit for bit, or the weight is left fp32
(and reported). ``accuracy_level`` 4 has the kernels quantise activations to int8 per block.
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
    "GRID_VERSION",
    "GridReport",
    "pack_4bit",
    "q4_1_blocks",
    "q8_0_blocks",
    "rewrite_graph",
]

BLOCK = 32
#: Part of a build's cache key: bump it when the rewritten graph changes.
GRID_VERSION = 1
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


@dataclass
class GridReport:
    """What :func:`rewrite_graph` did, for the manifest."""

    q4_1: int = 0
    q8_0: int = 0
    kept_fp32: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"q4_1_matmuls": self.q4_1, "q8_0_matmuls": self.q8_0, "fp32": self.kept_fp32}


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
    block_sums: dict[str, str] = {}  # activation → its block sums, shared by its MatMuls
    used: set[str] = set()

    def block_sum(x: str, k: int) -> str:
        if x not in block_sums:
            shape, summed = f"{x}/grid_blocks", f"{x}/grid_block_sums"
            axes = f"{x}/grid_axes"
            new_inits.append(
                numpy_helper.from_array(np.asarray([0, 0, k // BLOCK, BLOCK], np.int64), shape)
            )
            new_inits.append(numpy_helper.from_array(np.asarray([-1], np.int64), axes))
            new_nodes.append(helper.make_node("Reshape", [x, shape], [shape + "/out"]))
            new_nodes.append(
                helper.make_node("ReduceSum", [shape + "/out", axes], [summed], keepdims=0)
            )
            block_sums[x] = summed
        return block_sums[x]

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
        attrs = {"K": k, "N": n, "block_size": BLOCK, "accuracy_level": accuracy_level}
        four = q4_1_blocks(weight)
        if four is not None:
            q, d, low = four
            report.q4_1 += 1
            packed, scales, fix = f"{base}.q4", f"{base}.scales", f"{base}.block_min"
            new_inits += [
                numpy_helper.from_array(pack_4bit(q), packed),
                numpy_helper.from_array(d, scales),
                # (m + 8d) per block: what the zero point 8 takes away, plus the minimum.
                numpy_helper.from_array(np.ascontiguousarray((low + 8 * d).T), fix),
            ]
            product, correction = f"{y}/grid_product", f"{y}/grid_min"
            new_nodes.append(
                helper.make_node(
                    "MatMulNBits", [x, packed, scales], [product], domain=_MS, bits=4, **attrs
                )
            )
            new_nodes.append(helper.make_node("MatMul", [block_sum(x, k), fix], [correction]))
            new_nodes.append(helper.make_node("Add", [product, correction], [y], name=node.name))
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
