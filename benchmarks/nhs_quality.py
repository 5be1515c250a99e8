"""Quality on NHS patient-experience comments, held out by respondent: every coder in one table.

Trains each coder on 80% of respondents and scores it on the other 20% (no person on both
sides), over codes with at least ``--min-examples`` training quotes, and prints macro- and
micro-F1 beside pxtextmining's published figures (same task and framework, not the same split:
they used all six trusts and ~4,000 test comments).

    python benchmarks/nhs_quality.py                     # the README table (under 30 minutes on 2 CPU cores)
    python benchmarks/nhs_quality.py --coders tfidf-logreg.v2,transformer.v1 --max-train 2000

Coders are registered names, or one of the named variants in ``VARIANTS`` (a registered coder with
other parameters, e.g. ``tfidf-logreg.v2+chars``). ``ensemble.v1`` is the mean of ``tfidf-logreg.v2+chars``
and ``transformer.v1``, with thresholds tuned on respondent-grouped inner folds.

Every coder that reads text reads the survey question with it (``--context "FFT question"``, the
default: "FFT question: What could we do better? | <comment>"), as pxtextmining's models use the
question type as a feature; ``--context none`` gives the text alone. The zero-shot
``codebook-similarity.v1`` reads the text alone.

Reads ../shared/datasets (never copied into the repo). Offline: export HF_HUB_OFFLINE=1.
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

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared/datasets/nhs_patient_experience/v6framework_train.csv"
GROUP = "Respondent ID"
ALL_CODERS = ["majority.v1", "tfidf-logreg.v2", "tfidf-logreg.v2+chars", "codebook-similarity.v1", "knn.v1", "embedding-logreg.v1",
              "transformer.v1", "ensemble.v1"]  # setfit.v2 on request: few-shot, see benchmarks/learning_curve.py
#: Named variants: a registered coder with parameters that differ from its defaults.
VARIANTS = {"tfidf-logreg.v2+chars": ("tfidf-logreg.v2", {"char_ngrams": [2, 5], "min_df": 2})}
NAMED_CODES = [
    "Staff listening, understanding & involving patients",
    "Supplying & understanding medication",
    "Equality, Diversity & Inclusion",
]
#: pxtextmining's published figures (README of ../shared/datasets); None where not published.
PUBLISHED = {
    "pxtextmining ensemble (published)": {"macro_f1": 0.71, "micro_f1": 0.77},
    "pxtextmining DistilBERT (published)": {"macro_f1": 0.67, "micro_f1": None},
    "pxtextmining SVC (published)": {"macro_f1": 0.64, "micro_f1": None},
}
PUBLISHED_PER_CODE = {NAMED_CODES[0]: 0.69, NAMED_CODES[1]: 0.71}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--coders", default=",".join(ALL_CODERS), help="comma-separated registered coder names or VARIANTS")
    p.add_argument("--ensemble-folds", type=int, default=2, help="ensemble.v1's inner folds (each member is trained this many times + 1)")
    p.add_argument("--epochs", type=int, default=6, help="transformer.v1 epochs (alone and in the ensemble)")
    p.add_argument("--patience", type=int, default=2, help="transformer.v1 early-stopping patience, in epochs")
    p.add_argument("--max-train", type=int, default=None, help="cap on training quotes (random sample), for quick runs")
    p.add_argument("--setfit-max-train", type=int, default=300, help="SetFit is few-shot: it trains on this many quotes")
    p.add_argument("--setfit-iterations", type=int, default=5)
    p.add_argument("--min-examples", type=int, default=20, help="codes need this many training quotes to be scored")
    p.add_argument("--context", default="FFT question",
                   help="metadata column every coder reads with the text (as pxtextmining's models read the question type); "
                        "'none' for the text alone")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--refit-members", action="store_true",
                   help="fit transformer.v1 on its own even when ensemble.v1 (whose member it is) runs too")
    p.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    return p.parse_args(argv)


def load_nhs_file(path: Path):  # noqa: ANN201 - returns a Corpus
    """The NHS wide file as a Corpus (coder ``nhs``); comments without text are set aside, not dropped."""
    from lived_themes.corpus import load_wide

    return load_wide(
        path, coder="nhs", code_columns_from="Not assigned", blank="zero",
        column_mapping={"Comment ID": "quote_id", "FFT answer": "text"}, on_invalid="set_aside",
    )


def respondent_split(corpus, *, seed: int = 0, group: str = GROUP, reference: str = "nhs",  # noqa: ANN001
                     test_size: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) positions: ``test_size`` of respondents held out, multilabel-stratified; no person on both sides."""
    from lived_themes.splits import train_test_split_by_group

    y_all = np.nan_to_num(corpus.label_matrix(reference, corpus.codes))
    fold = train_test_split_by_group(y_all, corpus.quotes[group].astype(str), test_size=test_size, seed=seed)[0]
    return fold.train_idx, fold.test_idx


