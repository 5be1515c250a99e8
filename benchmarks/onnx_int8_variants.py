"""Ways to run a fine-tuned encoder in int8, against PyTorch: quotes/s and held-out macro-F1, in one run.

Why this exists: issue 25 asks int8 for ≥ 2.5× PyTorch's rate with macro-F1 within 0.005. The
package's int8 (dynamic quantization of the fused graph, per-channel int8 weights) is not there on
the NHS model; this script measures the alternatives studied, so the choice is reproducible:

- dynamic int8 in ONNX Runtime calls of 4 to 128 rows (``ONNX_BATCH_ROWS``; activation scales are
  chosen per call, so a comment's scores depend slightly on the comments it is batched with);
- the package's int8 (8-bit weights per channel) against 7-bit weights (``reduce_range``), int8 on
  MatMuls only, without the six feed-forward output MatMuls, and with per-tensor weights;
- static int8 (activation ranges calibrated on 400 training comments, QDQ format): scores that do
  not depend on the batch;
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

    from lived_themes.coders._inference import length_sorted_batches
    from lived_themes.coders.onnx_backend import padded

    rng = np.random.default_rng(0)
    chosen = rng.choice(study.train_idx, min(400, len(study.train_idx)), replace=False)
    ids = study.coder._token_ids([study.corpus.texts[i] for i in chosen], study.corpus.quotes.iloc[chosen].reset_index(drop=True))
    pad = int(study.coder.tokenizer_.pad_token_id or 0)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(list(length_sorted_batches([len(t) for t in ids], 16)))

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            if batch is None:
                return None
            token_ids, mask = padded([ids[i] for i in batch], pad)
            return {"input_ids": token_ids, "attention_mask": mask}

    quantize_static(str(source), str(target), Reader(), quant_format=QuantFormat.QDQ, per_channel=True, weight_type=QuantType.QInt8,
                    activation_type=QuantType.QUInt8, calibrate_method=CalibrationMethod.MinMax, op_types_to_quantize=["MatMul"],
                    extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return target


def main(argv: list[str] | None = None) -> None:
    import onnx

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
    matmuls = [n.name for n in onnx.load(str(float_graph), load_external_data=False).graph.node if n.op_type == "MatMul"]
    ffn_out = [n for n in matmuls if "output" in n and "attention" not in n]
    with tempfile.TemporaryDirectory(prefix="int8-variants-") as tmp:
        scratch = Path(tmp)
        plans: list[tuple[str, str, Callable[[], Path | None], dict[str, Any]]] = [
            ("torch, batches of 16", "torch", lambda: None, {"batch": 16}),
            ("torch, batches of 32", "torch", lambda: None, {"batch": 32}),
            ("float ONNX, 16 rows a call (the package)", "onnx", lambda: None, {}),
        ]
        plans += [(f"dynamic int8, {n} rows a call" + (" (the package)" if n == 16 else ""), "onnx-int8", lambda: None, {"rows_per_call": n, "batch": n})
                  for n in (4, 8, 16, 32, 64, 128)]
        plans += [
            ("dynamic int8, MatMuls only", "onnx-int8",
             lambda: dynamic(float_graph, scratch / "mm.onnx", per_channel=True, op_types_to_quantize=["MatMul"]), {}),
            (f"dynamic int8, {len(ffn_out)} FFN-output MatMuls in float", "onnx-int8",
             lambda: dynamic(float_graph, scratch / "ffn.onnx", per_channel=True, nodes_to_exclude=ffn_out), {}),
            ("dynamic int8, 7-bit weights (reduce_range)", "onnx-int8",
             lambda: dynamic(float_graph, scratch / "rr.onnx", per_channel=True, reduce_range=True), {}),
            ("dynamic int8, per-tensor weights", "onnx-int8", lambda: dynamic(float_graph, scratch / "pt.onnx", per_channel=False), {}),
            ("static int8 (QDQ, calibrated), MatMuls", "onnx-int8", lambda: static(study, float_graph, scratch / "static.onnx"), {}),
            ("dynamic int8, 16 rows a call, again", "onnx-int8", lambda: int8_graph, {}),
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
