"""int8 with one activation scale per token: the ``onnx-int8`` encoder's quantization.

Why not ``onnxruntime.quantization.quantize_dynamic`` alone: it gives each MatMul's input one scale per
ONNX Runtime call (per tensor), so a few large activations of one token (MiniLM's LayerNorm outputs reach
28 where most channels stay under 2) coarsen every other token's resolution, and a comment's scores
depend on the comments batched with it. On the NHS model that changed about 70 of 39,600 code decisions
of 1,200 training comments. One scale per token (row), as in LLM.int8()'s vector-wise and ZeroQuant's
token-wise quantization, cut that to 33 (mean score error 0.0014 against 0.0032) and makes a comment's
scores its own. ONNX Runtime has no switch for it, so this module rewrites the float graph with
standard operators and ONNX Runtime's ``MatMulIntegerToFloat``:

    x (..., K) -> rows (n, K) -> s = max|row| / 127 -> u8 = QuantizeLinear(rows, s, 128)
    y = MatMulIntegerToFloat(u8, W8, 1, w_scale, 128) * s -> (..., N)

Weights are int8, symmetric, one scale per output channel. Inputs shared by several MatMuls (the query,
key and value projections) are quantized once. Only MatMuls whose second input is a 2-D float weight are
rewritten; attention's activation-by-activation products, LayerNorm and GELU stay float.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: The symmetric int8 range used for activations and weights (-127..127: no -128, so the grid is symmetric).
LEVELS = 127
#: uint8 zero point that turns symmetric int8 activations into the uint8 that ONNX Runtime's fast kernels take.
ZERO_POINT = 128
#: A row of zeros gets this scale rather than 0 (QuantizeLinear divides by it).
MIN_SCALE = 1e-8
CONTRIB = "com.microsoft"


def quantize_per_token(source: Path, target: Path) -> int:
    """Write ``target``: ``source`` with its weight MatMuls in int8 (per-token activations). Returns how many."""
    import onnx

    model = onnx.load(str(source))
    count = rewrite_per_token(model)
    onnx.save(model, str(target))
    return count


def weight_matmuls(model: Any) -> list[Any]:
    """The MatMul nodes whose second input is a 2-D float initializer: the ones int8 rewrites."""
    from onnx import TensorProto

    weights = {i.name: i for i in model.graph.initializer if i.data_type == TensorProto.FLOAT and len(i.dims) == 2}
    return [n for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in weights]


def quantized_weight(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 weights and their float scale per output channel (column), symmetric."""
    scale = np.abs(w).max(axis=0) / LEVELS
    scale[scale == 0] = 1.0
    return np.clip(np.round(w / scale), -LEVELS, LEVELS).astype(np.int8), scale.astype(np.float32)


def rewrite_per_token(model: Any) -> int:
    """Rewrite ``model`` (an ``onnx.ModelProto``) in place; returns the number of MatMuls made int8."""
    from onnx import helper, numpy_helper

    targets = weight_matmuls(model)
    if not targets:
        return 0
    inits = {i.name: i for i in model.graph.initializer}
    const = {"pt_inv_levels": np.array(1.0 / LEVELS, np.float32), "pt_min_scale": np.array(MIN_SCALE, np.float32),
             "pt_zero_point": np.array(ZERO_POINT, np.uint8), "pt_one": np.array(1.0, np.float32),
             "pt_flat": np.array([-1], np.int64), "pt_start": np.array([0], np.int64), "pt_last": np.array([-1], np.int64)}
    model.graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in const.items())
    target_ids = {id(n) for n in targets}
    quantized_inputs: dict[str, str] = {}
    nodes = []
    for index, node in enumerate(model.graph.node):
        if id(node) not in target_ids:
            nodes.append(node)
            continue
        x, y, w_name = node.input[0], node.output[0], node.input[1]
        w = numpy_helper.to_array(inits[w_name]).astype(np.float32)
        k, n = w.shape
        w8, w_scale = quantized_weight(w)
        p = f"pt{index}"
        model.graph.initializer.extend([numpy_helper.from_array(w8, p + "_w8"), numpy_helper.from_array(w_scale, p + "_w_scale"),
                                        numpy_helper.from_array(np.array([n], np.int64), p + "_width")])
        if x not in quantized_inputs:  # one quantization (and one shape) per input tensor, shared by the MatMuls that read it
            q = quantized_inputs[x] = f"pt_x{len(quantized_inputs)}"
            model.graph.initializer.append(numpy_helper.from_array(np.array([-1, k], np.int64), q + "_to_rows"))
            nodes += [
                helper.make_node("Shape", [x], [q + "_in_shape"]),
                helper.make_node("Slice", [q + "_in_shape", "pt_start", "pt_last"], [q + "_lead"]),  # all but the last axis
                helper.make_node("Reshape", [x, q + "_to_rows"], [q + "_rows"]),
                helper.make_node("Abs", [q + "_rows"], [q + "_abs"]),
                helper.make_node("ReduceMax", [q + "_abs"], [q + "_max"], axes=[-1], keepdims=1),
                helper.make_node("Mul", [q + "_max", "pt_inv_levels"], [q + "_scale0"]),
                helper.make_node("Max", [q + "_scale0", "pt_min_scale"], [q + "_scale"]),  # (n, 1)
                helper.make_node("Reshape", [q + "_scale", "pt_flat"], [q + "_scale1"]),  # (n,)
                helper.make_node("Shape", [q + "_scale1"], [q + "_n"]),
                helper.make_node("ConstantOfShape", [q + "_n"], [q + "_zp"],
                                 value=numpy_helper.from_array(np.array([ZERO_POINT], np.uint8))),
                helper.make_node("QuantizeLinear", [q + "_rows", q + "_scale1", q + "_zp"], [q + "_u8"], axis=0),
            ]
        q = quantized_inputs[x]
        nodes += [
            helper.make_node("MatMulIntegerToFloat", [q + "_u8", p + "_w8", "pt_one", p + "_w_scale", "pt_zero_point"],
                             [p + "_y0"], domain=CONTRIB),
            helper.make_node("Mul", [p + "_y0", q + "_scale"], [p + "_y1"]),
            helper.make_node("Concat", [q + "_lead", p + "_width"], [p + "_out_shape"], axis=0),
            helper.make_node("Reshape", [p + "_y1", p + "_out_shape"], [y]),
        ]
    still_read = {name for node in nodes for name in node.input}
    for name in {t.input[1] for t in targets} - still_read:
        model.graph.initializer.remove(inits[name])
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    if not any(o.domain == CONTRIB for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(CONTRIB, 1))
    return len(targets)
