"""Ways to run a fine-tuned encoder in int8, against PyTorch: quotes/s and held-out macro-F1, in one run.

Why this exists: issue 25 asks int8 for ≥ 2.5× PyTorch's rate with macro-F1 within 0.005. This
script measures the package's int8 and the alternatives studied, so the choice is reproducible:

- the package's int8 (``lived_themes.coders.onnx_quantize``: int8 activations with one scale per
  token, int8 weights per output channel) in ONNX Runtime calls of 4 to 128 rows (``ONNX_BATCH_ROWS``);
- ONNX Runtime's ``quantize_dynamic`` of the same float graph (one activation scale per tensor and
  call, so a comment's scores depend slightly on the comments batched with it: the package's int8
  before), with 8-bit or 7-bit (``reduce_range``) weights per channel, and one scale per weight matrix;
- per-token int8 after SmoothQuant-style smoothing (per-channel activation ranges from 400 training
  comments moved into the weights, alpha 0.5): needs calibration data, which export on first use lacks;
- static int8 (activation ranges calibrated on 400 training comments, QDQ format);
- float ONNX, and PyTorch in smaller batches (is the gain from int8 or from the batch size?);
- the ``openvino`` backend (bfloat16 where the CPU has it), when installed, for comparison.

Every row is the coder's own ``predict_proba`` on the held-out respondents of
``benchmarks/nhs_quality.py``'s split with the model already loaded; the median of ``--repeats``
runs; "flips" counts code decisions (comment x code) that differ from PyTorch's.

    python benchmarks/throughput.py --epochs 3 --save-model /tmp/nhs-transformer   # once: the model
    HF_HUB_OFFLINE=1 python benchmarks/onnx_int8_variants.py --model /tmp/nhs-transformer --out variants.json

Needs the ``onnx`` extra. Quantized variants are written to a temporary folder, never into the model.
Reads ../shared/datasets (never copied into the repo). Offline.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import nhs_quality  # noqa: E402  (same folder: the NHS file, its respondent split and scoring)


TORCH_AGAIN = "torch, default batches, again"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, required=True, help="a saved transformer coder trained on the benchmark's training respondents")
    p.add_argument("--data", type=Path, default=nhs_quality.DEFAULT_DATA)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rows", type=int, default=None, help="only this many held-out comments (quick checks)")
    p.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    return p.parse_args(argv)


class Study:
    """The held-out comments, PyTorch's scores on them, and a timer for any way of scoring them."""

    def __init__(self, args: argparse.Namespace) -> None:
        from lived_themes.coders import load_coder
        from lived_themes.coders.decision import decision_of

        corpus = nhs_quality.load_nhs_file(args.data)
        self.train_idx, test_idx = nhs_quality.respondent_split(corpus, seed=0)
        if args.rows:
            test_idx = test_idx[: args.rows]
        self.corpus, self.repeats = corpus, args.repeats
        self.coder = load_coder(args.model)
        self.codes = list(self.coder.codes_)
        self.meta = corpus.quotes.iloc[test_idx].reset_index(drop=True)
        self.texts = [corpus.texts[i] for i in test_idx]
        self.y_test = corpus.label_matrix("nhs", self.codes)[test_idx]
        self.decision = decision_of(self.coder)  # the coder's own rule turns scores into codes
        self.default_batch = self.coder.predict_batch_size
        self.rows: list[dict[str, Any]] = []
        self.torch_s, self.reference = self._timed("torch", None)
        self.base_f1 = self._f1(self.reference)

    def calibration_batches(self) -> list[dict[str, np.ndarray]]:
        """400 training comments (seeded), as ONNX Runtime inputs in batches of 16 as predict makes them: what the
        calibrated variants (static int8, SmoothQuant) read."""
        from lived_themes.coders._inference import length_sorted_batches
        from lived_themes.coders.onnx_backend import padded

        chosen = np.random.default_rng(0).choice(self.train_idx, min(400, len(self.train_idx)), replace=False)
        ids = self.coder._token_ids([self.corpus.texts[i] for i in chosen], self.corpus.quotes.iloc[chosen].reset_index(drop=True))
        pad = int(self.coder.tokenizer_.pad_token_id or 0)
        batches = []
        for batch in length_sorted_batches([len(t) for t in ids], 16):
            token_ids, mask = padded([ids[i] for i in batch], pad)
            batches.append({"input_ids": token_ids, "attention_mask": mask})
        return batches

    def _f1(self, scores: np.ndarray) -> float:
        return float(nhs_quality.score(self.coder, scores, self.y_test, self.codes, n_train=0, fit_s=None, predict_s=0.0)["macro_f1"])

    def _timed(self, backend: str, batch: int | None) -> tuple[float, np.ndarray]:
        from lived_themes.coders.onnx_backend import encoder_backend

        self.coder.predict_batch_size = batch or self.default_batch
        with encoder_backend(backend):
            self.coder.predict_proba(self.texts[:4], metadata=self.meta.iloc[:4])  # warm-up
            times, scores = [], None
            for _ in range(self.repeats):
                t0 = time.perf_counter()
                scores = self.coder.predict_proba(self.texts, metadata=self.meta)
                times.append(time.perf_counter() - t0)
        self.coder.predict_batch_size = self.default_batch
        return statistics.median(times), np.asarray(scores)

    def row(self, name: str, backend: str, *, graph: Path | None = None, batch: int | None = None, rows_per_call: int | None = None) -> None:
        """Time one way of scoring; ``graph`` replaces the coder's ONNX graph, ``rows_per_call`` ONNX_BATCH_ROWS."""
        from lived_themes.coders import onnx_backend

        saved_encoders, saved_rows = dict(getattr(self.coder, "_onnx_encoders", {}) or {}), onnx_backend.ONNX_BATCH_ROWS
        try:
            if graph is not None:
                self.coder._onnx_encoders = {backend: onnx_backend.OnnxEncoder(graph)}
            if rows_per_call is not None:
                onnx_backend.ONNX_BATCH_ROWS = rows_per_call
            seconds, scores = self._timed(backend, batch)
        finally:
            self.coder._onnx_encoders, onnx_backend.ONNX_BATCH_ROWS = saved_encoders, saved_rows
        f1 = self._f1(scores)
        flips = int((self.decision.codes_from_scores(scores) != self.decision.codes_from_scores(self.reference)).sum())
        self.rows.append({"variant": name, "seconds": seconds, "quotes_per_s": len(self.texts) / seconds,
                          "macro_f1": f1, "delta_macro_f1": f1 - self.base_f1, "flips": flips,
                          "max_abs_score_diff": float(np.abs(scores - self.reference).max())})
        print(f"  measured: {name}", flush=True)

    def table(self) -> str:
        """Every row against PyTorch's default batches, timed first and last: the faster of the two (the stricter ratio)."""
        torch_s = min([self.torch_s] + [r["seconds"] for r in self.rows if r["variant"] == TORCH_AGAIN])
        lines = [f"{len(self.texts)} held-out comments; PyTorch (default batches) {len(self.texts) / torch_s:.1f} quotes/s, "
                 f"macro-F1 {self.base_f1:.4f}", "",
                 "| variant (model loaded) | quotes/s | x torch | macro-F1 | Δ macro-F1 | flips |", "|---|---|---|---|---|---|"]
        for r in self.rows:
            r["x_torch"] = torch_s / r["seconds"]
            lines.append(f"| {r['variant']} | {r['quotes_per_s']:.1f} | {r['x_torch']:.2f} | {r['macro_f1']:.4f} | "
                         f"{r['delta_macro_f1']:+.4f} | {r['flips']} |")
        self.torch_s = torch_s
        return "\n".join(lines)


