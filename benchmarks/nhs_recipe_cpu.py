"""Recipe study of ensembles for NHS comments on the CPU (issue 24): members' inner scores computed once, combos compared.

Each member coder is fitted on the respondent-grouped inner 2-fold CV of benchmarks/nhs_quality.py's training side
(the folds ``ensemble.v1`` with ``inner_folds: 2, inner_group: Respondent ID`` makes) and its out-of-fold (OOF)
scores are cached on disk (``--cache``), so every combination (mean, per-code stacking, stacking across codes; with
or without a member) is compared from the cached scores in seconds, through ``ensemble.v1``'s own combiner
(:meth:`EnsembleCoder.fit_combination`). The chosen recipe (best inner macro-F1) is then scored once on the
held-out respondents: its members are fitted on the whole training side (also cached) and combined as the
ensemble would combine them.

    python benchmarks/nhs_recipe_cpu.py --members lr,svm,emb --precompute --cache /tmp/nhs-oof
    python benchmarks/nhs_recipe_cpu.py --members tr-all --precompute --cache /tmp/nhs-oof     # one expensive member at a time
    python benchmarks/nhs_recipe_cpu.py --members lr,svm,emb,transformer,tr-all,tr-all-s1,tr-all-s2 --cache /tmp/nhs-oof \
        --combines mean,stack --out benchmarks/results/nhs_recipe_cpu.json          # the table in docs/benchmarks.md

Inner macro-F1 (the column candidates are chosen on): each candidate's combined OOF scores (stacking cross-fitted
over the two inner folds), thresholds tuned on one inner fold's rows and applied to the other's, and back, so no
figure is rated on the scores its thresholds were tuned on. Fit seconds: the members' inner fits (2 folds), summed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from nhs_quality import DEFAULT_DATA, GROUP, VARIANTS, load_nhs_file, respondent_split  # noqa: E402

log = logging.getLogger("nhs_recipe_cpu")
#: Where the shared data lie when this checkout is a worktree beside others (DEFAULT_DATA is ../shared of a checkout).
SHARED_DATA = Path("/work/shared/datasets/nhs_patient_experience/v6framework_train.csv")
CONTEXT = ["FFT question"]
#: Member coders by short name: the spec ``ensemble.v1`` would be given (``tune: false`` where the member would only
#: tune thresholds the ensemble retunes anyway: the same scores, fewer fits).
MEMBERS: dict[str, dict[str, Any]] = {
    "lr": {"name": VARIANTS["tfidf-logreg.v2+chars"][0],
           "params": {**VARIANTS["tfidf-logreg.v2+chars"][1], "context_columns": CONTEXT, "tune": False}},
    "svm": {"name": "tfidf-svm.v1", "params": {"context_columns": CONTEXT, "tune": False}},
    "gbm": {"name": "tfidf-gbm.v1", "params": {"context_columns": CONTEXT, "tune": False}},
    "emb": {"name": "embedding-logreg.v1", "params": {"context_columns": CONTEXT, "tune": False}},
    "transformer": {"name": "transformer.v1", "params": {"epochs": 6, "patience": 2, "validation_group": GROUP,
                                                         "context_columns": CONTEXT}},
    # all the data (no 10% validation hold-back), a fixed epoch count, thresholds left to the ensemble's inner folds
    **{f"tr-all{'' if s == 0 else f'-s{s}'}": {"name": "transformer.v1", "params": {
        "epochs": 4, "validation_fraction": 0.0, "context_columns": CONTEXT, "tune": False, "seed": s}} for s in (0, 1, 2)},
}
COMBINES = ("mean", "stack", "stack-all")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.exists() else SHARED_DATA)
    p.add_argument("--members", default="lr,svm,gbm,emb", help=f"comma-separated, of {sorted(MEMBERS)}")
    p.add_argument("--cache", type=Path, default=Path("/tmp/nhs-oof"))
    p.add_argument("--precompute", action="store_true", help="only compute and cache the members' scores (inner and held-out)")
    p.add_argument("--no-final", action="store_true", help="compare candidates on the inner folds only; score nothing held out")
    p.add_argument("--combines", default=",".join(COMBINES), help=f"comma-separated, of {COMBINES} (stack-all is slow: minutes a row)")
    p.add_argument("--stack-c", default="0.1,1.0", help="stack-all second-stage regularisation values to compare")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-examples", type=int, default=20)
    p.add_argument("--out", type=Path, default=None)
    return p.parse_args(argv)


# ----- the data, exactly as nhs_quality.py splits it -----------------------------------------------------------
def load(args: argparse.Namespace) -> dict[str, Any]:
    from lived_themes import splits

    corpus = load_nhs_file(args.data)
    all_codes = corpus.codes
    y_all = corpus.label_matrix("nhs", all_codes)
    train_idx, test_idx = respondent_split(corpus, seed=args.seed)
    codes = [c for j, c in enumerate(all_codes) if y_all[train_idx, j].sum() >= args.min_examples]
    y = corpus.label_matrix("nhs", codes)
    meta = corpus.quotes
    meta_train = meta.iloc[train_idx].reset_index(drop=True)
    folds = splits.group_kfold(y[train_idx], meta_train[GROUP].astype(str).to_numpy(), n_splits=2, seed=args.seed)
    fold_of = np.full(len(train_idx), -1)
    for f, fold in enumerate(folds):
        fold_of[np.asarray(fold.test_idx)] = f
    return {"texts": [corpus.texts[i] for i in train_idx], "y": y[train_idx], "meta": meta_train, "codes": codes,
            "test_texts": [corpus.texts[i] for i in test_idx], "y_test": y[test_idx],
            "test_meta": meta.iloc[test_idx].reset_index(drop=True), "folds": folds, "fold_of": fold_of}


def _key(short: str, data: dict[str, Any], seed: int) -> str:
    spec = {**MEMBERS[short], "split_seed": seed, "n": len(data["texts"]), "codes": data["codes"],
            "folds": [int(np.asarray(f.test_idx).sum()) for f in data["folds"]]}
    return f"{short}-{hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]}"


def _make(short: str, seed: int) -> Any:
    from lived_themes.registry import make_coder

    spec = MEMBERS[short]
    return make_coder(spec["name"], **{"seed": seed, **spec["params"]})  # a member's own seed (tr-all-s1) wins


def _cached(path: Path, compute: Callable[[], tuple[np.ndarray, float]]) -> tuple[np.ndarray, float]:
    """(scores, fit seconds) read from ``path`` when there, else computed and saved there atomically."""
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            return z["scores"], float(z["fit_s"])
    scores, fit_s = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, scores=scores, fit_s=np.array(fit_s))
    tmp.replace(path)
    return scores, fit_s


def member_oof(short: str, data: dict[str, Any], args: argparse.Namespace) -> tuple[np.ndarray, float]:
    """(n_train, k) OOF scores of one member on the inner folds, and the fit seconds; cached."""
    from lived_themes.coders.cross_validation import cross_val_scores

    def compute() -> tuple[np.ndarray, float]:
        log.info("member %s: inner folds", short)
        out = cross_val_scores(lambda: _make(short, args.seed), data["texts"], data["y"], data["codes"], data["folds"], metadata=data["meta"])
        return out.scores, out.fit_seconds

    return _cached(args.cache / f"{_key(short, data, args.seed)}.oof.npz", compute)


def member_test(short: str, data: dict[str, Any], args: argparse.Namespace) -> tuple[np.ndarray, float]:
    """(n_test, k) held-out scores of the member fitted on the whole training side, and its fit seconds; cached."""

    def compute() -> tuple[np.ndarray, float]:
        log.info("member %s: fit on the whole training side", short)
        coder = _make(short, args.seed)
        started = time.perf_counter()
        coder.fit(data["texts"], data["y"], data["codes"], metadata=data["meta"])
        fit_s = time.perf_counter() - started
        return coder.predict_proba(data["test_texts"], metadata=data["test_meta"]), fit_s

    return _cached(args.cache / f"{_key(short, data, args.seed)}.test.npz", compute)


# ----- candidates, compared on the inner folds -----------------------------------------------------------------
def ensemble(members: list[str], combine: str, stack_c: float = 1.0) -> Any:
    from lived_themes.coders.ensemble import EnsembleCoder

    return EnsembleCoder(members=[MEMBERS[m] for m in members], combine=combine, inner_folds=2, inner_group=GROUP, stack_C=stack_c)


def inner_f1(y: np.ndarray, scores: np.ndarray, fold_of: np.ndarray) -> float:
    """Macro-F1 with thresholds tuned on one inner fold's rows and applied to the other's (and back)."""
    from lived_themes.coders.decision import tune_decision
    from lived_themes.evaluation.metrics import macro_f1

    predicted = np.zeros_like(y)
    for f in np.unique(fold_of):
        tune, rate = fold_of != f, fold_of == f
        predicted[rate] = tune_decision(y[tune], scores[tune]).codes_from_scores(scores[rate])
    return float(macro_f1(y, predicted))


def candidates(members: list[str], stack_cs: list[float], combines: tuple[str, ...] = COMBINES) -> list[tuple[str, list[str], str, float]]:
    """(label, members, combine, stack C): each member alone, the mean of all and without each, and the stacks."""
    rows = [(m, [m], "mean", 1.0) for m in members]
    if {"lr", "transformer"} <= set(members) and len(members) > 2:  # the NHS experiment's ensemble until now: the baseline
        rows.append(("mean(lr+transformer)", ["lr", "transformer"], "mean", 1.0))
    subsets = [members] + ([[x for x in members if x != m] for m in members] if len(members) > 2 else [])
    for subset in subsets:
        if len(subset) < 2:
            continue
        name = "+".join(subset)
        rows.append((f"mean({name})", subset, "mean", 1.0))
        rows.append((f"stack({name})", subset, "stack", 1.0))
        rows += [(f"stack-all({name}), C {c:g}", subset, "stack-all", c) for c in stack_cs]
    return [r for r in rows if r[2] in combines]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    members = [m.strip() for m in args.members.split(",") if m.strip()]
    unknown = [m for m in members if m not in MEMBERS]
    if unknown:
        print(f"error: unknown member(s) {unknown}; known: {sorted(MEMBERS)}", file=sys.stderr)
        return 2
    combines = tuple(c.strip() for c in args.combines.split(",") if c.strip())
    if not combines or set(combines) - set(COMBINES):
        print(f"error: --combines {args.combines!r}: expected some of {COMBINES}", file=sys.stderr)
        return 2
    if not args.data.exists():
        print(f"NHS file not found at {args.data}", file=sys.stderr)
        return 2
    data = load(args)
    print(f"# NHS recipe study: {len(data['texts'])} training / {len(data['test_texts'])} held-out comments, {len(data['codes'])} codes, "
          f"respondent-grouped inner 2-fold CV of the training side (seed {args.seed})", flush=True)
    oof, fit_s = {}, {}
    for m in members:
        oof[m], fit_s[m] = member_oof(m, data, args)
        print(f"  member {m}: inner scores ready ({fit_s[m]:.0f} s of inner fits)", flush=True)
        if args.precompute:
            member_test(m, data, args)
    if args.precompute:
        return 0

    y, fold_of = data["y"], data["fold_of"]
    rows = []
    for label, subset, combine, c in candidates(members, [float(v) for v in args.stack_c.split(",")], combines):
        coder = ensemble(subset, combine, c)
        coder.codes_ = list(data["codes"])
        started = time.perf_counter()
        combined = coder.fit_combination(np.stack([oof[m] for m in subset]), y, fold_of)
        rows.append({"candidate": label, "members": subset, "combine": combine, "stack_C": c,
                     "inner_macro_f1": inner_f1(y, combined, fold_of),
                     "fit_s": sum(fit_s[m] for m in subset) + time.perf_counter() - started})
        log.info("%s: inner macro-F1 %.3f", label, rows[-1]["inner_macro_f1"])
    baseline = next((r for r in rows if r["candidate"] == "mean(lr+transformer)"), rows[0])
    base_name = baseline["candidate"]
    print(f"\n| candidate | inner macro-F1 | gain over {base_name} | inner fit s |\n|---|---:|---:|---:|")
    for r in rows:
        r["gain"] = r["inner_macro_f1"] - baseline["inner_macro_f1"]
        print(f"| {r['candidate']} | {r['inner_macro_f1']:.3f} | {r['gain']:+.3f} | {r['fit_s']:.0f} |")
    best = max(rows, key=lambda r: r["inner_macro_f1"])
    result: dict[str, Any] = {"codes": data["codes"], "baseline": base_name, "candidates": rows, "chosen": best["candidate"]}
    if not args.no_final:
        result["held_out"] = final(best, data, oof, args)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=2), encoding="utf-8")
        tmp.replace(args.out)
    return 0


def final(best: dict[str, Any], data: dict[str, Any], oof: dict[str, np.ndarray], args: argparse.Namespace) -> dict[str, Any]:
    """The chosen recipe on the held-out respondents, once: combiner and thresholds from the inner folds, members on all."""
    from lived_themes.evaluation.metrics import macro_f1, micro_f1

    coder = ensemble(best["members"], best["combine"], best["stack_C"])
    coder.codes_ = list(data["codes"])
    combined = coder.fit_combination(np.stack([oof[m] for m in best["members"]]), data["y"], data["fold_of"])
    coder.thresholds_ = coder_thresholds(data["y"], combined)
    tests = [member_test(m, data, args) for m in best["members"]]
    scores = np.clip(coder._combine(np.stack([s for s, _ in tests])), 0.0, 1.0)
    predicted = coder.codes_from_scores(scores).astype(float)
    out = {"candidate": best["candidate"], "macro_f1": float(macro_f1(data["y_test"], predicted)),
           "micro_f1": float(micro_f1(data["y_test"], predicted)), "members_full_fit_s": sum(s for _, s in tests)}
    print(f"\nheld-out respondents ({len(data['test_texts'])} comments), scored once: {out['candidate']}: macro-F1 "
          f"{out['macro_f1']:.3f}, micro-F1 {out['micro_f1']:.3f}", flush=True)
    return out


def coder_thresholds(y: np.ndarray, combined: np.ndarray) -> np.ndarray:
    from lived_themes.coders.decision import tune_thresholds

    return tune_thresholds(y, combined)


if __name__ == "__main__":
    raise SystemExit(main())
