"""Can the model stand in for a human coder? Leave-one-coder-out agreement with resampling.

For each human coder h, on the quotes h saw: agreement of h with the other humans, and agreement
of the model with the same others on the same quotes. If the model agrees with the others about
as well as h does, replacing h by the model changes little; the difference (model - h) says by
how much it would.

Agreement with the others (``statistic``):
- ``"mean_kappa"`` (default): Cohen's kappa between h and each other coder over the quotes both
  saw, averaged over the others who share at least ``min_overlap`` quotes with h. This is the
  package's convention (``agreement_by_group`` averages pairwise kappa the same way).
- ``"pooled_kappa"``: one 2x2 table summed over every (quote, other coder) pair, i.e. kappa
  against a random other coder of the same quote. Use it for sparse designs (CrowS-Pairs: 287
  validators, five per pair), where most pairs of coders share too few quotes for their own kappa.
We do not use Krippendorff's alpha here: alpha with h versus with the model substituted
(``agreement.substitution_alpha``) also counts the others' agreement among themselves in both
figures, which dilutes the difference this table is about.

Intervals: percentile bootstrap over clusters (quotes by default; participants or dialogues
when given), one set of resamples shared by all coders, so the mean over coders has an honest
joint interval. p-value: paired permutation test: if model and h are exchangeable coders,
swapping their labels on any set of clusters leaves the distribution unchanged.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from lived_themes.evaluation import _bootstrap as bs
from lived_themes.evaluation.agreement import as_float, float_view, kappa_from_tables, pair_tables

STATISTICS = ("mean_kappa", "pooled_kappa")
ALL_CODERS = "(all coders)"
MACRO = "(macro)"
OVERALL = "overall"
COLUMNS = [
    "group_column", "group", "others", "coder", "coder_group", "code", "statistic", "n_items", "n_others",
    "human", "model", "difference", "ci_low", "ci_high", "p_value", "non_inferior", "warning",
]


def _values(sums: np.ndarray, statistic: str, keep: np.ndarray | None) -> np.ndarray:
    """(..., k + 1): per-code agreement and its mean over codes, from summed 2x2 tables."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN means stay NaN
        kappa = kappa_from_tables(sums)
        if statistic == "mean_kappa":  # sums: (..., n_others, k, 4)
            kappa = np.where(keep[:, None], kappa, np.nan) if keep is not None else kappa
            kappa = np.nanmean(kappa, axis=-2)
        return np.concatenate([kappa, np.nanmean(kappa, axis=-1, keepdims=True)], axis=-1)


def _coder_parts(h: np.ndarray, m: np.ndarray, others: np.ndarray, local: np.ndarray, n_clusters: int, statistic: str):
    """Per-cluster summed tables of h vs others and model vs others: (c, [n_others,] k, 4) each."""
    th = np.moveaxis(pair_tables(h[None], others), 0, 1)  # (n_items, n_others, k, 4)
    tm = np.moveaxis(pair_tables(m[None], others), 0, 1)
    if statistic == "pooled_kappa":
        th, tm = th.sum(axis=1), tm.sum(axis=1)
    return bs.sum_by(local, th, n_clusters), bs.sum_by(local, tm, n_clusters)


def _p_value(observed: np.ndarray, permuted: np.ndarray) -> np.ndarray:
    """Two-sided permutation p-value per column, (1 + #as extreme) / (1 + #defined)."""
    with np.errstate(invalid="ignore"):
        extreme = (np.abs(permuted) >= np.abs(observed) - 1e-12) & ~np.isnan(permuted)
    defined = (~np.isnan(permuted)).sum(axis=0)
    p = (1.0 + extreme.sum(axis=0)) / (1.0 + defined)
    return np.where(np.isnan(observed) | (defined == 0), np.nan, p)


