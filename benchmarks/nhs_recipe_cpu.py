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

from lived_themes.coders.decision import THRESHOLD_GRID  # noqa: E402 - numpy only: the package's threshold grid

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
    "knn": {"name": "knn.v1", "params": {"k": 20, "context_columns": CONTEXT, "tune": False}},
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
    p.add_argument("--no-leave-one-out", action="store_true", help="combine all the members only, not also all but each")
    p.add_argument("--stack-c", default="1.0", help="the stacking regressions' C (inverse regularisation) values to compare")
    p.add_argument("--folds", type=int, default=2, help="inner folds (respondent-grouped); 2 is what the experiment's ensemble uses")
    p.add_argument("--bag", default="", help="comma-separated members whose held-out scores are the mean of their inner-fold fits "
                   "(no refit on the whole training side: CV bagging), not the full fit's")
    p.add_argument("--threshold-rules", action="store_true",
                   help="also compare threshold rules (finer grid, smoothed F1 curve, shrinkage to one threshold) on the inner folds")
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
    folds = splits.group_kfold(y[train_idx], meta_train[GROUP].astype(str).to_numpy(), n_splits=args.folds, seed=args.seed)
    fold_of = np.full(len(train_idx), -1)
    for f, fold in enumerate(folds):
        fold_of[np.asarray(fold.test_idx)] = f
    return {"texts": [corpus.texts[i] for i in train_idx], "y": y[train_idx], "meta": meta_train, "codes": codes,
            "test_texts": [corpus.texts[i] for i in test_idx], "y_test": y[test_idx],
            "test_meta": meta.iloc[test_idx].reset_index(drop=True), "folds": folds, "fold_of": fold_of}


def _key(short: str, data: dict[str, Any], seed: int, *, folds: bool = True) -> str:
    """The cache name of a member's scores; ``folds=False`` for its fit on the whole training side (the same for any --folds)."""
    spec = {**MEMBERS[short], "split_seed": seed, "n": len(data["texts"]), "codes": data["codes"],
            **({"folds": [int(np.asarray(f.test_idx).sum()) for f in data["folds"]]} if folds else {})}
    return f"{short}-{hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]}"


def _make(short: str, seed: int) -> Any:
    from lived_themes.registry import constructor_params, get_coder_class, make_coder

    spec = MEMBERS[short]
    seeded = "seed" in constructor_params(get_coder_class(spec["name"]))  # knn.v1 has no seed: nothing random
    return make_coder(spec["name"], **{**({"seed": seed} if seeded else {}), **spec["params"]})  # a member's own seed (tr-all-s1) wins