def context_columns(args: argparse.Namespace) -> list[str] | None:
    """The metadata column(s) read with the text, or None (``--context none``)."""
    return None if not args.context or args.context.lower() == "none" else [args.context]


def make(name: str, args: argparse.Namespace):  # noqa: ANN201 - returns a Coder
    from lived_themes.registry import make_coder

    context = context_columns(args)
    if name in VARIANTS:
        base, params = VARIANTS[name]
        return make_coder(base, **params, **({"seed": args.seed, "context_columns": context} if base.startswith("tfidf") else {}))
    if name == "embedding-logreg.v1":
        return make_coder(name, context_columns=context, seed=args.seed)
    if name == "transformer.v1":
        return make_coder(name, epochs=args.epochs, patience=args.patience, validation_group=GROUP, context_columns=context, seed=args.seed)
    if name == "setfit.v1":
        return make_coder(name, num_iterations=args.setfit_iterations, context_columns=context, seed=args.seed)
    if name == "setfit.v2":
        return make_coder(name, num_iterations=args.setfit_iterations, context_columns=context, seed=args.seed, validation_group=GROUP)
    if name == "knn.v1":
        return make_coder(name, k=20, context_columns=context)
    if name == "ensemble.v1":  # mean of words+chars TF-IDF and the transformer, thresholds on respondent-grouped inner folds
        base, params = VARIANTS["tfidf-logreg.v2+chars"]
        members = [{"name": base, "params": {**params, "seed": args.seed, "context_columns": context}},
                   {"name": "transformer.v1", "params": {"epochs": args.epochs, "patience": args.patience, "validation_group": GROUP,
                                                          "context_columns": context, "seed": args.seed}}]
        return make_coder(name, members=members, combine="mean", inner_folds=args.ensemble_folds, inner_group=GROUP, seed=args.seed)
    if name == "codebook-similarity.v1":
        return make_coder(name, tune=True)
    if name.startswith("tfidf-logreg"):
        return make_coder(name, seed=args.seed, context_columns=context)
    return make_coder(name)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    if not args.data.exists():
        print(f"NHS file not found at {args.data}; see data/README.md for where to get it", file=sys.stderr)
        return 2

    corpus = load_nhs_file(args.data)
    all_codes = corpus.codes
    y_all = corpus.label_matrix("nhs", all_codes)
    train_idx, test_idx = respondent_split(corpus, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    if args.max_train and len(train_idx) > args.max_train:
        train_idx = np.sort(rng.choice(train_idx, args.max_train, replace=False))
    codes = [c for j, c in enumerate(all_codes) if y_all[train_idx, j].sum() >= args.min_examples]
    y = corpus.label_matrix("nhs", codes)
    texts, meta = corpus.texts, corpus.quotes
    print(f"# NHS quality: {len(corpus)} comments ({len(corpus.set_aside)} set aside), {len(train_idx)} train / "
          f"{len(test_idx)} test, respondent-level split (seed {args.seed}); {len(codes)} of {len(all_codes)} codes "
          f"have >= {args.min_examples} training examples; context read with the text: {context_columns(args) or 'none'}")

    results: dict[str, dict] = {}
    ensemble: Any = None
    started_all = time.perf_counter()
    names = [c.strip() for c in args.coders.split(",") if c.strip()]
    # The ensemble's transformer member is fitted on all training quotes with transformer.v1's settings: the same
    # model a separate transformer.v1 fit would give, so its row is read off the ensemble unless --refit-members.
    from_ensemble = {"transformer.v1"} if "ensemble.v1" in names and "transformer.v1" in names and not args.refit_members else {}
    test_texts, test_meta = [texts[i] for i in test_idx], meta.iloc[test_idx].reset_index(drop=True)
    for name in [n for n in names if n not in from_ensemble] + list(from_ensemble):
        idx = train_idx
        if name in from_ensemble:
            member = next(m for m in ensemble.members_ if m.name == name)
            started = time.perf_counter()
            scores = member.predict_proba(test_texts, metadata=test_meta)
            results[name] = score(member, scores, y[test_idx], codes, n_train=len(idx), fit_s=None,
                                  predict_s=time.perf_counter() - started)
            results[name]["note"] = "the ensemble's member, fitted on all training quotes with the same settings"
            report(name, results[name], len(idx))
            continue
        if name.startswith("setfit") and len(idx) > args.setfit_max_train:
            idx = np.sort(rng.choice(train_idx, args.setfit_max_train, replace=False))
        coder = make(name, args)
        started = time.perf_counter()
        coder.fit([texts[i] for i in idx], y[idx], codes, codebook=corpus.codebook,
                  metadata=meta.iloc[idx].reset_index(drop=True))
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        scores = coder.predict_proba(test_texts, metadata=test_meta)
        results[name] = score(coder, scores, y[test_idx], codes, n_train=len(idx), fit_s=fit_s, predict_s=time.perf_counter() - started)
        if name == "ensemble.v1":
            ensemble = coder
        if hasattr(coder, "contributions"):  # ensemble: what each member brought on the inner folds
            results[name]["contributions"] = coder.contributions()
            for m in results[name]["contributions"].get("members", []):
                print(f"  {name} member {m['name']}: inner macro-F1 {m['inner_macro_f1']:.3f}, "
                      f"ensemble without it {m.get('ensemble_without_macro_f1', float('nan')):.3f}", flush=True)
        report(name, results[name], len(idx))
    results = {n: results[n] for n in names}  # the order asked for

    print_table(results, codes)
    print(f"\nwall time, data loading excluded: {time.perf_counter() - started_all:.0f} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"codes": codes, "context_columns": context_columns(args), "results": results}, indent=2), encoding="utf-8")
    return 0


def score(coder: Any, scores: np.ndarray, y_test: np.ndarray, codes: list[str], *, n_train: int, fit_s: float | None,
          predict_s: float) -> dict[str, Any]:
    """Held-out figures of one coder's scores, at its own thresholds (and at 0.5)."""
    from lived_themes.evaluation import per_code_scores, summary_scores
    from lived_themes.evaluation.metrics import macro_f1

    predicted = coder.codes_from_scores(scores).astype(float)
    summary = summary_scores(y_test, predicted, scores)
    per_code = per_code_scores(y_test, predicted, codes, scores)
    f1_by_code = dict(zip(codes, per_code["f1"].tolist())) if "f1" in per_code else {}
    return {
        "macro_f1": summary["macro_f1"], "micro_f1": summary["micro_f1"],
        "macro_f1_at_0_5": float(macro_f1(y_test, (scores >= 0.5).astype(float))),
        "macro_average_precision": summary["macro_average_precision"],
        "n_train": int(n_train), "fit_s": fit_s, "predict_s": predict_s,
        "named_codes_f1": {c: f1_by_code.get(c) for c in NAMED_CODES},
        "per_code_f1": f1_by_code,
    }


def report(name: str, result: dict[str, Any], n_train: int) -> None:
    named = ", ".join(f"{c}: {v:.3f}" for c, v in result["named_codes_f1"].items() if v is not None)
    fitted = "in the ensemble" if result["fit_s"] is None else f"in {result['fit_s']:.0f} s"
    print(f"{name}: macro-F1 {result['macro_f1']:.3f}, micro-F1 {result['micro_f1']:.3f} (trained on {n_train} {fitted}); F1 {named}",
          flush=True)


def print_table(results: dict[str, dict], codes: list[str]) -> None:
    """The one table: our coders, then the published figures, then F1 of the three named codes."""
    def fmt(value: float | None) -> str:
        return "  -  " if value is None or value != value else f"{value:.3f}"

    short = ["staff listening", "medication", "EDI"]
    print("\n| coder | n train | macro-F1 | micro-F1 | " + " | ".join(f"F1 {s}" for s in short) + " | fit s | macro-F1 at 0.5 |")
    print("|---|---|---|---|" + "---|" * len(short) + "---|---|")
    for name, r in results.items():
        named = " | ".join(fmt(r["named_codes_f1"][c]) for c in NAMED_CODES)
        print(f"| {name} | {r['n_train']} | {fmt(r['macro_f1'])} | {fmt(r['micro_f1'])} | {named} | {'in ensemble' if r['fit_s'] is None else format(r['fit_s'], '.0f')} | "
              f"{fmt(r['macro_f1_at_0_5'])} |")
    for name, r in PUBLISHED.items():
        named = " | ".join(fmt(PUBLISHED_PER_CODE.get(c)) if "ensemble" in name else "  -  " for c in NAMED_CODES)
        print(f"| {name} | ~all 6 trusts | {fmt(r['macro_f1'])} | {fmt(r['micro_f1'])} | {named} | | |")
    missing = [c for c in NAMED_CODES if c not in codes]
    if missing:
        print(f"\nNot scored (fewer training examples than the minimum): {missing}")


if __name__ == "__main__":
    raise SystemExit(main())
