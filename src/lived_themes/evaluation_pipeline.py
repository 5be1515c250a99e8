"""Score one coder's out-of-fold predictions: against the reference, against each human, by group.

The model's codes are treated as one more coder (``model:<name>``): the same agreement functions
that compare humans with each other compare the model with each human.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lived_themes.config import EvaluationConfig
from lived_themes.corpus import Corpus
from lived_themes.evaluation import alpha_per_code, macro_f1, micro_f1, pairwise_kappa, per_code_scores, summary_scores, substitution_alpha
from lived_themes.evaluation.groups import agreement_by_group, max_gap, metric_by_group

HEADLINE_METRICS = {"macro_f1": macro_f1, "micro_f1": micro_f1}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.replace({np.nan: None}).to_dict(orient="records")


def _group_frame(corpus: Corpus, columns: list[str], rows: np.ndarray | None = None) -> pd.DataFrame:
    missing = [c for c in columns if c not in corpus.quotes.columns]
    if missing:
        raise ValueError(f"evaluation.groups names column(s) {missing} that the quotes do not have; columns: {list(corpus.quotes.columns)}")
    frame = corpus.quotes[columns].reset_index(drop=True)
    return frame if rows is None else frame.loc[rows].reset_index(drop=True)


def _clusters(corpus: Corpus, evaluation: EvaluationConfig, rows: np.ndarray | None = None) -> Any:
    if evaluation.cluster is None:
        return None
    if evaluation.cluster == "group":
        return "group"
    if evaluation.cluster not in corpus.quotes.columns:
        raise ValueError(f"evaluation.cluster {evaluation.cluster!r} is not a quotes column")
    values = corpus.quotes[evaluation.cluster].astype(object).reset_index(drop=True)
    return values if rows is None else values.loc[rows].reset_index(drop=True)


def evaluate_predictions(corpus: Corpus, labels: np.ndarray, out: dict[str, Any], *, codes: list[str], scheme: str, coder: str,
                         reference: str, evaluation: EvaluationConfig, seed: int) -> dict[str, Any]:
    """All figures for one (split scheme, coder) pair, as JSON-ready records."""
    tested = ~np.isnan(out["scores"]).any(axis=1)
    rows = np.flatnonzero(tested)
    y_true, y_pred, y_score = labels[rows], out["predicted"][rows], out["scores"][rows]
    warnings: list[str] = []
    if len(rows) < len(labels):
        warnings.append(f"{scheme}/{coder}: {len(labels) - len(rows)} quote(s) were never in a test fold (kept in training only)")
    boot = dict(n_boot=evaluation.n_boot, ci=evaluation.ci, seed=seed, min_group_size=evaluation.min_group_size)
    overall = metric_by_group(HEADLINE_METRICS, y_true, y_pred, pd.Series(["all"] * len(rows), name="all"),
                              clusters=_clusters(corpus, evaluation, rows), **boot)
    overall = overall[overall["group"] == "overall"]
    result: dict[str, Any] = {
        "scheme": scheme,
        "coder": coder,
        "n_tested": int(len(rows)),
        "summary": summary_scores(y_true, y_pred, y_score),
        "summary_ci": {r["metric"]: [r["ci_low"], r["ci_high"]] for r in _records(overall)},
        "per_code": _records(per_code_scores(y_true, y_pred, codes, y_score=y_score)),
        "by_group": [],
        "max_gap": [],
        "agreement": [],
        "substitution_alpha": [],
        "group_agreement": [],
        "seconds": out["seconds"],
    }
    if evaluation.groups:
        by_group = metric_by_group(HEADLINE_METRICS, y_true, y_pred, _group_frame(corpus, evaluation.groups, rows),
                                   clusters=_clusters(corpus, evaluation, rows), **boot)
        result["by_group"] = _records(by_group)
        result["max_gap"] = _records(max_gap(by_group))
        warnings += sorted({f"{scheme}/{coder}: {r['group_column']}={r['group']}: {r['warning']}" for r in result["by_group"] if r["warning"]})

    model_name = f"model:{coder}"
    humans = _human_coders(corpus, reference, evaluation)
    matrices = corpus.label_matrices(humans, codes)
    model_matrix = np.full_like(labels, np.nan)
    model_matrix[rows] = y_pred
    matrices[model_name] = model_matrix
    pairs = pairwise_kappa(matrices, codes, coders=[*humans, model_name])
    result["agreement"] = _records(pairs[(pairs["coder_a"] == model_name) | (pairs["coder_b"] == model_name)])
    real_humans = [h for h in humans if not h.startswith("consensus:")]
    if len(real_humans) >= 2:
        result["substitution_alpha"] = _records(substitution_alpha(matrices, codes, real_humans, model_name))
        if evaluation.groups:
            result["group_agreement"] = _records(agreement_by_group(matrices, codes, real_humans, _group_frame(corpus, evaluation.groups),
                                                                    model_coder=model_name, clusters=_clusters(corpus, evaluation), **boot))
    result["warnings"] = warnings
    return result


def _human_coders(corpus: Corpus, reference: str, evaluation: EvaluationConfig) -> list[str]:
    humans = evaluation.human_coders if evaluation.human_coders is not None else [c for c in corpus.human_coders if not c.startswith("consensus:")]
    return list(dict.fromkeys([*humans, reference]))


def human_agreement(corpus: Corpus, codes: list[str], humans: list[str], evaluation: EvaluationConfig, *, seed: int) -> dict[str, Any]:
    """Agreement among the human coders: the ceiling a model is judged against. Empty with one coder."""
    if len(humans) < 2:
        return {"pairwise": [], "alpha": [], "by_group": [], "coder_groups": [],
                "note": f"one human coder ({', '.join(humans) or 'none'}): no human-human ceiling can be computed"}
    matrices = corpus.label_matrices(humans, codes)
    out = {
        "pairwise": _records(pairwise_kappa(matrices, codes, coders=humans)),
        "alpha": _records(alpha_per_code(matrices, codes, humans)),
        "by_group": [],
        "coder_groups": [],
        "note": "",
    }
    if evaluation.groups:
        frame = agreement_by_group(matrices, codes, humans, _group_frame(corpus, evaluation.groups), clusters=_clusters(corpus, evaluation),
                                   n_boot=evaluation.n_boot, ci=evaluation.ci, seed=seed, min_group_size=evaluation.min_group_size)
        out["by_group"] = _records(frame)
    if evaluation.coder_groups:
        from lived_themes.evaluation import coder_group_agreement

        members = {c: g for c, g in evaluation.coder_groups.items() if c in humans}
        out["coder_groups"] = _records(coder_group_agreement(matrices, codes, members))
    return out