def _cached(path: Path, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Arrays (``scores``, ``fit_s``, ...) read from ``path`` when there, else computed and saved there atomically."""
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            return {name: z[name] for name in z.files}
    arrays = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)
    return arrays


def member_oof(short: str, data: dict[str, Any], args: argparse.Namespace) -> tuple[np.ndarray, float, np.ndarray]:
    """(n_train, k) OOF scores of one member on the inner folds, the fit seconds, and the (n_test, k) mean of the
    inner-fold fits' held-out scores (what CV bagging would predict); cached."""
    from lived_themes.coders.cross_validation import cross_val_scores

    def compute() -> dict[str, np.ndarray]:
        log.info("member %s: inner folds", short)
        bag = []

        def keep(_fold: Any, coder: Any, _test: np.ndarray, _scores: np.ndarray) -> None:
            bag.append(coder.predict_proba(data["test_texts"], metadata=data["test_meta"]))

        out = cross_val_scores(lambda: _make(short, args.seed), data["texts"], data["y"], data["codes"], data["folds"], metadata=data["meta"],
                               after_fold=keep)
        return {"scores": out.scores, "fit_s": np.array(out.fit_seconds), "bag": np.mean(bag, axis=0)}

    z = _cached(args.cache / f"{_key(short, data, args.seed)}.oof.npz", compute)
    return z["scores"], float(z["fit_s"]), z["bag"]


def member_test(short: str, data: dict[str, Any], args: argparse.Namespace) -> tuple[np.ndarray, float]:
    """(n_test, k) held-out scores of the member fitted on the whole training side, and its fit seconds; cached."""

    def compute() -> dict[str, np.ndarray]:
        log.info("member %s: fit on the whole training side", short)
        coder = _make(short, args.seed)
        started = time.perf_counter()
        coder.fit(data["texts"], data["y"], data["codes"], metadata=data["meta"])
        fit_s = time.perf_counter() - started
        return {"scores": coder.predict_proba(data["test_texts"], metadata=data["test_meta"]), "fit_s": np.array(fit_s)}

    z = _cached(args.cache / f"{_key(short, data, args.seed, folds=False)}.test.npz", compute)
    return z["scores"], float(z["fit_s"])


# ----- candidates, compared on the inner folds -----------------------------------------------------------------
def ensemble(members: list[str], combine: str, stack_c: float = 1.0, folds: int = 2) -> Any:
    from lived_themes.coders.ensemble import EnsembleCoder

    return EnsembleCoder(members=[MEMBERS[m] for m in members], combine=combine, inner_folds=folds, inner_group=GROUP, stack_C=stack_c)


def inner_f1(y: np.ndarray, scores: np.ndarray, fold_of: np.ndarray) -> float:
    """Macro-F1 with thresholds tuned on one inner fold's rows and applied to the other's (and back)."""
    from lived_themes.coders.decision import tune_decision
    from lived_themes.evaluation.metrics import macro_f1

    predicted = np.zeros_like(y)
    for f in np.unique(fold_of):
        tune, rate = fold_of != f, fold_of == f
        predicted[rate] = tune_decision(y[tune], scores[tune]).codes_from_scores(scores[rate])
    return float(macro_f1(y, predicted))


def candidates(members: list[str], stack_cs: list[float], combines: tuple[str, ...] = COMBINES,
               leave_one_out: bool = True) -> list[tuple[str, list[str], str, float]]:
    """(label, members, combine, stack C): each member alone, the mean of all and without each, and the stacks."""
    rows = [(m, [m], "mean", 1.0) for m in members]
    if {"lr", "transformer"} <= set(members) and len(members) > 2:  # the NHS experiment's ensemble until now: the baseline
        rows.append(("mean(lr+transformer)", ["lr", "transformer"], "mean", 1.0))
    subsets = [members] + ([[x for x in members if x != m] for m in members] if len(members) > 2 and leave_one_out else [])
    for subset in subsets:
        if len(subset) < 2:
            continue
        name = "+".join(subset)
        rows.append((f"mean({name})", subset, "mean", 1.0))
        rows += [(f"stack({name})" + (f", C {c:g}" if len(stack_cs) > 1 else ""), subset, "stack", c) for c in stack_cs]
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
          f"respondent-grouped inner {args.folds}-fold CV of the training side (seed {args.seed})", flush=True)
    bagged = {m.strip() for m in args.bag.split(",") if m.strip()}
    if bagged - set(members):
        print(f"error: --bag {sorted(bagged - set(members))} not among --members", file=sys.stderr)
        return 2
    oof, fit_s, bags = {}, {}, {}
    for m in members:
        oof[m], fit_s[m], bags[m] = member_oof(m, data, args)
        print(f"  member {m}: inner scores ready ({fit_s[m]:.0f} s of inner fits)", flush=True)
        if args.precompute and m not in bagged:  # a bagged member needs no fit on the whole training side
            member_test(m, data, args)
    if args.precompute:
        return 0

    y, fold_of = data["y"], data["fold_of"]
    rows = []
    for label, subset, combine, c in candidates(members, [float(v) for v in args.stack_c.split(",")], combines, not args.no_leave_one_out):
        coder = ensemble(subset, combine, c, args.folds)
        coder.codes_ = list(data["codes"])
        started = time.perf_counter()
        combined = coder.fit_combination(np.stack([oof[m] for m in subset]), y, fold_of)
        rows.append({"candidate": label, "members": subset, "combine": combine, "stack_C": c,
                     "inner_macro_f1": inner_f1(y, combined, fold_of),
                     "fit_s": sum(fit_s[m] for m in subset) + time.perf_counter() - started})
        log.info("%s: inner macro-F1 %.3f", label, rows[-1]["inner_macro_f1"])
    if args.threshold_rules:
        print_threshold_rules(rows, oof, y, fold_of)
    baseline = next((r for r in rows if r["candidate"] == "mean(lr+transformer)"), rows[0])
    base_name = baseline["candidate"]
    print(f"\n| candidate | inner macro-F1 | gain over {base_name} | inner fit s |\n|---|---:|---:|---:|")
    for r in rows:
        r["gain"] = r["inner_macro_f1"] - baseline["inner_macro_f1"]
        print(f"| {r['candidate']} | {r['inner_macro_f1']:.3f} | {r['gain']:+.3f} | {r['fit_s']:.0f} |")
    best = max(rows, key=lambda r: r["inner_macro_f1"])
    result: dict[str, Any] = {"codes": data["codes"], "baseline": base_name, "candidates": rows, "chosen": best["candidate"]}
    if not args.no_final:
        result["bagged"] = sorted(bagged)
        result["held_out"] = final(best, data, oof, {m: bags[m] for m in bagged}, args)
        if baseline is not best:  # the baseline scored the same way, for the gain on held-out respondents
            result["held_out_baseline"] = final(baseline, data, oof, {m: bags[m] for m in bagged}, args)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=2), encoding="utf-8")
        tmp.replace(args.out)
    return 0


