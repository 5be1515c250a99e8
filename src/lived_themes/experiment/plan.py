"""``run --dry-run``: what a run would do (splits, fold sizes, codes kept and dropped, estimated time), fitting nothing.

Built from the same steps as the run itself (load, reference, ``select_codes``, ``make_folds``), so the plan
is the run's plan, not a second guess; it reads the data but writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lived_themes.experiment.config import ExperimentConfig
from lived_themes.experiment.estimate import estimate_seconds


#: codes with fewer reference examples than this are named in a run's warnings (metrics.json, report) and the plan
SPARSE_BELOW = 5


def sparse_codes_warning(codes: list[str], labels: np.ndarray, *, reference: str, below: int = SPARSE_BELOW) -> str | None:
    """One warning naming the kept codes with fewer than ``below`` examples: their scores rest on too few quotes."""
    counts = np.nansum(labels, axis=0) if len(labels) else np.zeros(len(codes))
    sparse = [f"{c} ({int(n)})" for c, n in zip(codes, counts) if n < below]
    if not sparse:
        return None
    return (f"{len(sparse)} of {len(codes)} code(s) have fewer than {below} examples from {reference}: they are trained and "
            f"scored on too few quotes to trust (raise data.min_code_count to leave them out): {', '.join(sparse[:20])}"
            + (" ..." if len(sparse) > 20 else ""))


def build_plan(config: ExperimentConfig, *, base_dir: Path | None = None) -> dict[str, Any]:
    """The plan as a dict (text-free: counts, code ids and group names only)."""
    from lived_themes.experiment.coding import make_folds, resolve_label_mode, resolve_reference, select_codes
    from lived_themes.experiment.data import load_from_config

    corpus = load_from_config(config.data, base_dir=base_dir if base_dir is not None else config.base_dir)
    reference = config.reference.coder
    corpus = resolve_reference(corpus, reference)
    codes, dropped = select_codes(corpus, reference, min_count=config.data.min_code_count, exclude=config.data.exclude_codes)
    index = np.flatnonzero(corpus.seen_by(reference))
    if config.data.max_quotes is not None:
        index = index[: config.data.max_quotes]
    meta = corpus.quotes.iloc[index].reset_index(drop=True)
    labels = corpus.label_matrix(reference, codes)[index]
    splits, sizes = [], []
    for split in config.splits:
        folds = make_folds(split, labels, meta, config.seed)
        fold_rows = [{"fold": str(f.name), "train": int(len(f.train_idx)), "test": int(len(f.test_idx))}
                     for f in folds]
        sizes += [r["train"] for r in fold_rows]
        splits.append({"split": split.label, "n_folds": len(folds), "folds": fold_rows})
    final = config.final_model.coder
    if final == "best":
        final = config.coders[0].name if config.coders else None
    estimate = estimate_seconds([c.name for c in config.coders], sizes, n_codes=len(codes), n_rows=len(index),
                                n_boot=config.evaluation.n_boot, final_coder=final, n_schemes=len(config.splits))
    counts = np.nansum(labels, axis=0).astype(int)
    return {
        "experiment": config.name, "reference": reference, "n_quotes": len(corpus), "n_evaluated": int(len(index)),
        "label_mode": resolve_label_mode(config.data.label_mode, labels),
        "codes_kept": [{"code": c, "count": int(n)} for c, n in zip(codes, counts)], "codes_dropped": dropped,
        "min_code_count": config.data.min_code_count, "splits": splits, "coders": [c.name for c in config.coders],
        "final_model": final, "estimated_seconds": round(estimate.seconds, 1), "estimate": estimate.text(),
        "sparse_warning": sparse_codes_warning(codes, labels, reference=reference),
    }


def plan_text(plan: dict[str, Any]) -> str:
    """The plan for a person, one fact a line."""
    lines = [f"dry run of {plan['experiment']}: nothing is fitted or written",
             f"quotes: {plan['n_quotes']} read, {plan['n_evaluated']} coded by {plan['reference']} ({plan['label_mode']}-label)",
             f"codes kept ({len(plan['codes_kept'])}, min_code_count {plan['min_code_count']}): "
             + ", ".join(f"{c['code']} ({c['count']})" for c in plan["codes_kept"])]
    if plan["codes_dropped"]:
        lines.append(f"codes dropped ({len(plan['codes_dropped'])}): "
                     + ", ".join(f"{c['code']} ({c['count']}: {c['reason']})" for c in plan["codes_dropped"]))
    for split in plan["splits"]:
        sizes = ", ".join(f"{f['train']}/{f['test']}" for f in split["folds"][:12])
        more = f", ... {split['n_folds'] - 12} more" if split["n_folds"] > 12 else ""
        lines.append(f"split {split['split']}: {split['n_folds']} fold(s), train/test rows {sizes}{more}")
    lines.append(f"coders: {', '.join(plan['coders'])}" + (f"; final model: {plan['final_model']}" if plan["final_model"] else ""))
    if plan.get("sparse_warning"):
        lines.append(f"warning: {plan['sparse_warning']}")
    lines.append(f"estimated time: {plan['estimate']}")
    return "\n".join(lines)
