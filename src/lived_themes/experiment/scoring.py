"""Score one coder's out-of-fold predictions: against the reference, against each human, by group.

The model's codes are treated as one more coder (``model:<name>``): the same agreement functions
that compare humans with each other compare the model with each human.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lived_themes.config.base import EvaluationConfig
from lived_themes.corpus import Corpus
from lived_themes.corpus.model import agreement_codes
from lived_themes.corpus.validate import CODE, CODER
from lived_themes.evaluation import alpha_per_code, macro_f1, micro_f1, pairwise_kappa, per_code_scores, summary_scores, substitution_alpha
from lived_themes.evaluation.alt_test import alt_test_from_matrices
from lived_themes.evaluation.chance_corrected import chance_corrected_table
from lived_themes.evaluation._bootstrap import label_codes
from lived_themes.evaluation._memory import release_freed_memory
from lived_themes.evaluation.disclosure import suppress_small_groups, suppression_notes
from lived_themes.evaluation.groups import agreement_by_group, max_gap, metric_by_group
from lived_themes.evaluation import coder_group_agreement
from lived_themes.evaluation.calibration import calibration_summary
from lived_themes.evaluation.single_label import confusion, single_label_scores
from lived_themes.evaluation.standin import standin_analysis
from lived_themes.jsonutil import jsonable

HEADLINE_METRICS = {"macro_f1": macro_f1, "micro_f1": micro_f1}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.replace({np.nan: None}).to_dict(orient="records")


def _plain_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as Python objects, missing values as None (the chance-corrected table mixes numbers and notes)."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def _group_frame(corpus: Corpus, evaluation: EvaluationConfig, rows: np.ndarray | None = None) -> pd.DataFrame:
    """The group columns, with groups below the privacy floor relabelled over the whole evaluated corpus."""
    frame = _suppressed(corpus, evaluation)[0]
    return frame if rows is None else frame.loc[rows].reset_index(drop=True)


def _suppressed(corpus: Corpus, evaluation: EvaluationConfig) -> tuple[pd.DataFrame, dict[str, int]]:
    columns = evaluation.groups
    missing = [c for c in columns if c not in corpus.quotes.columns]
    if missing:
        raise ValueError(f"evaluation.groups names column(s) {missing} that the quotes do not have; columns: {list(corpus.quotes.columns)}")
    clusters = _clusters(corpus, evaluation)
    people = None if clusters is None or isinstance(clusters, str) else clusters
    return suppress_small_groups(corpus.quotes[columns].reset_index(drop=True), evaluation.min_report_group_size, clusters=people)


def privacy_floor(corpus: Corpus, evaluation: EvaluationConfig) -> dict[str, Any]:
    """The floor, and per group column how many groups fell below it (counts only, never names)."""
    hidden = _suppressed(corpus, evaluation)[1] if evaluation.groups else {}
    return {"min_report_group_size": evaluation.min_report_group_size, "suppressed_groups": hidden,
            "notes": suppression_notes(hidden, evaluation.min_report_group_size)}


def _clusters(corpus: Corpus, evaluation: EvaluationConfig, rows: np.ndarray | None = None) -> Any:
    if evaluation.cluster is None:
        return None
    if evaluation.cluster == "group":
        return "group"
    if evaluation.cluster not in corpus.quotes.columns:
        raise ValueError(f"evaluation.cluster {evaluation.cluster!r} is not a quotes column")
    # one integer per person (equal where the ids' strings are), never a million id strings
    values = pd.Series(label_codes(corpus.quotes[evaluation.cluster], len(corpus), name=evaluation.cluster))
    return values if rows is None else values.loc[rows].reset_index(drop=True)


def _reference_matrix(corpus: Corpus, labels: np.ndarray, reference: str, codes: list[str]) -> np.ndarray:
    """``labels`` itself when it is the reference coder's matrix over ``corpus`` (as every caller passes it), so a
    million quotes do not hold a second 280 MB copy; checked cheaply (shape, rows seen, positives per code), else rebuilt."""
    if labels.shape != (len(corpus), len(codes)) or not len(codes) or labels.dtype != np.float64:
        return corpus.label_matrix(reference, codes)
    if not np.array_equal(~np.isnan(labels[:, 0]), corpus.seen_by(reference)):
        return corpus.label_matrix(reference, codes)
    given = corpus.annotations.loc[corpus.annotations[CODER] == reference, CODE].value_counts()
    expected = np.array([given.get(c, 0) for c in codes])
    positives = np.array([np.count_nonzero(labels[:, j] == 1.0) for j in range(len(codes))])
    if not np.array_equal(expected, positives):
        return corpus.label_matrix(reference, codes)
    return labels


def evaluate_predictions(corpus: Corpus, labels: np.ndarray, out: dict[str, Any], *, codes: list[str], scheme: str, coder: str,
                         reference: str, evaluation: EvaluationConfig, seed: int, label_mode: str = "multi") -> dict[str, Any]:
    """All figures for one (split scheme, coder) pair, as JSON-ready records."""

    tested = ~np.isnan(out["scores"]).any(axis=1)
    rows = np.flatnonzero(tested)
    if len(rows) == len(labels):  # every quote tested (k-fold): the arrays themselves, not copies (280 MB each at 1M x 35)
        y_true, y_pred, y_score = labels, out["predicted"], out["scores"]
    else:
        y_true, y_pred, y_score = labels[rows], out["predicted"][rows], out["scores"][rows]
    warnings: list[str] = []
    if len(rows) < len(labels):
        warnings.append(f"{scheme}/{coder}: {len(labels) - len(rows)} quote(s) were never in a test fold (kept in training only)")
    boot = dict(n_boot=evaluation.n_boot, ci=evaluation.ci, seed=seed, min_group_size=evaluation.min_group_size)
    overall = metric_by_group(HEADLINE_METRICS, y_true, y_pred, pd.Series(["all"] * len(rows), name="all"),
                              clusters=_clusters(corpus, evaluation, rows), codes=codes, **boot)
    overall = overall[overall["group"] == "overall"]
    result: dict[str, Any] = {
        "scheme": scheme,
        "coder": coder,
        "n_tested": int(len(rows)),
        "summary": summary_scores(y_true, y_pred, y_score),
        "summary_ci": {r["metric"]: [r["ci_low"], r["ci_high"]] for r in _records(overall)},
        "codes_without_test_examples": [c for c, n in zip(codes, np.nansum(y_true, axis=0)) if n == 0],
        "per_code": _records(per_code_scores(y_true, y_pred, codes, y_score=y_score)),
        "by_group": [],
        "max_gap": [],
        "agreement": [],
        "substitution_alpha": [],
        "group_agreement": [],
        "seconds": out["seconds"],
        "calibration": calibration_summary(y_true, y_score, codes),
    }
    if label_mode == "single":
        result["single_label"] = {**single_label_scores(y_true, y_pred), "confusion": confusion(y_true, y_pred, codes)}
    if evaluation.groups:
        by_group = metric_by_group(HEADLINE_METRICS, y_true, y_pred, _group_frame(corpus, evaluation, rows),
                                   clusters=_clusters(corpus, evaluation, rows), codes=codes, **boot)
        result["by_group"] = _records(by_group)
        result["max_gap"] = _records(max_gap(by_group))
        warnings += sorted({f"{scheme}/{coder}: {r['group_column']}={r['group']}: {r['warning']}" for r in result["by_group"] if r["warning"]})

    model_name = f"model:{coder}"
    humans = _human_coders(corpus, reference, evaluation)
    release_freed_memory()  # before the agreement matrices: what the scores above freed goes back, not under them
    # the other humans in float32 (0/1/NaN exact): every agreement scorer widens one slice at a time
    matrices = {h: _reference_matrix(corpus, labels, h, codes) if h == reference else corpus.label_matrix(h, codes, dtype=np.float32)
                for h in humans}
    # the model's codes in float32 like the other humans' (0/1/NaN exact); no copy when they already are (cross_val_scores)
    if len(rows) == len(labels):
        model_matrix = np.asarray(y_pred, dtype=np.float32)
    else:
        model_matrix = np.full(labels.shape, np.nan, dtype=np.float32)
        model_matrix[rows] = y_pred
    matrices[model_name] = model_matrix
    # model vs each human, one pair at a time: linear in the number of coders, even for hundreds of validators
    result["agreement"] = [r for h in humans for r in _records(pairwise_kappa(matrices, codes, coders=[h, model_name]))]
    derived = corpus.derived_coders  # consensus and adjudicated references are never independent humans
    real_humans = [h for h in humans if h not in derived and not h.startswith("consensus:")]
    dense = len(real_humans) <= evaluation.max_dense_coders
    if len(real_humans) >= 2 and not dense:
        warnings.append(f"{scheme}/{coder}: {len(real_humans)} human coders (> evaluation.max_dense_coders={evaluation.max_dense_coders}): "
                        "substitution alpha and per-group agreement skipped; see the stand-in analysis")
    if len(real_humans) >= 2 and dense:
        result["substitution_alpha"] = _records(substitution_alpha(matrices, codes, real_humans, model_name))
        if evaluation.groups:
            release_freed_memory()
            result["group_agreement"] = _records(agreement_by_group(matrices, codes, real_humans, _group_frame(corpus, evaluation),
                                                                    model_coder=model_name, clusters=_clusters(corpus, evaluation), **boot))
    result["standin"] = []
    if evaluation.standin.enabled and len(real_humans) >= 2:
        result["standin"] = _records(_standin(matrices, codes, model_name, real_humans, corpus, evaluation, seed=seed))
    _reliability(result, matrices, codes, model_name, real_humans, corpus, evaluation)
    result["warnings"] = warnings
    return result


def _reliability(result: dict[str, Any], matrices: dict[str, np.ndarray], codes: list[str], model_name: str,
                 real_humans: list[str], corpus: Corpus, evaluation: EvaluationConfig) -> None:
    """Alt-test and chance-corrected agreement with the model as one more coder (two or more humans)."""
    result["alt_test"] = {}
    result["chance_corrected"] = []
    release_freed_memory()
    if len(real_humans) >= 2 and evaluation.alt_test.enabled:
        result["alt_test"] = alt_test_section(matrices, model_name, real_humans, corpus, evaluation)
    if len(real_humans) >= 2 and evaluation.chance_corrected:
        result["chance_corrected"] = chance_corrected_section(matrices, codes, [*real_humans, model_name], corpus, evaluation,
                                                              by_group=False)


def resolve_coder_groups(corpus: Corpus, evaluation: EvaluationConfig) -> dict[str, str]:
    """``from_data`` reads coder groups from the annotations' ``coder_group`` column (set by dataset adapters)."""
    if evaluation.coder_groups == "from_data":
        if "coder_group" not in corpus.annotations.columns:
            raise ValueError("evaluation.coder_groups is 'from_data' but the annotations have no coder_group column")
        pairs = corpus.annotations[["coder", "coder_group"]].dropna().drop_duplicates()
        return dict(zip(pairs["coder"], pairs["coder_group"]))
    return dict(evaluation.coder_groups)


