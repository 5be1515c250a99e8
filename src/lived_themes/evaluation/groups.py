"""Every metric broken down by group, with cluster-bootstrap intervals and small-group warnings.

A model can look trustworthy overall and fail one group of participants; the per-group view,
the largest gap between groups and the human–human ceiling in each group are what a
researcher needs before relying on it. Missing group values form the group "unknown".
Intervals resample whole clusters (participants, or the groups themselves) because quotes
from one person are not independent; resampling rows would make intervals too narrow.
"""

from __future__ import annotations

from itertools import combinations
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from lived_themes.evaluation import _bootstrap as bs
from lived_themes.evaluation.agreement import (
    alpha_from_coincidences,
    as_float,
    float_view,
    kappa_from_tables,
    pair_tables,
    unit_coincidences,
)
from lived_themes.evaluation.metrics import complete_rows, present_codes

MetricFn = Callable[[np.ndarray, np.ndarray], float]
Clusters = pd.Series | np.ndarray | str | None
OVERALL = "overall"
ALL_CODES = "(all codes)"


def _group_frame(groups: pd.Series | pd.DataFrame, n: int) -> pd.DataFrame:
    frame = groups.to_frame() if isinstance(groups, pd.Series) else groups
    return pd.DataFrame({str(c): bs.as_labels(frame[c].reset_index(drop=True), n, name=str(c)) for c in frame.columns})


def _cluster_labels(clusters: Clusters, group: pd.Series, keep: np.ndarray) -> np.ndarray | None:
    """Cluster label per kept row: the group itself ("group"), or given ids; None: each row alone."""
    if clusters is None:
        return None
    if isinstance(clusters, str):
        if clusters != "group":
            raise ValueError("clusters must be None, 'group', or one id per quote")
        return group.to_numpy()
    return bs.label_codes(clusters, len(keep), name="cluster")[keep]


def _cluster_ids(cl: np.ndarray | None, idx: np.ndarray) -> tuple[np.ndarray, int]:
    """Cluster number (0..c-1, in order of first appearance) of each row in ``idx``, and c."""
    if cl is None:
        return np.arange(len(idx)), len(idx)
    cid, uniq = pd.factorize(cl[idx])
    return cid, len(uniq)


def _levels(group: pd.Series) -> list[tuple[str, np.ndarray]]:
    return [(OVERALL, np.ones(len(group), bool))] + [(lv, (group == lv).to_numpy()) for lv in sorted(group.unique())]


def _as_metric_dict(metric: MetricFn | Mapping[str, MetricFn]) -> dict[str, MetricFn]:
    if callable(metric):
        return {getattr(metric, "__name__", "metric"): metric}
    return dict(metric)


