"""The cluster bootstrap of ``groups`` as it was before it streamed (kept verbatim as a test reference).

It held the per-row statistics of every quote at once ((n, codes, 4) confusion counts, (n, pairs,
codes, 4) tables) and summed them per cluster with ``sum_by``. The streamed version must give the
same values and intervals for the same seed: ``test_streamed_bootstrap.py`` compares the two.
"""

from __future__ import annotations

from itertools import combinations
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from lived_themes.evaluation import _bootstrap as bs
from lived_themes.evaluation.agreement import pair_tables, unit_coincidences
from lived_themes.evaluation.groups import ALL_CODES, OVERALL, Clusters, MetricFn, _agreement_values, _as_metric_dict, _group_frame, _levels
from lived_themes.evaluation.metrics import complete_rows, present_codes


def weight_chunks(n_clusters: int, n_boot: int, rng: np.random.Generator, chunk: int = 200):
    chunk = max(1, min(chunk, bs.WEIGHT_BUDGET // max(n_clusters, 1)))
    done = 0
    while done < n_boot:
        size = min(chunk, n_boot - done)
        draws = rng.integers(0, n_clusters, size=(size, n_clusters))
        draws += (np.arange(size) * n_clusters)[:, None]
        yield np.bincount(draws.ravel(), minlength=size * n_clusters).reshape(size, n_clusters).astype(float)
        done += size


def _resampled_sums(cluster_stats: np.ndarray, weights: np.ndarray) -> np.ndarray:
    c = cluster_stats.shape[0]
    with bs._one_blas_thread():
        out = weights @ cluster_stats.reshape(c, -1)
    return out.reshape((weights.shape[0],) + cluster_stats.shape[1:])


def _cluster_labels(clusters: Clusters, group: pd.Series, keep: np.ndarray) -> np.ndarray:
    """Cluster label per kept row: each row alone, the group itself ("group"), or given ids."""
    if clusters is None:
        return np.arange(int(keep.sum())).astype(str)
    if isinstance(clusters, str):
        if clusters != "group":
            raise ValueError("clusters must be None, 'group', or one id per quote")
        return group.to_numpy()
    return bs.as_labels(clusters, len(keep), name="cluster").to_numpy()[keep]


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
    """Point estimates per group (fairlearn MetricFrame) with cluster-bootstrap intervals.

    ``metric`` takes (y_true, y_pred) matrices; one flagged ``needs_score`` gets ``y_score``
    instead. Metrics with ``from_counts`` bootstrap from resampled confusion counts (fast);
    others are re-run on resampled rows. Rows a coder did not see (NaN) are excluded, counted in
    ``attrs["n_excluded"]``. ``clusters="group"`` resamples each group column's own groups.

    Each row says how many codes occur in the group (``n_codes``: a reference positive or a
    prediction; for a ``needs_score`` metric, a reference positive) and lists the absent ones
    (``codes_absent``, by name when ``codes`` is given): macro figures average over the codes
    that occur, so a group is never marked down for codes it does not contain.
    """
    from fairlearn.metrics import MetricFrame

    t, p = np.asarray(y_true, float), np.asarray(y_pred, float)
    keep = complete_rows(t, p)
    t, p = t[keep], p[keep]
    s = None if y_score is None else np.asarray(y_score, float)[keep]
    metrics = _as_metric_dict(metric)
    scored = {k: f for k, f in metrics.items() if getattr(f, "needs_score", False)}
    if scored and s is None:
        raise ValueError(f"metrics {sorted(scored)} need y_score")
    counts = _row_counts(t, p)
    names = [str(c) for c in codes] if codes is not None else [str(j) for j in range(t.shape[1])]
    if len(names) != t.shape[1]:
        raise ValueError(f"{len(names)} code names for {t.shape[1]} columns")
    gframe = _group_frame(groups, len(keep)).loc[keep].reset_index(drop=True)
    rows = []
    for column in gframe.columns:
        g = gframe[column]
        frames = []
        for subset, pred in ((metrics.keys() - scored.keys(), p), (scored.keys(), s)):
            if subset:
                frames.append(MetricFrame(metrics={k: metrics[k] for k in subset}, y_true=t, y_pred=pred, sensitive_features=g))
        cl = _cluster_labels(clusters, g, keep)
        for gi, (label, mask) in enumerate(_levels(g)):
            idx = np.flatnonzero(mask)
            cid, uniq = pd.factorize(cl[idx])
            boot = _bootstrap_metrics(metrics, t, p, s, counts, idx, cid, len(uniq), n_boot, np.random.default_rng([seed, gi]))
            note = bs.small_warning(len(idx), len(uniq), min_group_size)
            totals = counts[idx].sum(axis=0)
            present = present_codes(totals)
            with_positives = (totals[:, 0] + totals[:, 2]) > 0
            absent = [c for c, here in zip(names, present) if not here]
            for name in metrics:
                mf = next(f for f in frames if name in f.overall.index)
                value = mf.overall[name] if label == OVERALL else mf.by_group.loc[label, name]
                low, high = bs.interval(boot[name], ci)
                n_codes = int((with_positives if name in scored else present).sum())
                rows.append((column, label, name, float(value), float(low), float(high), len(idx), len(uniq), n_codes, absent, note))
    columns = ["group_column", "group", "metric", "value", "ci_low", "ci_high", "n", "n_clusters", "n_codes", "codes_absent", "warning"]
    out = pd.DataFrame(rows, columns=columns)
    out.attrs["n_excluded"] = int((~keep).sum())
    return out


def _bootstrap_metrics(
    metrics: dict[str, MetricFn],
    t: np.ndarray,
    p: np.ndarray,
    s: np.ndarray | None,
    counts: np.ndarray,
    idx: np.ndarray,
    cid: np.ndarray,
    n_clusters: int,
    n_boot: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Resampled values per metric for one group; all metrics share the same resamples."""
    out: dict[str, list[np.ndarray]] = {name: [] for name in metrics}
    if len(idx) == 0 or n_boot <= 0:
        return {name: np.empty(0) for name in metrics}
    cluster_counts = bs.sum_by(cid, counts[idx], n_clusters)
    cluster_rows = [idx[cid == c] for c in range(n_clusters)] if any(not hasattr(f, "from_counts") for f in metrics.values()) else []
    for weights in weight_chunks(n_clusters, n_boot, rng):
        sums = _resampled_sums(cluster_counts, weights)
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


def _agreement_parts(labels: Mapping[str, np.ndarray], coders: Sequence[str], model_coder: str | None) -> dict[str, np.ndarray]:
    """Additive per-row statistics: 2x2 tables per coder pair and coincidences per code."""
    stack = np.stack([np.asarray(labels[c], float) for c in coders])
    parts = {}
    if len(coders) >= 2:
        parts["hh_kappa"] = np.stack([pair_tables(stack[a], stack[b]) for a, b in combinations(range(len(coders)), 2)], 1)
        parts["hh_alpha"] = unit_coincidences(stack)
    if model_coder is not None:
        model = np.asarray(labels[model_coder], float)
        parts["mh_kappa"] = np.stack([pair_tables(model, h) for h in stack], 1)
        swaps = []
        for i in range(len(coders)):
            swapped = stack.copy()
            swapped[i] = np.where(np.isnan(stack[i]), np.nan, model)
            swaps.append(unit_coincidences(swapped))
        parts["mh_alpha"] = np.stack(swaps, 1)
    return parts


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
    parts = _agreement_parts(labels, coders, model_coder)
    n = len(next(iter(labels.values())))
    human_seen = np.stack([~np.isnan(np.asarray(labels[c], float)).any(axis=1) for c in coders]).sum(axis=0)
    pairable = {"hh": human_seen >= 2}
    if model_coder is not None:
        pairable["mh"] = (human_seen >= 1) & ~np.isnan(np.asarray(labels[model_coder], float)).any(axis=1)
    gframe = _group_frame(groups, n)
    code_names = [*codes, ALL_CODES]
    rows = []
    everything = np.ones(n, bool)
    for column in gframe.columns:
        g = gframe[column]
        cl = _cluster_labels(clusters, g, everything)
        for gi, (label, mask) in enumerate(_levels(g)):
            idx = np.flatnonzero(mask)
            cid, uniq = pd.factorize(cl[idx])
            rng = np.random.default_rng([seed, gi])
            cluster_sums = {k: bs.sum_by(cid, v[idx], len(uniq)) for k, v in parts.items()}
            boots: dict[str, list[np.ndarray]] = {k: [] for k in parts}
            for weights in weight_chunks(len(uniq), n_boot, rng) if n_boot > 0 and len(idx) else []:
                for k, v in cluster_sums.items():
                    boots[k].append(_agreement_values(k, _resampled_sums(v, weights)))
            for k, v in cluster_sums.items():
                point = _agreement_values(k, v.sum(axis=0))
                samples = np.concatenate(boots[k]) if boots[k] else np.empty((0, len(code_names)))
                low, high = bs.interval(samples, ci)
                used = idx[pairable[k[:2]][idx]]
                n_cl = len(np.unique(cl[used]))
                note = bs.small_warning(len(used), n_cl, min_group_size)
                comparison = "human-human" if k.startswith("hh") else "model-human"
                statistic = "kappa" if k.endswith("kappa") else "alpha"
                for j, code in enumerate(code_names):
                    rows.append((column, label, code, comparison, statistic, point[j], low[j], high[j], len(used), n_cl, note))
    columns = ["group_column", "group", "code", "comparison", "statistic", "value", "ci_low", "ci_high", "n_units", "n_clusters", "warning"]
    return pd.DataFrame(rows, columns=columns)