def alt_test_section(matrices: dict[str, np.ndarray], model_name: str, humans: list[str], corpus: Corpus,
                     evaluation: EvaluationConfig) -> dict[str, Any]:
    """The alt-test for one model against the human coders: per coder group (joint FDR) and per quote group."""
    options = evaluation.alt_test
    coder_groups = resolve_coder_groups(corpus, evaluation) if evaluation.coder_groups else {}
    groups = _group_frame(corpus, evaluation) if (evaluation.groups and options.by_group) else None
    return alt_test_from_matrices(matrices, model=model_name, humans=humans, coder_groups=coder_groups or None,
                                  epsilon=options.epsilon, groups=groups, scoring=options.scoring, q=options.q,
                                  min_instances_per_human=options.min_instances, small_sample=options.small_sample)


def chance_corrected_section(matrices: dict[str, np.ndarray], codes: list[str], coders: list[str], corpus: Corpus,
                             evaluation: EvaluationConfig, *, by_group: bool = True) -> list[dict[str, Any]]:
    """AC1 and Brennan-Prediger with intervals, prevalence and bias indices, per code (and group)."""
    groups = _group_frame(corpus, evaluation) if (evaluation.groups and by_group) else None
    return _plain_records(chance_corrected_table(matrices, codes, coders, groups=groups, ci=evaluation.ci))