def _row_counts(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    t, p = t > 0.5, p > 0.5
    return np.stack([t & p, ~t & p, t & ~p, ~t & ~p], axis=-1).astype(float)


def metric_by_group(
    metric: MetricFn | Mapping[str, MetricFn],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: pd.Series | pd.DataFrame,
    *,
    y_score: np.ndarray | None = None,
    clusters: Clusters = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    min_group_size: int = 10,
    codes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Point estimates per group with cluster-bootstrap intervals.

    ``metric`` takes (y_true, y_pred) matrices; one flagged ``needs_score`` gets ``y_score``
    instead. Metrics with ``from_counts`` are computed, and bootstrapped, from confusion counts
    summed per cluster (the same counts MetricFrame's call would make; a chunk of rows at a time,
    so a million quotes never hold an (n, codes, 4) array); others go through MetricFrame and are
    re-run on resampled rows. Rows a coder did not see (NaN) are excluded, counted in
    ``attrs["n_excluded"]``. ``clusters="group"`` resamples each group column's own groups.

    Each row says how many codes occur in the group (``n_codes``: a reference positive or a
    prediction; for a ``needs_score`` metric, a reference positive) and lists the absent ones
    (``codes_absent``, by name when ``codes`` is given): macro figures average over the codes
    that occur, so a group is never marked down for codes it does not contain.
    """
    t, p = np.asarray(y_true, float), np.asarray(y_pred, float)
    keep = complete_rows(t, p)
    s = None if y_score is None else np.asarray(y_score, float)
    if not keep.all():  # no copies when every row was seen (a million rows x 35 codes is 280 MB a copy)
        t, p, s = t[keep], p[keep], None if s is None else s[keep]
    metrics = _as_metric_dict(metric)
    scored = {k: f for k, f in metrics.items() if getattr(f, "needs_score", False)}
    if scored and s is None:
        raise ValueError(f"metrics {sorted(scored)} need y_score")
    counted = {k for k, f in metrics.items() if hasattr(f, "from_counts") and k not in scored}
    names = [str(c) for c in codes] if codes is not None else [str(j) for j in range(t.shape[1])]
    if len(names) != t.shape[1]:
        raise ValueError(f"{len(names)} code names for {t.shape[1]} columns")
    gframe = _group_frame(groups, len(keep)).loc[keep].reset_index(drop=True)

    def row_counts(rows: np.ndarray) -> dict[str, np.ndarray]:
        return {"counts": _row_counts(t[rows], p[rows])}

    rows = []
    for column in gframe.columns:
        g = gframe[column]
        frames = []
        for subset, pred in ((metrics.keys() - scored.keys() - counted, p), (scored.keys(), s)):
            if subset:
                from fairlearn.metrics import MetricFrame  # only for metrics that cannot work from counts

                frames.append(MetricFrame(metrics={k: metrics[k] for k in subset}, y_true=t, y_pred=pred, sensitive_features=g))
        cl = _cluster_labels(clusters, g, keep)
        for gi, (label, mask) in enumerate(_levels(g)):
            idx = np.flatnonzero(mask)
            cid, n_clusters = _cluster_ids(cl, idx)
            cluster_counts = bs.stream_cluster_sums(idx, cid, n_clusters, row_counts)["counts"]
            boot = _bootstrap_metrics(metrics, t, p, s, cluster_counts, idx, cid, n_boot, np.random.default_rng([seed, gi]))
            note = bs.small_warning(len(idx), n_clusters, min_group_size)
            totals = bs.totals(cluster_counts)
            present = present_codes(totals)
            with_positives = (totals[:, 0] + totals[:, 2]) > 0
            absent = [c for c, here in zip(names, present) if not here]
            for name in metrics:
                if name in counted:
                    value = float(metrics[name].from_counts(totals))
                else:
                    mf = next(f for f in frames if name in f.overall.index)
                    value = mf.overall[name] if label == OVERALL else mf.by_group.loc[label, name]
                low, high = bs.interval(boot[name], ci)
                n_codes = int((with_positives if name in scored else present).sum())
                rows.append((column, label, name, float(value), float(low), float(high), len(idx), n_clusters, n_codes, absent, note))
    columns = ["group_column", "group", "metric", "value", "ci_low", "ci_high", "n", "n_clusters", "n_codes", "codes_absent", "warning"]
    out = pd.DataFrame(rows, columns=columns)
    out.attrs["n_excluded"] = int((~keep).sum())
    return out


def _bootstrap_metrics(
    metrics: dict[str, MetricFn],
    t: np.ndarray,
    p: np.ndarray,
    s: np.ndarray | None,
    cluster_counts: np.ndarray,
    idx: np.ndarray,
    cid: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Resampled values per metric for one group; all metrics share the same resamples."""
    out: dict[str, list[np.ndarray]] = {name: [] for name in metrics}
    n_clusters = cluster_counts.shape[0]
    if len(idx) == 0 or n_boot <= 0:
        return {name: np.empty(0) for name in metrics}
    cluster_rows = [idx[cid == c] for c in range(n_clusters)] if any(not hasattr(f, "from_counts") for f in metrics.values()) else []
    for weights in bs.weight_chunks(n_clusters, n_boot, rng, reuse=True, compact=True):  # one buffer, refilled: nothing here keeps a chunk
        sums = bs.resampled_sums(cluster_counts, weights)
        for name, fn in metrics.items():
            if hasattr(fn, "from_counts"):
                out[name].append(np.asarray(fn.from_counts(sums), float))
                continue
            pred = s if getattr(fn, "needs_score", False) else p
            vals = []
            for w in weights:
                r = bs.rows_from_weights(cluster_rows, w)
                vals.append(fn(t[r], pred[r]) if len(r) else np.nan)
            out[name].append(np.asarray(vals, float))
    return {name: np.concatenate(v) for name, v in out.items()}


def max_gap(frame: pd.DataFrame, *, skip_warned: bool = False) -> pd.DataFrame:
    """Largest difference between groups (the "overall" row excluded) and which groups.

    Works on the output of ``metric_by_group`` or ``agreement_by_group``; ``skip_warned``
    leaves out groups flagged as too small, whose extremes are often noise.
    """
    keys = [c for c in ("group_column", "code", "comparison", "statistic", "metric") if c in frame.columns]
    data = frame[(frame["group"] != OVERALL) & frame["value"].notna()]
    if skip_warned:
        data = data[data["warning"] == ""]
    rows = []
    for key, sub in data.groupby(keys, sort=False):
        hi, lo = sub.loc[sub["value"].idxmax()], sub.loc[sub["value"].idxmin()]
        gap = float(hi["value"] - lo["value"]) if len(sub) > 1 else float("nan")
        rows.append((*key, gap, hi["group"], float(hi["value"]), lo["group"], float(lo["value"]), len(sub)))
    return pd.DataFrame(rows, columns=[*keys, "gap", "group_high", "value_high", "group_low", "value_low", "n_groups"])


def _agreement_keys(coders: Sequence[str], model_coder: str | None) -> list[str]:
    """The statistics :func:`_agreement_parts` gives, in their order: human-human, then model-human."""
    return (["hh_kappa", "hh_alpha"] if len(coders) >= 2 else []) + (["mh_kappa", "mh_alpha"] if model_coder is not None else [])


def _agreement_parts(labels: Mapping[str, np.ndarray], coders: Sequence[str], model_coder: str | None,
                     rows: np.ndarray | slice = slice(None), *, only: str | None = None) -> dict[str, np.ndarray]:
    """Additive per-row statistics of ``rows``: 2x2 tables per coder pair and coincidences per code (``only``: that one)."""
    wanted = [k for k in _agreement_keys(coders, model_coder) if only is None or k == only]
    stack = np.stack([as_float(labels[c], rows) for c in coders])
    parts = {}
    if "hh_kappa" in wanted:
        parts["hh_kappa"] = np.stack([pair_tables(stack[a], stack[b]) for a, b in combinations(range(len(coders)), 2)], 1)
    if "hh_alpha" in wanted:
        parts["hh_alpha"] = unit_coincidences(stack)
    model = as_float(labels[model_coder], rows) if model_coder is not None else None
    if "mh_kappa" in wanted:
        parts["mh_kappa"] = np.stack([pair_tables(model, h) for h in stack], 1)
    if "mh_alpha" in wanted:
        swaps = []
        for i in range(len(coders)):
            swapped = stack.copy()
            swapped[i] = np.where(np.isnan(stack[i]), np.nan, model)
            swaps.append(unit_coincidences(swapped))
        parts["mh_alpha"] = np.stack(swaps, 1)
    return parts


def _agreement_values(name: str, sums: np.ndarray) -> np.ndarray:
    """(..., k + 1) per-code values and their mean over codes, from summed parts."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN means stay NaN
        if name == "hh_alpha":
            per_code = alpha_from_coincidences(sums)
        else:
            raw = kappa_from_tables(sums) if name.endswith("kappa") else alpha_from_coincidences(sums)
            per_code = np.nanmean(raw, axis=-2)
        return np.concatenate([per_code, np.nanmean(per_code, axis=-1, keepdims=True)], axis=-1)


def agreement_by_group(
    labels: Mapping[str, np.ndarray],
    codes: Sequence[str],
    coders: Sequence[str],
    groups: pd.Series | pd.DataFrame,
    *,
    model_coder: str | None = None,
    clusters: Clusters = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    min_group_size: int = 10,
) -> pd.DataFrame:
    """Human–human agreement (the ceiling) beside model–human agreement, in every group.

    Per code and over all codes: mean pairwise Cohen's kappa and nominal Krippendorff's alpha;
    for the model, kappa is averaged over the humans and alpha is the model substituted for each
    human in turn, averaged. ``coders`` are the humans. Intervals resample whole clusters.
    """
    n = len(next(iter(labels.values())))
    human_seen = np.stack([~np.isnan(float_view(labels[c])).any(axis=1) for c in coders]).sum(axis=0)
    pairable = {"hh": human_seen >= 2}
    if model_coder is not None:
        pairable["mh"] = (human_seen >= 1) & ~np.isnan(float_view(labels[model_coder])).any(axis=1)
    gframe = _group_frame(groups, n)
    code_names = [*codes, ALL_CODES]
    rows = []
    everything = np.ones(n, bool)

    for column in gframe.columns:
        g = gframe[column]
        cl = _cluster_labels(clusters, g, everything)
        for gi, (label, mask) in enumerate(_levels(g)):
            idx = np.flatnonzero(mask)
            cid, n_clusters = _cluster_ids(cl, idx)
            # one statistic at a time, so only its per-cluster sums are held (a million quotes in 333k clusters: about
            # 90 MB instead of 280 MB for all four); each restarts the group's generator, so every statistic is resampled
            # with the same draws, exactly as when they were resampled together
            for k in _agreement_keys(coders, model_coder):
                sums = bs.stream_cluster_sums(idx, cid, n_clusters,
                                              lambda some, k=k: _agreement_parts(labels, coders, model_coder, some, only=k))[k]
                rng = np.random.default_rng([seed, gi])
                boots = [_agreement_values(k, bs.resampled_sums(sums, weights))
                         for weights in (bs.weight_chunks(n_clusters, n_boot, rng, reuse=True, compact=True) if n_boot > 0 and len(idx) else [])]
                point = _agreement_values(k, bs.totals(sums))
                del sums  # let this statistic's sums go before the next one's are made (the weight buffer went with its generator)
                samples = np.concatenate(boots) if boots else np.empty((0, len(code_names)))
                low, high = bs.interval(samples, ci)
                used = pairable[k[:2]][idx]
                n_cl = len(np.unique(cid[used]))
                note = bs.small_warning(int(used.sum()), n_cl, min_group_size)
                comparison = "human-human" if k.startswith("hh") else "model-human"
                statistic = "kappa" if k.endswith("kappa") else "alpha"
                for j, code in enumerate(code_names):
                    rows.append((column, label, code, comparison, statistic, point[j], low[j], high[j], int(used.sum()), n_cl, note))
    columns = ["group_column", "group", "code", "comparison", "statistic", "value", "ci_low", "ci_high", "n_units", "n_clusters", "warning"]
    return pd.DataFrame(rows, columns=columns)
