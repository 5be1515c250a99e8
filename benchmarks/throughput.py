"""Throughput of the encoder backends: PyTorch vs ONNX vs ONNX int8 vs OpenVINO, quotes/s and held-out macro-F1, in one run.

Two measurements on NHS comments, both on the held-out respondents of ``benchmarks/nhs_quality.py``'s
split (80/20 by respondent, seed 0), so the quotes timed are the quotes scored:

- **the NHS model**: a saved coder (``--model``; else ``transformer.v1`` is trained here on the training
  respondents with nhs_quality's settings) coded exactly as ``lived-themes predict --encoder-backend B``
  codes (``predict_records``, model loading included, evidence off);
- **plain embedding**: the packaged MiniLM (or ``--encoder``) embedding the same comments under each
  backend (model loading excluded), with ``embedding-logreg.v1`` trained once on PyTorch embeddings of the
  training respondents and scored on each backend's embeddings of the held-out ones.

OpenVINO (``openvino``, with ``lived-themes[openvino]`` installed) runs at the CPU's native precision, bfloat16
where it has one (the header says which); ``LIVED_THEMES_OPENVINO_PRECISION=f32`` forces float32.

Backends alternate ``--repeats`` times and the median is kept, so load from other processes hits all
alike. The ONNX export (once per model, into its folder) is done and timed before the timed runs.

    python benchmarks/throughput.py --model MODEL_DIR --repeats 3          # a model trained on the training respondents
    python benchmarks/throughput.py --save-model /tmp/nhs-transformer      # train here (about 6 epochs), keep the model
    python benchmarks/throughput.py --rows 600 --epochs 1 --repeats 1      # a quick end-to-end check
    python benchmarks/throughput.py --pipeline --model MODEL_DIR           # also: predict vs a transformers pipeline

Reads ../shared/datasets (never copied into the repo). Offline.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import nhs_quality  # noqa: E402  (same folder: the NHS file, its respondent split and scoring)

BACKENDS = ("torch", "onnx", "onnx-int8", "openvino")


def default_backends() -> list[str]:
    """Every backend whose runtime is installed (OpenVINO is an extra of its own)."""
    import importlib.util

    return [b for b in BACKENDS if b != "openvino" or importlib.util.find_spec("openvino") is not None]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=nhs_quality.DEFAULT_DATA)
    p.add_argument("--model", "--model-dir", dest="model", type=Path, default=None,
                   help="a saved model folder (or a run folder holding model/) trained on the benchmark's training respondents; "
                        "else transformer.v1 is trained here")
    p.add_argument("--save-model", type=Path, default=None, help="keep the model trained here in this (new) folder, for --model later")
    p.add_argument("--rows", type=int, default=None, help="use only this many NHS comments (a seeded sample), for quick checks")
    p.add_argument("--backends", default=",".join(default_backends()), help="comma-separated: torch, onnx, onnx-int8, openvino")
    p.add_argument("--parts", default="model,embedding", help="comma-separated: model, embedding")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=6, help="transformer.v1 epochs when training here (nhs_quality's default)")
    p.add_argument("--patience", type=int, default=2)
    p.add_argument("--max-train", type=int, default=None, help="cap on training quotes when training here")
    p.add_argument("--min-examples", type=int, default=20, help="codes need this many training quotes (nhs_quality's default)")
    p.add_argument("--context", default="FFT question", help="metadata column read with the text; 'none' for the text alone")
    p.add_argument("--encoder", default="all-MiniLM-L6-v2", help="encoder for the model trained here and for plain embedding")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pipeline", action="store_true", help="also time a transformers text-classification pipeline on the same weights")
    p.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    return p.parse_args(argv)


def _timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def _model_folder(path: Path) -> Path:
    from lived_themes.predict.local import model_folder

    return model_folder(path)


def train_model(corpus: Any, train_idx: np.ndarray, codes: list[str], folder: Path, args: argparse.Namespace) -> float:
    """transformer.v1 with nhs_quality's settings on the training respondents, saved to ``folder``; returns fit seconds."""
    from lived_themes.evaluation.leakage import training_ids_record
    from lived_themes.registry import make_coder

    coder = make_coder("transformer.v1", encoder=args.encoder, epochs=args.epochs, patience=args.patience,
                       validation_group=nhs_quality.GROUP, context_columns=nhs_quality.context_columns(args), seed=args.seed)
    y = corpus.label_matrix("nhs", codes)
    meta = corpus.quotes.iloc[train_idx].reset_index(drop=True)
    fit_s, _ = _timed(lambda: coder.fit([corpus.texts[i] for i in train_idx], y[train_idx], codes, metadata=meta))
    coder.save(folder)
    (folder / "training_ids.json").write_text(json.dumps(training_ids_record(meta["quote_id"].tolist())), encoding="utf-8")
    return fit_s