def _one_subset(labels, humans, model, codes, mask, cluster_ids, others_name, coder_groups, cfg, rng):
    """Rows for one quote subset and one choice of 'others', per coder and over all coders."""
    stat, n_boot, n_perm = cfg["statistic"], cfg["n_boot"], cfg["n_perm"]
    m_all = np.asarray(labels[model], float)
    seen = {c: ~np.isnan(float_view(labels[c])).any(axis=1) for c in humans}
    cid, uniq = pd.factorize(cluster_ids[mask])
    item_cluster = np.full(len(mask), -1)
    item_cluster[np.flatnonzero(mask)] = cid
    weights = np.concatenate(list(bs.weight_chunks(len(uniq), n_boot, rng))) if n_boot > 0 and len(uniq) else np.empty((0, len(uniq)))
    flips = rng.integers(0, 2, size=(n_perm, len(uniq))).astype(float)
    k1 = len(codes) + 1
    results = []
    for h in humans:
        pool = [o for o in humans if o != h and (others_name == "all" or coder_groups.get(o) == others_name)]
        rows = mask & seen[h] & ~np.isnan(m_all).any(axis=1)
        if pool:
            rows &= np.stack([seen[o] for o in pool]).any(axis=0)
        idx = np.flatnonzero(rows)
        if not pool or len(idx) == 0:
            continue
        others = np.stack([as_float(labels[o], idx) for o in pool])
        touched, local = np.unique(item_cluster[idx], return_inverse=True)
        sh, sm = _coder_parts(as_float(labels[h], idx), m_all[idx], others, local, len(touched), stat)
        th, tm = sh.sum(axis=0), sm.sum(axis=0)
        keep = None
        if stat == "mean_kappa":
            keep = th[..., 0, :].sum(axis=-1) >= cfg["min_overlap"]
            if not keep.any():
                continue
        w, f = weights[:, touched], flips[:, touched]
        swing = bs.resampled_sums(sh - sm, f) if n_perm else np.empty((0,) + th.shape)
        results.append({
            "coder": h, "items": idx, "n_clusters": len(touched),
            "n_others": int(keep.sum()) if keep is not None else len(pool),
            "point": (_values(th, stat, keep), _values(tm, stat, keep)),
            "boot": (_values(bs.resampled_sums(sh, w), stat, keep), _values(bs.resampled_sums(sm, w), stat, keep)),
            "perm": (_values(tm + swing, stat, keep), _values(th - swing, stat, keep)),  # (h', m') after swaps
        })
    if not results:  # say so rather than leave the subset out of the table
        reason = "no quote seen by two coders and the model"
        if stat == "mean_kappa":
            reason = f"no coder shares {cfg['min_overlap']}+ quotes with another here (try pooled_kappa)"
        nan = float("nan")
        return [{"others": others_name, "coder": ALL_CODERS, "coder_group": "", "code": code, "statistic": stat,
                 "n_items": int(mask.sum()), "n_others": 0, "human": nan, "model": nan, "difference": nan, "ci_low": nan,
                 "ci_high": nan, "p_value": nan, "non_inferior": False, "warning": reason} for code in [*codes, MACRO]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = lambda key, i: np.nanmean(np.stack([r[key][i] for r in results]), axis=0)  # noqa: E731
        used = np.unique(np.concatenate([r["items"] for r in results]))
        summary = {
            "coder": ALL_CODERS, "items": used, "n_clusters": len(np.unique(item_cluster[used])),
            "n_others": len(results),
            "point": (mean("point", 0), mean("point", 1)),
            "boot": (mean("boot", 0), mean("boot", 1)), "perm": (mean("perm", 0), mean("perm", 1)),
        }
    out = []
    for r in ([summary] + results) if cfg["per_coder"] else [summary]:
        h_pt, m_pt = r["point"]
        diff = m_pt - h_pt
        low, high = bs.interval(r["boot"][1] - r["boot"][0], cfg["ci"]) if len(r["boot"][0]) else (np.full(k1, np.nan),) * 2
        p = _p_value(diff, r["perm"][1] - r["perm"][0]) if n_perm else np.full(k1, np.nan)
        note = bs.small_warning(len(r["items"]), r["n_clusters"], cfg["min_group_size"])
        for j, code in enumerate([*codes, MACRO]):
            out.append({
                "others": others_name, "coder": r["coder"], "coder_group": coder_groups.get(r["coder"], ""),
                "code": code, "statistic": stat, "n_items": len(r["items"]), "n_others": r["n_others"],
                "human": h_pt[j], "model": m_pt[j], "difference": diff[j], "ci_low": low[j], "ci_high": high[j],
                "p_value": p[j], "non_inferior": bool(low[j] > -cfg["margin"]) if not np.isnan(low[j]) else False,
                "warning": note,
            })
    return out


def standin_analysis(
    labels: Mapping[str, np.ndarray],
    codes: Sequence[str],
    *,
    model: str,
    humans: Sequence[str] | None = None,
    groups: pd.Series | pd.DataFrame | None = None,
    clusters: pd.Series | np.ndarray | None = None,
    coder_groups: Mapping[str, str] | None = None,
    statistic: str = "mean_kappa",
    min_overlap: int = 10,
    n_boot: int = 1000,
    n_perm: int = 1000,
    ci: float = 0.95,
    margin: float = 0.1,
    seed: int = 0,
    min_group_size: int = 10,
    per_coder: bool = True,
) -> pd.DataFrame:
    """The stand-in table: per quote group, per choice of others, per coder and per code.

    ``labels`` maps coder -> (n_quotes, k) 0/1 matrix with NaN rows for quotes not seen; ``humans``
    defaults to every coder not named ``model:...`` or ``consensus:...``. Rows
    with ``coder == "(all coders)"`` average over coders (for the "(all coders)" row ``n_others``
    is the number of coders averaged). ``others`` is "all" or, with ``coder_groups``, one group
    (e.g. is the model as good a stand-in for an expert, judged against the laypeople?).
    ``difference`` = model - human; ``non_inferior`` = the interval's low end is above -``margin``.
    """
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, not {statistic!r}")
    if model not in labels:
        raise KeyError(f"no coder {model!r} among {sorted(labels)}")
    if humans is None:  # by default neither models nor consensus coders count as humans
        humans = [c for c in labels if not str(c).startswith(("model:", "consensus:"))]
    humans = [c for c in humans if c != model]
    if len(humans) < 2:
        raise ValueError("the stand-in analysis needs at least two human coders (this corpus has "
                         f"{len(humans)}); with one coder, compare the model with it as a reference instead")
    n = len(np.asarray(labels[model]))
    coder_groups = dict(coder_groups or {})
    # integers equal where the ids' strings are (as the group scorers take them): no string per quote
    cluster_ids = np.arange(n) if clusters is None else bs.label_codes(clusters, n, name="cluster")
    subsets: list[tuple[str, str, np.ndarray]] = [(OVERALL, OVERALL, np.ones(n, bool))]
    if groups is not None:
        frame = groups.to_frame() if isinstance(groups, pd.Series) else groups
        for column in frame.columns:
            g = bs.as_labels(frame[column].reset_index(drop=True), n, name=str(column))
            subsets += [(str(column), level, (g == level).to_numpy()) for level in sorted(g.unique())]
    others_sets = ["all"] + sorted(set(coder_groups[c] for c in humans if c in coder_groups))
    cfg = {"statistic": statistic, "n_boot": n_boot, "n_perm": n_perm, "min_overlap": min_overlap,
           "ci": ci, "margin": margin, "min_group_size": min_group_size, "per_coder": per_coder}
    rows = []
    for s_i, (column, level, mask) in enumerate(subsets):
        for o_i, others_name in enumerate(others_sets if coder_groups else ["all"]):
            rng = np.random.default_rng([seed, s_i, o_i])
            part = _one_subset(labels, humans, model, list(codes), mask, cluster_ids, others_name, coder_groups, cfg, rng)
            rows += [{"group_column": column, "group": level, **r} for r in part]
    return pd.DataFrame(rows, columns=COLUMNS)


def standin_from_corpus(corpus, model: str, *, groups: Sequence[str] = (), cluster: str | None = None,
                        coder_groups: Mapping[str, str] | None = None, **options) -> pd.DataFrame:
    """:func:`standin_analysis` on a Corpus: humans are its coders other than models and consensus.

    ``model`` is the coder name (``"model:tfidf-logreg.v1"``; the ``model:`` prefix may be left out).
    """
    name = model if model in corpus.coders else f"model:{model}"
    humans = [c for c in corpus.human_coders if not str(c).startswith("consensus:")]
    codes = corpus.codes
    labels = corpus.label_matrices([*humans, name], codes)
    frame = corpus.quotes[list(groups)] if groups else None
    clusters = corpus.quotes[cluster] if cluster else None
    return standin_analysis(labels, codes, model=name, humans=humans, groups=frame, clusters=clusters,
                            coder_groups=coder_groups, **options)