def _standin(matrices: dict[str, np.ndarray], codes: list[str], model_name: str, humans: list[str], corpus: Corpus,
             evaluation: EvaluationConfig, *, seed: int) -> pd.DataFrame:
    options = evaluation.standin
    groups = _group_frame(corpus, evaluation) if evaluation.groups else None
    clusters = _clusters(corpus, evaluation)
    return standin_analysis(matrices, codes, model=model_name, humans=humans, groups=groups,
                            clusters=None if isinstance(clusters, str) else clusters,
                            coder_groups=resolve_coder_groups(corpus, evaluation) or None, statistic=options.statistic,
                            min_overlap=options.min_overlap, n_boot=evaluation.n_boot, n_perm=options.n_perm, ci=evaluation.ci,
                            margin=options.margin, seed=seed)


def human_coders(corpus: Corpus, evaluation: EvaluationConfig) -> list[str]:
    """The configured human coders, else every coder that is neither a model nor a consensus."""
    return list(evaluation.human_coders) if evaluation.human_coders is not None else corpus.human_coders


def _human_coders(corpus: Corpus, reference: str, evaluation: EvaluationConfig) -> list[str]:
    return list(dict.fromkeys([*human_coders(corpus, evaluation), reference]))


def human_single_label(corpus: Corpus, codes: list[str], humans: list[str], reference: str) -> list[dict[str, Any]]:
    """Single-label mode: each human's Cohen's kappa and percent agreement with the reference over codes + none
    (on the quotes both saw), so the model's figures sit beside the humans' own."""

    ref = corpus.label_matrix(reference, codes)
    rows = []
    for h in humans:
        if h == reference:
            continue
        scores = single_label_scores(ref, corpus.label_matrix(h, codes))
        rows.append({"coder": h, "reference": reference, **{k: scores[k] for k in ("kappa", "percent_agreement", "n")}})
    return rows