def dynamic(source: Path, target: Path, **options: Any) -> Path:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    extra = {"DefaultTensorType": onnx.TensorProto.FLOAT, **options.pop("extra_options", {})}
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, extra_options=extra, **options)
    return target


def static(study: Study, source: Path, target: Path) -> Path:
    """QDQ int8 with activation ranges from 400 training comments (min-max), in batches as predict makes them."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(study.calibration_batches())

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    quantize_static(str(source), str(target), Reader(), quant_format=QuantFormat.QDQ, per_channel=True, weight_type=QuantType.QInt8,
                    activation_type=QuantType.QUInt8, calibrate_method=CalibrationMethod.MinMax, op_types_to_quantize=["MatMul"],
                    extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return target


def smoothed_per_token(study: Study, source: Path, target: Path, alpha: float = 0.5) -> Path:
    """SmoothQuant (Xiao et al. 2023): divide each input channel of a weight MatMul by s, multiply the weight's row by s
    (s = act_max^alpha / weight_max^(1-alpha), act_max from 400 training comments), then the package's per-token int8."""
    import onnx
    from onnx import helper, numpy_helper

    from lived_themes.coders.onnx_quantize import quantize_per_token, weight_matmuls

    model = onnx.load(str(source))
    inits = {i.name: i for i in model.graph.initializer}
    matmuls = weight_matmuls(model)
    inputs = sorted({n.input[0] for n in matmuls})
    act_max = _channel_max(study, model, inputs)
    order = list(model.graph.node)
    for x in inputs:
        readers = [n for n in matmuls if n.input[0] == x]
        w_max = np.max([np.abs(numpy_helper.to_array(inits[n.input[1]])).max(axis=1) for n in readers], axis=0)
        s = (np.clip(act_max[x], 1e-5, None) ** alpha / np.clip(w_max, 1e-5, None) ** (1 - alpha)).astype(np.float32)
        model.graph.initializer.append(numpy_helper.from_array(1 / s, x + "_smooth"))
        order.insert(min(order.index(n) for n in readers), helper.make_node("Mul", [x, x + "_smooth"], [x + "_smoothed"]))
        for n in readers:
            inits[n.input[1]].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(inits[n.input[1]]) * s[:, None], n.input[1]))
            n.input[0] = x + "_smoothed"
    del model.graph.node[:]
    model.graph.node.extend(order)
    smoothed = target.with_suffix(".float.onnx")
    onnx.save(model, str(smoothed))
    quantize_per_token(smoothed, target)
    return target