def held_out_overlap(folder: Path, ids: list[str]) -> int | None:
    """How many held-out quotes the model was trained on (run models record it), or None when it does not say."""
    from lived_themes.evaluation.leakage import training_overlap

    record = folder / "training_ids.json"
    return training_overlap(json.loads(record.read_text(encoding="utf-8")), ids) if record.exists() else None


def bench_model(folder: Path, frame: Any, y_test: np.ndarray, backends: list[str], repeats: int) -> dict[str, dict[str, Any]]:
    """Each backend codes ``frame`` as ``lived-themes predict`` does; quotes/s (median), macro-F1 at the model's thresholds."""
    from lived_themes.coders import load_coder
    from lived_themes.coders.onnx_backend import encoder_backend
    from lived_themes.predict import predict_records

    coder = load_coder(folder)
    export_s = {}
    for backend in backends:  # export (and the first session) outside the timed runs
        with encoder_backend(backend):
            export_s[backend], _ = _timed(lambda: coder.predict_proba(frame["text"].tolist()[:2], metadata=frame.iloc[:2]))
    runs: dict[str, list[float]] = {b: [] for b in backends}
    coding: dict[str, list[float]] = {b: [] for b in backends}
    scores: dict[str, np.ndarray] = {}
    texts = frame["text"].tolist()
    from lived_themes.coders import _integrity

    for _ in range(repeats):
        for backend in backends:
            with encoder_backend(backend):
                _integrity._DIGESTS.clear()  # each timed load hashes the model's files, as a fresh `lived-themes predict` does
                seconds, records = _timed(lambda: list(predict_records(folder, frame, evidence=False)))
                coding[backend].append(_timed(lambda: coder.predict_proba(texts, metadata=frame))[0])  # loaded once, not timed
            runs[backend].append(seconds)
            scores[backend] = np.array([[r["scores"][c] for c in coder.codes_] for r in records])
    coding_rate = {b: len(frame) / statistics.median(v) for b, v in coding.items()}
    return _summarise(coder, scores, runs, y_test, len(frame), {"export_s (first use, untimed)": export_s,
                                                                "quotes_per_s_model_loaded": coding_rate})


