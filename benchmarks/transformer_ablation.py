"""What in the ``transformer.v1`` recipe matters? One table, each row one change from today's default.

Rows (``--rows`` picks some): longer training with early stopping; encoder and head learning rates;
layer-wise learning-rate decay; class weighting and ``max_pos_weight``; thresholds left at 0.5
instead of tuned; the survey question (``FFT question``) prepended as context; and several seeds
with their scores averaged. Everything else is held fixed: the NHS respondent holdout of
``benchmarks/nhs_quality.py``, the same training quotes, the same codes. Macro-F1 intervals resample
test respondents; differences smaller than the interval width are noise.

    python benchmarks/transformer_ablation.py --max-train 2000            # long: each row fine-tunes MiniLM
    python benchmarks/transformer_ablation.py --rows baseline,no_tuning --max-train 200 --max-test 300 --max-steps 5

Reads ../shared/datasets. Offline.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import learning_curve  # noqa: E402  (the task, its split and the cluster-bootstrap macro-F1)
import nhs_quality  # noqa: E402

#: name -> (description, parameter changes from the default); "seeds" is handled apart.
ROWS: dict[str, tuple[str, dict[str, Any]]] = {
    "baseline": ("today's default (transformer.v1)", {}),
    "epochs_6_patience_2": ("6 epochs, early stopping with patience 2", {"epochs": 6, "patience": 2}),
    "lr_encoder_5e-5": ("encoder learning rate 5e-5 (default 1e-4)", {"lr_encoder": 5e-5}),
    "lr_encoder_2e-4": ("encoder learning rate 2e-4", {"lr_encoder": 2e-4}),
    "lr_head_5e-3": ("head learning rate 5e-3 (default 2e-3)", {"lr_head": 5e-3}),
    "layer_decay_0.8": ("layer-wise learning-rate decay 0.8", {"layer_decay": 0.8}),
    "no_class_weight": ("no positive-class weighting", {"class_weight": None}),
    "max_pos_weight_3": ("max_pos_weight 3 (default 10)", {"max_pos_weight": 3.0}),
    "max_pos_weight_30": ("max_pos_weight 30", {"max_pos_weight": 30.0}),
    "no_tuning": ("thresholds 0.5 instead of tuned", {"tune": False}),
    "question_context": ("the FFT question prepended as context", {"context_columns": ["FFT question"]}),
    "seeds_3": ("3 seeds, scores and thresholds averaged", {}),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=nhs_quality.DEFAULT_DATA)
    p.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, from: {', '.join(ROWS)}")
    p.add_argument("--encoder", default="all-MiniLM-L6-v2")
    p.add_argument("--max-train", type=int, default=None, help="cap on training quotes (seeded sample)")
    p.add_argument("--max-test", type=int, default=None, help="cap on test quotes (whole respondents)")
    p.add_argument("--max-steps", type=int, default=None, help="cap on optimiser steps, for smoke runs")
    p.add_argument("--min-examples", type=int, default=20)
    p.add_argument("--n-seeds", type=int, default=3, help="seeds for the seeds row")
    p.add_argument("--n-boot", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="also write the table as JSON here")
    return p.parse_args(argv)


def fit_and_score(task: learning_curve.Task, train: np.ndarray, params: dict[str, Any], seeds: list[int]) -> tuple[np.ndarray, Any]:
    """(test scores, decision): one model per seed; several seeds average both scores and thresholds."""
    from lived_themes.coders.decision import Decision
    from lived_themes.registry import make_coder

    test_meta = task.metadata.iloc[task.test_idx].reset_index(drop=True)
    scores, thresholds = [], []
    for seed in seeds:
        coder = make_coder("transformer.v1", **{**params, "seed": seed})
        coder.fit([task.texts[i] for i in train], task.labels[train], task.codes,
                  metadata=task.metadata.iloc[train].reset_index(drop=True))
        scores.append(coder.predict_proba([task.texts[i] for i in task.test_idx], metadata=test_meta))
        thresholds.append(coder.decision.thresholds)
    return np.mean(scores, axis=0), Decision(np.mean(thresholds, axis=0))


def run_ablation(task: learning_curve.Task, rows: list[str], args: argparse.Namespace) -> list[dict[str, Any]]:
    from lived_themes.evaluation import micro_f1

    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise SystemExit(f"unknown row(s) {unknown}; choose from {list(ROWS)}")
    train = task.train_idx
    if args.max_train and len(train) > args.max_train:
        train = np.sort(np.random.default_rng(args.seed).choice(train, args.max_train, replace=False))
    base = {"encoder": args.encoder, "validation_group": task.group, "max_steps": args.max_steps}
    out = []
    for name in rows:
        description, change = ROWS[name]
        seeds = [args.seed + i for i in range(args.n_seeds)] if name == "seeds_3" else [args.seed]
        started = time.perf_counter()
        row: dict[str, Any] = {"row": name, "change": description, "n_train": int(len(train))}
        try:
            scores, decision = fit_and_score(task, train, {**base, **change}, seeds)
            predicted = decision.codes_from_scores(scores).astype(float)
            row["macro_f1"], row["ci_low"], row["ci_high"] = learning_curve.macro_f1_ci(task, predicted, args.n_boot, args.seed)
            row["micro_f1"] = float(micro_f1(task.labels[task.test_idx], predicted))
        except Exception as exc:  # noqa: BLE001 - e.g. a context column this corpus lacks: reported, not fatal
            row["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        row["seconds"] = time.perf_counter() - started
        out.append(row)
        shown = f"{row['macro_f1']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]" if "macro_f1" in row else row["error"]
        print(f"{name}: macro-F1 {shown} ({row['seconds']:.0f} s)", flush=True)
    return out


def print_table(rows: list[dict[str, Any]]) -> None:
    base = next((r.get("macro_f1") for r in rows if r["row"] == "baseline"), None)
    print("\n| change from the default | macro-F1 [95% CI] | Δ macro-F1 | micro-F1 | fit s |")
    print("|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['change']} | failed: {r['error']} | | | {r['seconds']:.0f} |")
            continue
        delta = "" if base is None or r["row"] == "baseline" else f"{r['macro_f1'] - base:+.3f}"
        print(f"| {r['change']} | {r['macro_f1']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] | {delta} | {r['micro_f1']:.3f} | {r['seconds']:.0f} |")


def main(argv: list[str] | None = None, *, task: learning_curve.Task | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    if task is None:
        if not args.data.exists():
            print(f"NHS file not found at {args.data}; see data/README.md", file=sys.stderr)
            return 2
        curve_args = learning_curve.parse_args(["--min-examples", str(args.min_examples), "--seed", str(args.seed)]
                                               + (["--max-test", str(args.max_test)] if args.max_test else []))
        task = learning_curve.make_task("NHS patient experience", nhs_quality.load_nhs_file(args.data), "nhs", nhs_quality.GROUP, curve_args)
    print(f"# transformer.v1 ablation: {task.name}, {len(task.test_idx)} test quotes (people held out by {task.group}), "
          f"{len(task.codes)} codes", flush=True)
    rows = run_ablation(task, [r.strip() for r in args.rows.split(",") if r.strip()], args)
    print_table(rows)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