def _channel_max(study: Study, model: Any, tensors: list[str]) -> dict[str, np.ndarray]:
    """Largest |activation| per channel of each tensor over 400 training comments (real tokens only)."""
    import onnx
    import onnxruntime as ort

    probe = onnx.ModelProto.FromString(model.SerializeToString())
    for name in tensors:
        probe.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    found: dict[str, np.ndarray] = {}
    for inputs in study.calibration_batches():
        real = inputs["attention_mask"].reshape(-1) > 0
        for name, value in zip(tensors, session.run(tensors, inputs)):
            peak = np.abs(value.reshape(-1, value.shape[-1])[real]).max(axis=0)
            found[name] = np.maximum(found[name], peak) if name in found else peak
    return found


def main(argv: list[str] | None = None) -> None:
    from lived_themes.coders.onnx_backend import EXPORT_DIR, FILES, encoder_backend

    args = parse_args(argv)
    args.model = args.model.resolve()  # the variants run in a scratch folder (below)
    study = Study(args)
    for backend in FILES:  # the coder exports each graph on first use, untimed, before the variants read them
        if backend == "openvino" and importlib.util.find_spec("openvino") is None:
            continue
        with encoder_backend(backend):
            study.coder.predict_proba(study.texts[:4], metadata=study.meta.iloc[:4])
    folder = args.model / "model" if (args.model / "model").is_dir() else args.model
    float_graph, int8_graph = folder / EXPORT_DIR / FILES["onnx"], folder / EXPORT_DIR / FILES["onnx-int8"]
    with tempfile.TemporaryDirectory(prefix="int8-variants-") as tmp:
        scratch = Path(tmp)
        plans: list[tuple[str, str, Callable[[], Path | None], dict[str, Any]]] = [
            ("torch, batches of 16", "torch", lambda: None, {"batch": 16}),
            ("torch, batches of 32", "torch", lambda: None, {"batch": 32}),
            ("float ONNX, 16 rows a call (the package)", "onnx", lambda: None, {}),
        ]
        plans += [(f"per-token int8, {n} rows a call" + (" (the package)" if n == 16 else ""), "onnx-int8", lambda: None,
                   {"rows_per_call": n, "batch": n}) for n in (4, 8, 16, 32, 64, 128)]
        plans += [
            ("per-tensor dynamic int8 (quantize_dynamic; the package before)", "onnx-int8",
             lambda: dynamic(float_graph, scratch / "pc.onnx", per_channel=True), {}),
            ("per-tensor dynamic int8, 7-bit weights (reduce_range)", "onnx-int8",
             lambda: dynamic(float_graph, scratch / "rr.onnx", per_channel=True, reduce_range=True), {}),
            ("per-tensor dynamic int8, one scale per weight matrix", "onnx-int8",
             lambda: dynamic(float_graph, scratch / "pt.onnx", per_channel=False), {}),
            ("per-token int8 after SmoothQuant (alpha 0.5, 400 training comments)", "onnx-int8",
             lambda: smoothed_per_token(study, float_graph, scratch / "smooth.onnx"), {}),
            ("static int8 (QDQ, calibrated), MatMuls", "onnx-int8", lambda: static(study, float_graph, scratch / "static.onnx"), {}),
            ("per-token int8, 16 rows a call, again", "onnx-int8", lambda: int8_graph, {}),
        ]
        if importlib.util.find_spec("openvino") is not None:  # not int8: the openvino backend, for comparison
            plans.append(("openvino (the package: bf16 where the CPU has it)", "openvino", lambda: None, {}))
        plans += [
            (TORCH_AGAIN, "torch", lambda: None, {}),
        ]
        # ONNX Runtime's symbolic shape inference saves "sym_shape_infer_temp.onnx" and a 90 MB weights file into the
        # working directory when it gives up (static quantization of the fused graph): work in the scratch folder
        home = Path.cwd()
        os.chdir(scratch)
        try:
            for name, backend, make, options in plans:
                study.row(name, backend, graph=make(), **options)
        finally:
            os.chdir(home)
    print(study.table())
    if args.out:
        args.out.write_text(json.dumps({"n_test": len(study.texts), "torch_quotes_per_s": len(study.texts) / study.torch_s,
                                        "torch_macro_f1": study.base_f1, "rows": study.rows}, indent=2))


if __name__ == "__main__":
    main()
