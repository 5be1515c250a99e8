"""Per-token int8 (the onnx-int8 encoder's quantization) on tiny hand-built graphs: the rewrite computes exactly the
quantized product it claims, each row's result depends on that row alone, shared inputs are quantized once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the onnx encoder backend needs lived-themes[onnx]")
onnx = pytest.importorskip("onnx", reason="the onnx encoder backend needs lived-themes[onnx]")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from lived_themes.coders.onnx_quantize import LEVELS, quantize_per_token, quantized_weight  # noqa: E402

K, N1, N2 = 32, 8, 5


def _two_projections(path: Path, w1: np.ndarray, w2: np.ndarray) -> Path:
    """x (batch, tokens, K) -> x @ w1 and x @ w2: two MatMuls reading one input, like query and key projections."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["y1"]), helper.make_node("MatMul", ["x", "w2"], ["y2"])],
        "two_projections",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "tokens", K])],
        [helper.make_tensor_value_info("y1", TensorProto.FLOAT, ["batch", "tokens", N1]),
         helper.make_tensor_value_info("y2", TensorProto.FLOAT, ["batch", "tokens", N2])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )
    # IR 8: older ONNX Runtimes refuse onnx's newest IR version (1.19 reads 10 at most)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def _run(path: Path, x: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})


@pytest.fixture()
def graphs(tmp_path: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    w1, w2 = rng.normal(size=(K, N1)).astype(np.float32), rng.normal(size=(K, N2)).astype(np.float32)
    source = _two_projections(tmp_path / "float.onnx", w1, w2)
    target = tmp_path / "int8.onnx"
    assert quantize_per_token(source, target) == 2
    return source, target, w1, w2


def _expected(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The per-token int8 product written out in numpy: symmetric rows, weights per output channel."""
    rows = x.reshape(-1, x.shape[-1])
    scale = np.maximum(np.abs(rows).max(axis=1, keepdims=True) / LEVELS, 1e-8)
    rows8 = np.clip(np.round(rows / scale), -LEVELS, LEVELS)  # numpy and QuantizeLinear both round half to even
    w8, w_scale = quantized_weight(w)
    return ((rows8 @ w8.astype(np.float64)) * w_scale * scale).reshape(*x.shape[:-1], w.shape[1])


def test_the_rewrite_computes_the_per_token_int8_product(graphs: tuple[Path, Path, np.ndarray, np.ndarray]) -> None:
    source, target, w1, w2 = graphs
    x = np.random.default_rng(1).normal(size=(3, 7, K)).astype(np.float32)
    x[0, 2, 5] = 40.0  # an outlier, as MiniLM's LayerNorm outputs have
    y1, y2 = _run(target, x)
    np.testing.assert_allclose(y1, _expected(x, w1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(y2, _expected(x, w2), rtol=1e-4, atol=1e-4)
    f1, _ = _run(source, x)
    assert y1.shape == f1.shape and not np.array_equal(y1, f1)  # int8, not the float graph passed through
    relative = np.abs(y1 - f1).max() / np.abs(f1).max()
    assert relative < 0.05


def test_a_rows_result_depends_on_that_row_alone(graphs: tuple[Path, Path, np.ndarray, np.ndarray]) -> None:
    """Per-tensor dynamic int8 fails this: a loud comment in the batch coarsens every other comment's scale."""
    _, target, _, _ = graphs
    x = np.random.default_rng(2).normal(size=(2, 6, K)).astype(np.float32)
    alone = _run(target, x[:1])[0]
    loud = x.copy()
    loud[1] *= 1000.0
    together = _run(target, loud)[0]
    np.testing.assert_array_equal(together[:1], alone)


def test_an_input_read_by_two_matmuls_is_quantized_once_and_the_float_weights_are_gone(
        graphs: tuple[Path, Path, np.ndarray, np.ndarray]) -> None:
    _, target, _, _ = graphs
    model = onnx.load(str(target))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") == 1 and ops.count("MatMulIntegerToFloat") == 2 and "MatMul" not in ops
    kinds = {i.name: i.data_type for i in model.graph.initializer}
    assert "w1" not in kinds and "w2" not in kinds
    assert sum(t == TensorProto.INT8 for t in kinds.values()) == 2
    onnx.checker.check_model(model)


def test_a_graph_without_weight_matmuls_is_refused_by_the_export(tmp_path: Path) -> None:
    from lived_themes.coders.onnx_export import _quantize

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "no_matmul",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    source = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(source))
    assert quantize_per_token(source, tmp_path / "same.onnx") == 0
    with pytest.raises(ValueError, match="relu.onnx: no MatMul"):
        _quantize(source, tmp_path / "int8.onnx")