def bench_embedding(corpus: Any, train_idx: np.ndarray, test_idx: np.ndarray, codes: list[str], backends: list[str],
                    repeats: int, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Plain embedding of the held-out comments per backend; embedding-logreg.v1 fitted once on PyTorch embeddings."""
    from lived_themes.encoders import sentence as embeddings
    from lived_themes.coders._context import with_context
    from lived_themes.coders.onnx_backend import encoder_backend
    from lived_themes.registry import make_coder

    context = nhs_quality.context_columns(args)
    meta = corpus.quotes
    y = corpus.label_matrix("nhs", codes)
    coder = make_coder("embedding-logreg.v1", encoder=args.encoder, context_columns=context, seed=args.seed)
    coder.fit([corpus.texts[i] for i in train_idx], y[train_idx], codes, metadata=meta.iloc[train_idx].reset_index(drop=True))
    test_meta = meta.iloc[test_idx].reset_index(drop=True)
    inputs = with_context([corpus.texts[i] for i in test_idx], test_meta, context)
    runs: dict[str, list[float]] = {b: [] for b in backends}
    scores: dict[str, np.ndarray] = {}
    load_s = {}
    for backend in backends:
        with encoder_backend(backend):
            load_s[backend], model = _timed(lambda: embeddings.load_sentence_encoder(args.encoder))
            model.encode(inputs[:2])
    for _ in range(repeats):
        for backend in backends:
            with encoder_backend(backend):
                model = embeddings.load_sentence_encoder(args.encoder)
                seconds, vectors = _timed(lambda model=model: model.encode(inputs, batch_size=64, normalize_embeddings=True, convert_to_numpy=True))
            runs[backend].append(seconds)
            from lived_themes.coders.baselines import logreg_scores

            scores[backend] = logreg_scores(np.asarray(vectors, dtype=np.float64), coder.coef_, coder.intercept_)
    return _summarise(coder, scores, runs, y[test_idx], len(inputs), {"load_s (export included on first use)": load_s})


def _summarise(coder: Any, scores: dict[str, np.ndarray], runs: dict[str, list[float]], y_test: np.ndarray, n: int,
               extra: dict[str, dict[str, float]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    reference = next(iter(scores))
    for backend, s in scores.items():
        quality = nhs_quality.score(coder, s, y_test, list(coder.codes_), n_train=0, fit_s=None, predict_s=0.0)
        out[backend] = {
            "quotes_per_s": n / statistics.median(runs[backend]), "runs_s": runs[backend], "macro_f1": quality["macro_f1"],
            "micro_f1": quality["micro_f1"], "max_abs_score_diff_vs_" + reference: float(np.abs(s - scores[reference]).max()),
            **{name: values[backend] for name, values in extra.items()},
        }
    return out


def print_table(title: str, results: dict[str, dict[str, Any]], n: int) -> None:
    base = next(iter(results))
    print(f"\n{title} ({n} held-out comments)")
    loaded = "quotes_per_s_model_loaded" in results[base]
    extra = f" | quotes/s, model already loaded | x {base} " if loaded else " "
    print(f"| backend | quotes/s | x {base}{extra}| macro-F1 | Δ macro-F1 | micro-F1 | max |Δ score| |")
    print("|---|---|---|" + ("---|---|" if loaded else "") + "---|---|---|---|")
    for backend, r in results.items():
        diff = next(v for k, v in r.items() if k.startswith("max_abs_score_diff"))
        more = ""
        if loaded:
            rate = r["quotes_per_s_model_loaded"]
            more = f" {rate:.1f} | {rate / results[base]['quotes_per_s_model_loaded']:.2f} |"
        print(f"| {backend} | {r['quotes_per_s']:.1f} | {r['quotes_per_s'] / results[base]['quotes_per_s']:.2f} |{more} {r['macro_f1']:.4f} | "
              f"{r['macro_f1'] - results[base]['macro_f1']:+.4f} | {r['micro_f1']:.4f} | {diff:.1e} |")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    import torch


    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if not set(backends) <= set(BACKENDS) or not parts <= {"model", "embedding"}:
        print(f"--backends takes {', '.join(BACKENDS)}; --parts takes model, embedding", file=sys.stderr)
        return 2
    if not args.data.exists():
        print(f"NHS file not found at {args.data}; see data/README.md", file=sys.stderr)
        return 2
    corpus = nhs_quality.load_nhs_file(args.data)
    if args.rows is not None and args.rows < len(corpus):
        keep = np.sort(np.random.default_rng(args.seed).choice(len(corpus), args.rows, replace=False))
        corpus = corpus.subset(corpus.quotes["quote_id"].iloc[keep])
    train_idx, test_idx = nhs_quality.respondent_split(corpus, seed=args.seed)
    if args.max_train and len(train_idx) > args.max_train:
        train_idx = np.sort(np.random.default_rng(args.seed).choice(train_idx, args.max_train, replace=False))
    y_all = corpus.label_matrix("nhs", corpus.codes)
    codes = [c for j, c in enumerate(corpus.codes) if y_all[train_idx, j].sum() >= args.min_examples]
    print(f"# encoder backends on {len(corpus)} NHS comments: {len(train_idx)} train / {len(test_idx)} held-out by respondent "
          f"(seed {args.seed}); {torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs; {args.repeats} alternating repeats, median kept")
    results: dict[str, Any] = {"n_test": len(test_idx), "n_train": len(train_idx), "backends": backends}
    if "openvino" in backends:
        from lived_themes.coders.onnx_backend import backend_precision

        results["openvino_precision"] = backend_precision("openvino")
        print(f"# openvino runs in {results['openvino_precision']} on this CPU")
    with tempfile.TemporaryDirectory(prefix="lt-throughput-") as scratch:
        if "model" in parts:
            folder = _model_folder(args.model) if args.model else (args.save_model or Path(scratch) / "model")
            if args.model is None:
                fit_s = train_model(corpus, train_idx, codes, folder, args)
                print(f"trained transformer.v1 on {len(train_idx)} comments, {len(codes)} codes, in {fit_s:.0f} s -> {folder}")
            meta = corpus.quotes.iloc[test_idx].reset_index(drop=True)
            frame = meta.assign(text=[corpus.texts[i] for i in test_idx])
            overlap = held_out_overlap(folder, frame["quote_id"].tolist())
            if overlap:
                print(f"WARNING: the model was trained on {overlap} of the {len(frame)} held-out comments: its macro-F1 here is not "
                      "held out (speed is still measured fairly); train one with --save-model for held-out figures")
            model_codes = json.loads((folder / "coder.json").read_text(encoding="utf-8"))["codes"]
            y_test = corpus.label_matrix("nhs", model_codes)[test_idx]
            results["model"] = bench_model(folder, frame, y_test, backends, args.repeats)
            results["model_trained_on_held_out"] = overlap
            print_table(f"NHS model ({folder}), as `lived-themes predict --encoder-backend B`, model load included", results["model"], len(frame))
            if args.pipeline:
                import throughput_pipeline

                throughput_pipeline.compare(folder, frame, repeats=args.repeats)
        if "embedding" in parts:
            results["embedding"] = bench_embedding(corpus, train_idx, test_idx, codes, backends, args.repeats, args)
            print_table(f"plain embedding ({args.encoder}; F1 of embedding-logreg.v1 fitted on PyTorch embeddings)",
                        results["embedding"], len(test_idx))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
