"""How many quotes must we code by hand? Macro-F1 of each coder as the training set grows.

Each corpus is split once into train and test with whole people held out (NHS: respondents, the
split of ``benchmarks/nhs_quality.py``; MHStigma: participants). Each coder is trained on the first
25, 50, 100, ... quotes of one seeded shuffle of the training side (so larger sets contain the
smaller ones) and scored on the same test side, over the codes with at least ``--min-examples``
quotes in the full training side. Macro-F1 intervals resample test respondents (cluster bootstrap).
A coder that fails at a size (e.g. too few quotes for its inner folds) is reported, not hidden.

    python benchmarks/learning_curve.py                       # everything (long: hours on 2 CPU cores)
    python benchmarks/learning_curve.py --expensive-max 800   # the README figure: fine-tuned coders up to 800 quotes
    python benchmarks/learning_curve.py --sizes 25,50 --coders majority.v1,tfidf-logreg.v2 --max-test 300

Writes one PNG (``--png``) and optionally the figures as JSON (``--out``). Reads ../shared/datasets.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import nhs_quality  # noqa: E402  (same folder: the NHS file and its respondent split)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MHSTIGMA = REPO.parent / "shared/datasets/mhstigma_interview/train.csv"
ALL_CODERS = ["majority.v1", "tfidf-logreg.v2", "knn.v1", "embedding-logreg.v1", "codebook-similarity.v1", "setfit.v2", "transformer.v1",
              "ensemble.v1"]
#: Coders that fine-tune an encoder: minutes per fit on 2 CPU cores, so ``--expensive-max`` can stop them early.
EXPENSIVE = ("setfit.v1", "setfit.v2", "transformer.v1", "ensemble.v1")
ALL_SIZES = "25,50,100,200,400,800,all"


@dataclass
class Task:
    """One corpus, split once: texts, labels over the scored codes, train/test positions, test clusters."""

    name: str
    texts: list[str]
    labels: np.ndarray
    codes: list[str]
    train_idx: np.ndarray
    test_idx: np.ndarray
    group: str
    metadata: Any
    codebook: Any
    label_mode: str = "multi"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpora", default="nhs,mhstigma", help="comma-separated: nhs, mhstigma")
    p.add_argument("--nhs-data", type=Path, default=nhs_quality.DEFAULT_DATA)
    p.add_argument("--mhstigma-data", type=Path, default=DEFAULT_MHSTIGMA)
    p.add_argument("--coders", default=",".join(ALL_CODERS))
    p.add_argument("--sizes", default=ALL_SIZES, help="training-set sizes; 'all' = the whole training side")
    p.add_argument("--min-examples", type=int, default=20, help="codes need this many quotes in the full training side")
    p.add_argument("--max-test", type=int, default=None, help="cap on test quotes (whole respondents kept), for quick runs")
    p.add_argument("--epochs", type=int, default=3, help="transformer.v1 epochs")
    p.add_argument("--setfit-max-pairs", type=int, default=4000)
    p.add_argument("--n-boot", type=int, default=500)
    p.add_argument("--expensive-max", type=int, default=None,
                   help=f"train {', '.join(EXPENSIVE)} only up to this many quotes (the rest of their curve is not run, and says so)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--png", type=Path, default=REPO / "benchmarks" / "results" / "learning_curve.png")
    p.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    return p.parse_args(argv)


def make(name: str, task: Task, args: argparse.Namespace) -> Any:
    from lived_themes.registry import make_coder

    if name == "transformer.v1":
        return make_coder(name, epochs=args.epochs, validation_group=task.group, seed=args.seed)
    if name == "setfit.v2":
        return make_coder(name, max_pairs=args.setfit_max_pairs, validation_group=task.group, seed=args.seed)
    if name == "codebook-similarity.v1":
        return make_coder(name, tune=True, use_examples=False)  # examples may be quotes of this corpus
    if name == "knn.v1":
        return make_coder(name, k=10)
    if name == "ensemble.v1":  # as in benchmarks/nhs_quality.py: mean of words+chars TF-IDF and the transformer
        members = [{"name": "tfidf-logreg.v2", "params": {"char_ngrams": [2, 5], "seed": args.seed}},
                   {"name": "transformer.v1", "params": {"epochs": args.epochs, "validation_group": task.group, "seed": args.seed}}]
        return make_coder(name, members=members, combine="mean", inner_folds=2, inner_group=task.group, seed=args.seed)
    if name == "embedding-logreg.v1":
        return make_coder(name, seed=args.seed)
    if name.startswith("tfidf-logreg"):
        return make_coder(name, seed=args.seed)
    return make_coder(name)


def _cap_test(test_idx: np.ndarray, groups: np.ndarray, cap: int | None, seed: int) -> np.ndarray:
    """At most ``cap`` test quotes, taking whole respondents in a seeded order."""
    if cap is None or len(test_idx) <= cap:
        return test_idx
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for g in rng.permutation(np.unique(groups[test_idx])):
        members = test_idx[groups[test_idx] == g]
        if chosen and len(chosen) + len(members) > cap:
            continue
        chosen.extend(members.tolist())
    return np.sort(np.asarray(chosen, dtype=int))


def make_task(name: str, corpus: Any, reference: str, group: str, args: argparse.Namespace, *, label_mode: str = "multi") -> Task:
    seen = corpus.seen_by(reference)
    if not seen.all():
        corpus = corpus.subset(np.asarray(corpus.quote_ids, dtype=object)[seen])
    train_idx, test_idx = nhs_quality.respondent_split(corpus, seed=args.seed, group=group, reference=reference)
    groups = corpus.quotes[group].astype(str).to_numpy()
    test_idx = _cap_test(test_idx, groups, args.max_test, args.seed)
    y_all = corpus.label_matrix(reference, corpus.codes)
    codes = [c for j, c in enumerate(corpus.codes) if y_all[train_idx, j].sum() >= args.min_examples]
    if not codes:
        raise ValueError(f"{name}: no code has {args.min_examples} training quotes")
    return Task(name, list(corpus.texts), corpus.label_matrix(reference, codes), codes, train_idx, test_idx, group,
                corpus.quotes.reset_index(drop=True), corpus.codebook, label_mode)


def load_tasks(args: argparse.Namespace) -> list[Task]:
    tasks = []
    for name in [c.strip() for c in args.corpora.split(",") if c.strip()]:
        if name == "nhs":
            tasks.append(make_task("NHS patient experience", nhs_quality.load_nhs_file(args.nhs_data), "nhs", nhs_quality.GROUP, args))
        elif name == "mhstigma":
            from lived_themes.corpus.datasets import load_dataset

            tasks.append(make_task("MHStigma interviews", load_dataset("mhstigma", path=args.mhstigma_data), "expert_adjudicated",
                                   "participant_id", args, label_mode="single"))  # one stigma type or none per answer
        else:
            raise SystemExit(f"unknown corpus {name!r}: choose from nhs, mhstigma")
    return tasks


def sizes_for(spec: str, n_train: int) -> list[int]:
    out = []
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        size = n_train if part == "all" else int(part)
        if size < 1:
            raise SystemExit(f"--sizes: {part!r} is not a positive size")
        if size <= n_train and size not in out:
            out.append(size)
    return sorted(out)


def macro_f1_ci(task: Task, predicted: np.ndarray, n_boot: int, seed: int) -> tuple[float, float, float]:
    """Macro-F1 on the test side with a cluster-bootstrap interval over test respondents."""
    import pandas as pd

    from lived_themes.evaluation import macro_f1
    from lived_themes.evaluation.groups import metric_by_group

    y = task.labels[task.test_idx]
    frame = metric_by_group({"macro_f1": macro_f1}, y, predicted, pd.Series(["all"] * len(y), name="all"),
                            clusters=task.metadata[task.group].iloc[task.test_idx].astype(str).reset_index(drop=True),
                            n_boot=n_boot, seed=seed)
    row = frame[frame["group"] == "overall"].iloc[0]
    return float(row["value"]), float(row["ci_low"]), float(row["ci_high"])


def run_curve(task: Task, coders: list[str], sizes: list[int], args: argparse.Namespace) -> list[dict[str, Any]]:
    """One row per (coder, size): macro-F1 [interval], seconds, or the error that stopped it."""
    order = np.random.default_rng(args.seed).permutation(task.train_idx)
    test_texts = [task.texts[i] for i in task.test_idx]
    test_meta = task.metadata.iloc[task.test_idx].reset_index(drop=True)
    rows = []
    for size in sizes:
        idx = np.sort(order[:size])
        for name in coders:
            row: dict[str, Any] = {"corpus": task.name, "coder": name, "n_train": int(size)}
            if name in EXPENSIVE and args.expensive_max is not None and size > args.expensive_max:
                row["skipped"] = f"not run above --expensive-max {args.expensive_max}"
                rows.append(row)
                continue
            started = time.perf_counter()
            try:
                coder = make(name, task, args).set_params(label_mode=task.label_mode)
                coder.fit([task.texts[i] for i in idx], task.labels[idx], task.codes, codebook=task.codebook,
                          metadata=task.metadata.iloc[idx].reset_index(drop=True))
                predicted = coder.codes_from_scores(coder.predict_proba(test_texts, metadata=test_meta))
                row["macro_f1"], row["ci_low"], row["ci_high"] = macro_f1_ci(task, predicted, args.n_boot, args.seed)
            except Exception as exc:  # noqa: BLE001 - a coder that cannot train at this size is a result, not a crash
                row["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
            row["seconds"] = time.perf_counter() - started
            rows.append(row)
            shown = f"{row['macro_f1']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]" if "macro_f1" in row else row["error"]
            print(f"{task.name} | {name} | n={size}: macro-F1 {shown} ({row['seconds']:.0f} s)", flush=True)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    sizes = sorted({r["n_train"] for r in rows})
    for corpus in dict.fromkeys(r["corpus"] for r in rows):
        print(f"\n### {corpus}: macro-F1 [95% respondent-cluster interval] by training quotes\n")
        print("| coder | " + " | ".join(str(s) for s in sizes) + " |")
        print("|---|" + "---|" * len(sizes))
        for coder in dict.fromkeys(r["coder"] for r in rows if r["corpus"] == corpus):
            cells = []
            for s in sizes:
                r = next((r for r in rows if r["corpus"] == corpus and r["coder"] == coder and r["n_train"] == s), None)
                cells.append("" if r is None else "not run" if "skipped" in r else "failed" if "error" in r
                             else f"{r['macro_f1']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]")
            print(f"| {coder} | " + " | ".join(cells) + " |")


def plot(rows: list[dict[str, Any]], path: Path) -> Path:
    """One PNG: a panel per corpus, a line per coder (log-scale x), shaded intervals."""
    from matplotlib.figure import Figure  # no pyplot: a notebook calling this keeps its backend

    corpora = list(dict.fromkeys(r["corpus"] for r in rows))
    fig = Figure(figsize=(6 * len(corpora), 4.2))
    axes = fig.subplots(1, len(corpora), squeeze=False)
    for ax, corpus in zip(axes[0], corpora):
        for coder in dict.fromkeys(r["coder"] for r in rows if r["corpus"] == corpus):
            pts = sorted((r["n_train"], r["macro_f1"], r["ci_low"], r["ci_high"]) for r in rows
                         if r["corpus"] == corpus and r["coder"] == coder and "macro_f1" in r)
            if not pts:
                continue
            n, f1, low, high = (np.array(v, dtype=float) for v in zip(*pts))
            line, = ax.plot(n, f1, marker="o", markersize=3, label=coder)
            ax.fill_between(n, low, high, color=line.get_color(), alpha=0.12)
        ax.set_xscale("log")
        ax.set_xlabel("training quotes (log scale)")
        ax.set_ylabel("macro-F1 on held-out people")
        ax.set_title(corpus, fontsize=10)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    coders = [c.strip() for c in args.coders.split(",") if c.strip()]
    from lived_themes.registry import CODERS

    unknown = [c for c in coders if c not in CODERS]
    if unknown:
        print(f"unknown coder(s) {unknown}; registered: {sorted(CODERS)}", file=sys.stderr)
        return 2
    try:
        tasks = load_tasks(args)
    except FileNotFoundError as exc:
        print(f"corpus file not found ({exc}); see data/README.md", file=sys.stderr)
        return 2
    rows: list[dict[str, Any]] = []
    for task in tasks:
        print(f"# {task.name}: {len(task.train_idx)} train / {len(task.test_idx)} test quotes, people held out by "
              f"{task.group}; {len(task.codes)} codes with >= {args.min_examples} training quotes", flush=True)
        rows += run_curve(task, coders, sizes_for(args.sizes, len(task.train_idx)), args)
    print_table(rows)
    print(f"\nfigure: {plot(rows, args.png)}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"rows": rows, "args": {k: str(v) for k, v in vars(args).items()}}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