def final(best: dict[str, Any], data: dict[str, Any], oof: dict[str, np.ndarray], bags: dict[str, np.ndarray],
          args: argparse.Namespace) -> dict[str, Any]:
    """The chosen recipe on the held-out respondents, once: combiner and thresholds from the inner folds, members fitted
    on the whole training side (or, for a member in ``bags``, its inner-fold fits averaged)."""
    from lived_themes.evaluation.metrics import macro_f1, micro_f1

    coder = ensemble(best["members"], best["combine"], best["stack_C"], args.folds)
    coder.codes_ = list(data["codes"])
    combined = coder.fit_combination(np.stack([oof[m] for m in best["members"]]), data["y"], data["fold_of"])
    coder.thresholds_ = coder_thresholds(data["y"], combined)
    tests = [(bags[m], 0.0) if m in bags else member_test(m, data, args) for m in best["members"]]
    scores = np.clip(coder._combine(np.stack([s for s, _ in tests])), 0.0, 1.0)
    predicted = coder.codes_from_scores(scores).astype(float)
    out = {"candidate": best["candidate"], "macro_f1": float(macro_f1(data["y_test"], predicted)),
           "micro_f1": float(micro_f1(data["y_test"], predicted)), "members_full_fit_s": sum(s for _, s in tests)}
    print(f"\nheld-out respondents ({len(data['test_texts'])} comments), scored once: {out['candidate']}: macro-F1 "
          f"{out['macro_f1']:.3f}, micro-F1 {out['micro_f1']:.3f}", flush=True)
    return out


#: (label, grid, moving-average window over the grid's F1 curve, shrinkage: pseudo-positives pulling each code's threshold
#: to the one threshold best for the mean F1 curve)
THRESHOLD_RULES = [("0.05-0.95 by 0.05 (the package's)", THRESHOLD_GRID, 1, 0.0),
                   ("same, F1 curve smoothed over 3 points", THRESHOLD_GRID, 3, 0.0),
                   ("0.02-0.98 by 0.02", np.linspace(0.02, 0.98, 49), 1, 0.0),
                   ("0.02-0.98 by 0.02, smoothed over 5", np.linspace(0.02, 0.98, 49), 5, 0.0),
                   ("0.05-0.95, shrunk by 10 pseudo-positives", THRESHOLD_GRID, 1, 10.0),
                   ("0.05-0.95, shrunk by 30 pseudo-positives", THRESHOLD_GRID, 1, 30.0)]


def rule_thresholds(y: np.ndarray, scores: np.ndarray, grid: np.ndarray, window: int, shrink: float) -> np.ndarray:
    """Per-code thresholds maximising a (smoothed) F1 curve on ``grid``, optionally shrunk towards one common threshold."""
    from lived_themes.coders.decision import f1_curve

    curves = []
    for j in range(y.shape[1]):
        curve = f1_curve(y[:, j], scores[:, j], grid)
        if window > 1:
            curve = np.convolve(np.pad(curve, window // 2, mode="edge"), np.ones(window) / window, mode="valid")
        curves.append(curve)
    thresholds = np.array([grid[int(np.argmax(c))] if y[:, j].any() else 0.5 for j, c in enumerate(curves)])
    if shrink:
        common, positives = grid[int(np.argmax(np.mean(curves, axis=0)))], y.sum(0)
        thresholds = (positives * thresholds + shrink * common) / (positives + shrink)
    return thresholds


def print_threshold_rules(rows: list[dict[str, Any]], oof: dict[str, np.ndarray], y: np.ndarray, fold_of: np.ndarray) -> None:
    """Inner macro-F1 of each threshold rule (tuned on one inner fold's rows, applied to the other's) for a few mean rows."""
    from lived_themes.coders.decision import at_thresholds
    from lived_themes.evaluation.metrics import macro_f1

    chosen = [r for r in rows if r["combine"] == "mean" and (len(r["members"]) == 1 and r["members"][0] in ("lr", "transformer")
                                                                  or r["candidate"] == "mean(lr+transformer)")]
    chosen += [r for r in rows if r["combine"] == "mean" and len(r["members"]) == len(oof)][:1]
    print("\n| threshold rule | " + " | ".join(r["candidate"] for r in chosen) + " |\n|---|" + "---:|" * len(chosen))
    for label, grid, window, shrink in THRESHOLD_RULES:
        cells = []
        for r in chosen:
            scores = np.mean([oof[m] for m in r["members"]], axis=0)
            predicted = np.zeros_like(y)
            for f in np.unique(fold_of):
                tune, rate = fold_of != f, fold_of == f
                predicted[rate] = at_thresholds(scores[rate], rule_thresholds(y[tune], scores[tune], grid, window, shrink))
            cells.append(f"{macro_f1(y, predicted):.3f}")
        print(f"| {label} | " + " | ".join(cells) + " |")


def coder_thresholds(y: np.ndarray, combined: np.ndarray) -> np.ndarray:
    from lived_themes.coders.decision import tune_thresholds

    return tune_thresholds(y, combined)


if __name__ == "__main__":
    raise SystemExit(main())