def human_agreement(corpus: Corpus, codes: list[str], humans: list[str], evaluation: EvaluationConfig, *, seed: int) -> dict[str, Any]:
    """Agreement among the human coders: the ceiling a model is judged against. Empty with one coder.

    Over every code any of them used (:func:`agreement_codes`), not only the codes the model learns: a code the
    reference never used is exactly where humans disagree. ``codes`` in the result lists them."""
    derived = corpus.derived_coders
    humans = [h for h in humans if h not in derived]  # an adjudicated reference is not one more independent human
    if len(humans) < 2:
        return {"codes": list(codes), "pairwise": [], "alpha": [], "by_group": [], "coder_groups": [],
                "note": f"one human coder ({', '.join(humans) or 'none'}): no human-human ceiling can be computed"}
    codes = agreement_codes(corpus, humans, codes)
    release_freed_memory()
    matrices = corpus.label_matrices(humans, codes, dtype=np.float32)  # half the memory; scorers widen a slice at a time
    dense = len(humans) <= evaluation.max_dense_coders
    out = {
        "codes": list(codes),
        "pairwise": _records(pairwise_kappa(matrices, codes, coders=humans)) if dense else [],
        "alpha": _records(alpha_per_code(matrices, codes, humans)),
        "by_group": [],
        "coder_groups": [],
        "note": "" if dense else (f"{len(humans)} human coders (> evaluation.max_dense_coders={evaluation.max_dense_coders}): "
                                  "pairwise kappa and per-group agreement skipped; Krippendorff's alpha handles the sparse design"),
    }
    if evaluation.groups and dense:
        release_freed_memory()
        frame = agreement_by_group(matrices, codes, humans, _group_frame(corpus, evaluation), clusters=_clusters(corpus, evaluation),
                                   n_boot=evaluation.n_boot, ci=evaluation.ci, seed=seed, min_group_size=evaluation.min_group_size)
        out["by_group"] = _records(frame)
    if evaluation.chance_corrected:
        out["chance_corrected"] = chance_corrected_section(matrices, codes, humans, corpus, evaluation)
    if evaluation.coder_groups:
        members = {c: g for c, g in resolve_coder_groups(corpus, evaluation).items() if c in humans}
        out["coder_groups"] = _records(coder_group_agreement(matrices, codes, members))
    return out


#: The top-level keys of metrics.json, in order; every metrics.json is built by :func:`metrics_document`.
METRICS_KEYS = ("experiment", "description", "reference", "n_quotes", "n_evaluated", "not_evaluated", "codes", "code_labels",
                "excluded_codes", "human_coders", "groups", "results", "human_agreement", "warnings", "privacy", "label_mode",
                "adjudication", "stability")


def metrics_document(*, experiment: str, description: str, reference: str, corpus: Corpus, n_quotes: int, n_evaluated: int,
                     not_evaluated: list[dict[str, Any]], codes: list[str], excluded_codes: list[dict[str, Any]], humans: list[str],
                     groups: list[str], results: list[dict[str, Any]], human_agreement: dict[str, Any],
                     warnings: list[str] | tuple[str, ...] = (), privacy: dict[str, Any] | None = None,
                     label_mode: str = "multi", adjudication: dict[str, Any] | None = None,
                     stability: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one builder of metrics.json (coding runs, topic runs and ``evaluate``): JSON-ready, warnings gathered from results.

    ``warnings`` are run-level (leakage, training overlap) and come before the per-result ones; ``privacy``
    records how many groups the reporting floor suppressed, never their names."""

    book = corpus.codebook
    labels = {c: (book.code(c).label if book is not None and c in book.code_ids else c) for c in codes}
    document = {
        "experiment": experiment,
        "description": description,
        "reference": reference,
        "n_quotes": int(n_quotes),
        "n_evaluated": int(n_evaluated),
        "not_evaluated": not_evaluated,
        "codes": list(codes),
        "code_labels": labels,
        "excluded_codes": excluded_codes,
        "human_coders": list(humans),
        "groups": list(groups),
        "results": [{k: v for k, v in r.items() if k != "warnings"} for r in results],
        "human_agreement": human_agreement,
        "warnings": list(warnings) + [w for r in results for w in r.get("warnings", [])],
        "privacy": privacy or {},
        "label_mode": label_mode,
        "adjudication": adjudication,
        "stability": stability,
    }
    return jsonable(document)
