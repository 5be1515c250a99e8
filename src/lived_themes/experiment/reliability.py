"""Reliability figures of a coding run: alt-test, AC1 / Brennan-Prediger, adjudication queue, stability.

The statistics live in ``lived_themes.evaluation`` (plain functions); this module only reads the
config, picks the coders and quotes, and writes ``disagreements.csv`` into the run folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lived_themes.corpus import Corpus
from lived_themes.experiment.config import EvaluationConfig, ExperimentConfig


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def alt_test_section(matrices: dict[str, np.ndarray], model_name: str, humans: list[str], corpus: Corpus,
                     evaluation: EvaluationConfig) -> dict[str, Any]:
    """The alt-test for one model against the human coders: per coder group (joint FDR) and per quote group."""
    from lived_themes.evaluation.alt_test import alt_test_from_matrices
    from lived_themes.experiment.scoring import _group_frame, resolve_coder_groups

    options = evaluation.alt_test
    coder_groups = resolve_coder_groups(corpus, evaluation) if evaluation.coder_groups else {}
    groups = _group_frame(corpus, evaluation) if (evaluation.groups and options.by_group) else None
    return alt_test_from_matrices(matrices, model=model_name, humans=humans, coder_groups=coder_groups or None,
                                  epsilon=options.epsilon, groups=groups, scoring=options.scoring, q=options.q,
                                  min_instances_per_human=options.min_instances, small_sample=options.small_sample)


def chance_corrected_section(matrices: dict[str, np.ndarray], codes: list[str], coders: list[str], corpus: Corpus,
                             evaluation: EvaluationConfig, *, by_group: bool = True) -> list[dict[str, Any]]:
    """AC1 and Brennan-Prediger with intervals, prevalence and bias indices, per code (and group)."""
    from lived_themes.evaluation.chance_corrected import chance_corrected_table
    from lived_themes.experiment.scoring import _group_frame

    groups = _group_frame(corpus, evaluation) if (evaluation.groups and by_group) else None
    return _records(chance_corrected_table(matrices, codes, coders, groups=groups, ci=evaluation.ci))


def _adjudication_coder(config: ExperimentConfig) -> str:
    wanted = config.evaluation.adjudication.coder
    names = [c.name for c in config.coders]
    if wanted is not None:
        if wanted not in names:
            raise ValueError(f"evaluation.adjudication.coder {wanted!r} is not among the coders {names}")
        return wanted
    return next((n for n in names if "majority" not in n.lower()), names[0])


def write_disagreements(run_dir: Path, corpus: Corpus, codes: list[str], outputs: dict[tuple[str, str], dict[str, Any]],
                        config: ExperimentConfig, humans: list[str]) -> dict[str, Any]:
    """Write ``disagreements.csv`` (first split scheme, the configured coder) and return its summary for metrics.

    Over every code a human used (the model votes, with NaN, only on the codes it learnt), so a disagreement on
    a code the reference never used, or used too rarely to train on, is listed too."""
    from lived_themes.evaluation.adjudication import disagreement_queue, top_per_code
    from lived_themes.experiment.scoring import agreement_codes

    options = config.evaluation.adjudication
    coder = _adjudication_coder(config)
    scheme = next(s for (s, c) in outputs if c == coder)
    out = outputs[(scheme, coder)]
    model_name = f"model:{coder}"
    all_codes = agreement_codes(corpus, humans, codes)
    matrices = corpus.label_matrices(humans, all_codes)
    extra = len(all_codes) - len(codes)
    pad = np.full((len(corpus), extra), np.nan)
    matrices[model_name] = np.hstack([np.asarray(out["predicted"], dtype=float), pad])
    scores = np.hstack([np.asarray(out["scores"], dtype=float), pad])
    queue = disagreement_queue(matrices, all_codes, corpus.quote_ids, humans=humans, model=model_name, model_scores=scores)
    codes = all_codes
    path = Path(run_dir) / "disagreements.csv"
    from lived_themes.files import csv_for_people, write_text_atomic

    write_text_atomic(path, csv_for_people(queue))  # opened in a spreadsheet: formula-leading cells escaped
    top = top_per_code(queue, options.top_n)
    per_code = queue.groupby("code").size().to_dict()
    return {"file": path.name, "scheme": scheme, "coder": model_name, "humans": list(humans), "n_items": int(len(queue)),
            "per_code": {c: int(per_code.get(c, 0)) for c in codes},
            "top": _records(top[["quote_id", "code", "rank_in_code", "vote_entropy", "n_yes", "n_no", "model_said", "model_score"]])}


def stability_section(config: ExperimentConfig, texts: list[str], labels: np.ndarray, meta: pd.DataFrame, codes: list[str],
                      corpus: Corpus, progress: Any) -> dict[str, Any]:
    """Each non-floor coder retrained with each seed in ``evaluation.stability_seeds`` (new folds, new coder
    seed) on the first split scheme; Krippendorff's alpha across the seeds' out-of-fold codes, per code."""
    from lived_themes.evaluation.agreement import krippendorff_alpha
    from lived_themes.experiment.coding import cross_predict, make_folds
    from lived_themes.registry import constructor_params, get_coder_class

    seeds = list(config.evaluation.stability_seeds)
    if len(seeds) < 2:
        return {}
    split = config.splits[0]
    threshold = config.evaluation.stability_min_alpha
    rows, flagged = [], []
    for coder_cfg in config.coders:
        if "majority" in coder_cfg.name.lower():
            continue
        accepts = [p for p in ("seed", "random_state") if p in constructor_params(get_coder_class(coder_cfg.name))]
        runs = []
        for s in seeds:
            cfg = coder_cfg.model_copy(update={"params": {**coder_cfg.params, **({accepts[0]: s} if accepts else {})}})
            folds = make_folds(split, labels, meta, s)
            progress(f"stability: {coder_cfg.name} seed {s}")
            runs.append(cross_predict(config, cfg, folds, texts, labels, meta, codes, corpus, progress)["predicted"])
        stack = np.stack(runs)  # (seeds, n, k)
        for j, code in enumerate(codes):
            res = krippendorff_alpha(stack[:, :, j])
            col = stack[:, :, j][:, ~np.isnan(stack[:, :, j]).any(axis=0)]
            changed = float(np.mean(col.max(axis=0) != col.min(axis=0))) if col.size else float("nan")
            unstable = bool(np.isfinite(res.value) and res.value < threshold)
            rows.append({"coder": coder_cfg.name, "code": code, "alpha_across_seeds": res.value, "share_changed": changed,
                         "n_units": res.n_units, "unstable": unstable, "note": res.note})
            if unstable:
                flagged.append(f"{coder_cfg.name}: {code}")
    return {"scheme": split.label, "seeds": seeds, "min_alpha": threshold, "per_code": rows, "unstable": flagged,
            "seed_param": "varied where the coder takes a seed; folds always reshuffled"}
