"""Active learning on NHS patient-experience comments: how many labels each strategy saves against random choice.

Simulation: the NHS file's own codes stand in for the researcher. Respondents are split 80/20 as in
benchmarks/nhs_quality.py (no person on both sides); the 80% is the pool. Every strategy starts from
the same 50 random pool quotes, asks for batches of 50, retrains tfidf-logreg.v1 after each batch and is
scored (macro-F1) on the fixed 20%. Prints the curves (labels vs macro-F1, mean over seeds), the labels
each strategy needs to match random choice's quality, and writes a PNG.

    python benchmarks/active_learning.py                               # the full run (see about 10–15 minutes on 2 cores: 9 strategies x 3 seeds x 21 fits)
    python benchmarks/active_learning.py --rounds 3 --pool 1500 --seeds 1 --strategies random,uncertainty-mean

Reads ../shared/datasets (never copied into the repo).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared/datasets/nhs_patient_experience/v6framework_train.csv"
GROUP = "Respondent ID"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from lived_themes.active import STRATEGIES

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated; random is always added")
    p.add_argument("--start", type=int, default=50, help="random labelled quotes to start from")
    p.add_argument("--batch", type=int, default=50, help="quotes asked for per round")
    p.add_argument("--rounds", type=int, default=20, help="batches per curve (labels end at start + rounds*batch)")
    p.add_argument("--pool", type=int, default=None, help="cap on the pool (random sample of the training respondents' quotes)")
    p.add_argument("--seeds", type=int, default=3, help="repeat with this many seeds (start set, split kept) and average")
    p.add_argument("--min-examples", type=int, default=20, help="codes need this many pool quotes to be scored")
    p.add_argument("--features", default="tfidf", choices=["tfidf", "embeddings"], help="vectors for the diversity strategies")
    p.add_argument("--seed", type=int, default=0, help="the respondent split's seed")
    p.add_argument("--png", type=Path, default=REPO / "benchmarks/results/active_learning.png")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks/results/active_learning.json")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.data.exists():
        print(f"NHS file not found at {args.data}; see data/README.md for where to get it", file=sys.stderr)
        return 2
    from lived_themes.active import labels_saved, simulate, text_features
    from lived_themes.corpus import load_wide
    from lived_themes.registry import make_coder
    from lived_themes.splits import train_test_split_by_group

    strategies = list(dict.fromkeys(["random", *[s.strip() for s in args.strategies.split(",") if s.strip()]]))
    corpus = load_wide(args.data, coder="nhs", code_columns_from="Not assigned", blank="zero",
                       column_mapping={"Comment ID": "quote_id", "FFT answer": "text"}, on_invalid="set_aside")
    y_all = corpus.label_matrix("nhs", corpus.codes)
    fold = train_test_split_by_group(y_all, corpus.quotes[GROUP].astype(str), test_size=0.2, seed=args.seed)[0]
    pool, test = np.asarray(fold.train_idx), np.asarray(fold.test_idx)
    if args.pool and len(pool) > args.pool:
        pool = np.sort(np.random.default_rng(args.seed).choice(pool, args.pool, replace=False))
    codes = [c for j, c in enumerate(corpus.codes) if y_all[pool, j].sum() >= args.min_examples]
    labels = corpus.label_matrix("nhs", codes)
    texts = corpus.texts
    needs = {"kmeans", "coreset", "weighted-kmeans", "cluster-margin"} & set(strategies)
    features = text_features(texts, kind=args.features, seed=args.seed) if needs else None
    print(f"# NHS active learning: pool {len(pool)}, test {len(test)} (respondent split, seed {args.seed}); {len(codes)} codes "
          f"with >= {args.min_examples} pool quotes; start {args.start}, batches of {args.batch}, {args.rounds} rounds, "
          f"{args.seeds} seed(s); tfidf-logreg.v1; diversity on {args.features}", flush=True)

    curves: dict[str, list[list[dict]]] = {s: [] for s in strategies}
    started = time.perf_counter()
    for seed in range(args.seeds):
        for strategy in strategies:
            t0 = time.perf_counter()
            curve = simulate(lambda seed=seed: make_coder("tfidf-logreg.v1", seed=seed), texts, labels, codes, pool=pool, test=test,
                             strategy=strategy, start=args.start, batch=args.batch, rounds=args.rounds, features=features, seed=seed)
            curves[strategy].append(curve)
            print(f"seed {seed} {strategy}: macro-F1 {curve[0]['macro_f1']:.3f} -> {curve[-1]['macro_f1']:.3f} at "
                  f"{curve[-1]['labels']} labels ({time.perf_counter() - t0:.0f} s)", flush=True)
    mean = {s: _mean_curve(c) for s, c in curves.items()}
    _print_curves(mean)
    saved = {s: labels_saved(mean["random"], mean[s]) for s in strategies if s != "random"}
    _print_saved(saved, mean["random"])
    total = time.perf_counter() - started
    print(f"\n{total:.0f} s in all")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"settings": {k: str(v) for k, v in vars(args).items()}, "pool": int(len(pool)),
                                    "test": int(len(test)), "codes": codes, "curves": curves, "mean": mean,
                                    "saved_vs_random": saved, "seconds": total}, indent=1), encoding="utf-8")
    _plot(mean, args.png, title=f"NHS, tfidf-logreg, pool {len(pool)}, {args.seeds} seed(s)")
    print(f"-> {args.out}\n-> {args.png}")
    return 0


def _mean_curve(runs: list[list[dict]]) -> list[dict]:
    length = min(len(r) for r in runs)
    return [{"labels": runs[0][i]["labels"], "macro_f1": float(np.mean([r[i]["macro_f1"] for r in runs])),
             "macro_f1_sd": float(np.std([r[i]["macro_f1"] for r in runs])),
             "micro_f1": float(np.mean([r[i]["micro_f1"] for r in runs]))} for i in range(length)]


def _print_curves(mean: dict[str, list[dict]]) -> None:
    labels = [p["labels"] for p in mean["random"]]
    print("\n| labels | " + " | ".join(mean) + " |")
    print("|---|" + "---|" * len(mean))
    for i, n in enumerate(labels):
        print(f"| {n} | " + " | ".join(f"{c[i]['macro_f1']:.3f}" if i < len(c) else "-" for c in mean.values()) + " |")


def _print_saved(saved: dict[str, list[dict]], random_curve: list[dict]) -> None:
    """Labels each strategy needs to reach random choice's macro-F1 at each of random's points."""
    print("\nLabels needed to match random choice's macro-F1 (saved in brackets; '-' = not reached):")
    print("| random labels | random macro-F1 | " + " | ".join(saved) + " |")
    print("|---|---|" + "---|" * len(saved))
    for i, point in enumerate(random_curve):
        cells = []
        for rows in saved.values():
            needed = rows[i]["labels_needed"]
            cells.append("-" if needed is None else f"{needed:.0f} ({rows[i]['saved']:+.0f})")
        print(f"| {point['labels']} | {point['macro_f1']:.3f} | " + " | ".join(cells) + " |")
    final = random_curve[-1]
    best = max(saved, key=lambda s: saved[s][-1]["saved"] if saved[s][-1]["saved"] is not None else -np.inf, default=None)
    if best is not None and saved[best][-1]["saved"] is not None:
        row = saved[best][-1]
        print(f"\nBest: {best} reaches random's macro-F1 {final['macro_f1']:.3f} (at {final['labels']} labels) with "
              f"{row['labels_needed']:.0f} labels: {row['saved']:.0f} fewer ({row['saved'] / final['labels']:.0%}).")
    else:
        print(f"\nNo strategy reaches random's final macro-F1 {final['macro_f1']:.3f} within the rounds run.")


def _plot(mean: dict[str, list[dict]], path: Path, *, title: str) -> None:
    from matplotlib.figure import Figure  # no pyplot: the caller's backend is left alone

    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for strategy, curve in mean.items():
        ax.plot([p["labels"] for p in curve], [p["macro_f1"] for p in curve], marker="o", markersize=3,
                linewidth=2.5 if strategy == "random" else 1.4, color="black" if strategy == "random" else None, label=strategy)
    ax.set_xlabel("labelled quotes")
    ax.set_ylabel("macro-F1 on held-out respondents")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=130)
    tmp.replace(path)


if __name__ == "__main__":
    raise SystemExit(main())
