"""Gwet's AC1/AC2 and Brennan-Prediger, with Gwet's variance, plus prevalence and bias indices.

Why beside kappa and alpha: on a rare code almost every quote is "absent" for every coder, so the
chance agreement kappa subtracts is near 1 and kappa collapses even when coders agree on nearly
everything (the kappa paradoxes, Feinstein & Cicchetti 1990). AC1 (Gwet 2008) and Brennan-Prediger
(1981) estimate chance agreement differently and do not collapse; the prevalence index (how
lopsided the code is) and the bias index (how differently coders use it) say why kappa is low
(Byrt, Bishop & Carlin 1993).

Formulas and variance follow Gwet, *Handbook of Inter-Rater Reliability* (4th ed., 2014) for any
number of raters with missing ratings, as in the R/Python ``irrCAC`` packages (which our tests
check against): from a units x categories count table r_ik,
p_a = mean over units with r_i >= 2 of sum_k r_ik (r*_ik - 1) / (r_i (r_i - 1)), r*_ik = sum_l w_kl r_il;
AC: p_e = T_w / (q (q - 1)) * sum_k pi_k (1 - pi_k), pi_k = mean over units of r_ik / r_i;
BP: p_e = T_w / q^2. Intervals: t-based with Gwet's linearised variance over units (units are
treated as independent; a cluster bootstrap is not applied here). AC2 / weighted BP use the
weights; on 0/1 codes the weights change nothing, so per code the package reports AC1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from lived_themes.evaluation.agreement import as_float, fleiss_kappa

WEIGHTS = ("identity", "linear", "quadratic")


@dataclass(frozen=True)
class Coefficient:
    """A chance-corrected agreement coefficient with its standard error and interval."""

    name: str
    value: float
    se: float
    ci_low: float
    ci_high: float
    pa: float
    pe: float
    n_units: int

    def as_dict(self) -> dict:
        return asdict(self)


def weight_matrix(categories: Sequence[float], kind: str = "identity") -> np.ndarray:
    """Agreement weights between ordered numeric categories (Gwet's identity, linear, quadratic)."""
    q = len(categories)
    if kind == "identity":
        return np.eye(q)
    if kind not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, not {kind!r}")
    c = np.asarray(categories, dtype=float)
    span = c.max() - c.min()
    if span == 0:
        return np.ones((q, q))
    diff = np.abs(c[:, None] - c[None, :]) / span
    return 1 - diff if kind == "linear" else 1 - diff**2


def count_table(ratings: np.ndarray, categories: Sequence | None = None) -> tuple[np.ndarray, list]:
    """(units x categories) counts from a (raters x units) array with NaN (or None) for missing."""
    try:  # numeric ratings (the usual 0/1 matrices): compare floats, not Python objects
        data = np.atleast_2d(np.asarray(ratings, dtype=float))
        present = ~np.isnan(data)
    except (TypeError, ValueError):
        data = np.atleast_2d(np.asarray(ratings, dtype=object))
        present = ~pd.isna(data)
    if categories is None:
        categories = sorted(set(data[present].tolist()))
    counts = np.stack([((data == c) & present).sum(axis=0) for c in categories], axis=1).astype(float)
    return counts, list(categories)


def _t_interval(value: float, se: float, n: int, ci: float) -> tuple[float, float]:
    from scipy import stats

    if n < 2 or not np.isfinite(se):
        return float("nan"), float("nan")
    half = float(stats.t.ppf(1 - (1 - ci) / 2, n - 1)) * max(se, 1e-15)
    return value - half, min(1.0, value + half)


def _agreement_parts(counts: np.ndarray, weights: np.ndarray):
    counts = counts[counts.sum(axis=1) > 0]  # units nobody rated carry nothing (irrCAC drops them too)
    r_i = counts.sum(axis=1)
    weighted = counts @ weights.T
    sum_q = (counts * (weighted - 1)).sum(axis=1)
    two = r_i >= 2
    den = np.where(two, r_i * (r_i - 1), 1.0)
    pa_i = np.where(two, sum_q / den, 0.0)
    return counts, r_i, two, pa_i


def gwet_ac(counts: np.ndarray, weights: np.ndarray | None = None, *, ci: float = 0.95) -> Coefficient:
    """Gwet's AC1 (identity weights) or AC2 (other weights) from a units x categories count table."""
    counts = np.asarray(counts, dtype=float)
    q = counts.shape[1]
    w = np.eye(q) if weights is None else np.asarray(weights, dtype=float)
    counts, r_i, two, pa_i = _agreement_parts(counts, w)
    n, n2 = len(counts), int(two.sum())
    name = "AC1" if np.allclose(w, np.eye(q)) else "AC2"
    if n2 == 0 or q < 2:
        return Coefficient(name, float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), n2)
    pa = float(pa_i[two].mean())
    pi = (counts / r_i[:, None]).mean(axis=0)
    t_w = float(w.sum())
    pe = t_w * float(np.sum(pi * (1 - pi))) / (q * (q - 1))
    value = (pa - pe) / (1 - pe)
    ac_i = (n / n2) * (pa_i - pe * two) / (1 - pe)
    pe_i = (t_w / (q * (q - 1))) * (counts @ (1 - pi)) / r_i
    ac_i_x = ac_i - 2 * (1 - value) * (pe_i - pe) / (1 - pe)
    se = float(np.sqrt(np.sum((ac_i_x - value) ** 2) / (n * (n - 1)))) if n > 1 else float("nan")
    low, high = _t_interval(value, se, n, ci)
    return Coefficient(name, float(value), se, low, high, pa, pe, n2)


def brennan_prediger(counts: np.ndarray, weights: np.ndarray | None = None, *, ci: float = 0.95) -> Coefficient:
    """Brennan-Prediger's coefficient (chance agreement T_w / q^2) from a units x categories table."""
    counts = np.asarray(counts, dtype=float)
    q = counts.shape[1]
    w = np.eye(q) if weights is None else np.asarray(weights, dtype=float)
    counts, r_i, two, pa_i = _agreement_parts(counts, w)
    n, n2 = len(counts), int(two.sum())
    if n2 == 0 or q < 2:
        return Coefficient("Brennan-Prediger", float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), n2)
    pa = float(pa_i[two].mean())
    pe = float(w.sum()) / q**2
    value = (pa - pe) / (1 - pe)
    bp_i = (n / n2) * (pa_i - pe * two) / (1 - pe)
    se = float(np.sqrt(np.sum((bp_i - value) ** 2) / (n * (n - 1)))) if n > 1 else float("nan")
    low, high = _t_interval(value, se, n, ci)
    return Coefficient("Brennan-Prediger", float(value), se, low, high, pa, pe, n2)


def prevalence_bias(stack: np.ndarray, *, min_overlap: int = 1) -> tuple[float, float]:
    """(prevalence index, bias index) of one 0/1 code over (raters x units) data with NaN.

    Prevalence index |p_1 - p_0| over all ratings (Byrt et al.'s (a - d)/n in absolute value for
    two raters): near 1 means the code is almost always absent (or present), where kappa collapses.
    Bias index: mean over rater pairs sharing at least ``min_overlap`` units of |b - c| / n on their
    shared units (Byrt et al.'s BI): how differently the raters use the code.
    """
    x = np.asarray(stack, dtype=float)
    seen = ~np.isnan(x)
    if not seen.any():
        return float("nan"), float("nan")
    p1 = float(np.nanmean(x))
    prevalence = abs(p1 - (1 - p1))
    pos = np.where(seen, np.nan_to_num(x), 0.0)
    m = seen.astype(float)
    shared = m @ m.T
    diff = np.abs(pos @ m.T - m @ pos.T)
    iu = np.triu_indices(len(x), k=1)
    ok = shared[iu] >= min_overlap
    bias = float(np.mean(diff[iu][ok] / shared[iu][ok])) if ok.any() else float("nan")
    return prevalence, bias


def group_subsets(n: int, groups: pd.DataFrame | None) -> list[tuple[str, str, np.ndarray]]:
    """(column, level, mask) for the whole set (``overall``) and each level of each column of ``groups``;
    a missing value is its own level, ``unknown``, so no quote drops out of a breakdown."""
    subsets: list[tuple[str, str, np.ndarray]] = [("overall", "overall", np.ones(n, bool))]
    if groups is not None:
        for column in groups.columns:
            values = groups[column].astype(object).where(groups[column].notna(), "unknown").astype(str).to_numpy()
            subsets += [(str(column), level, values == level) for level in sorted(set(values))]
    return subsets


def chance_corrected_table(labels: Mapping[str, np.ndarray], codes: Sequence[str], coders: Sequence[str], *,
                           groups: pd.DataFrame | None = None, ci: float = 0.95) -> pd.DataFrame:
    """Per code (and per group level when ``groups`` is given): AC1 and Brennan-Prediger with intervals,
    Fleiss' kappa for contrast, the observed agreement, prevalence and bias indices."""

    rows = []
    for column, level, mask in group_subsets(len(np.asarray(labels[coders[0]])), groups):
        for j, code in enumerate(codes):
            stack = np.vstack([as_float(labels[c], (mask, j)) for c in coders])
            counts, _ = count_table(stack, categories=[0.0, 1.0])
            ac1, bp = gwet_ac(counts, ci=ci), brennan_prediger(counts, ci=ci)
            prevalence_index, bias_index = prevalence_bias(stack)
            rated = counts.sum(axis=1)
            rows.append({
                "group_column": column, "group": level, "code": code, "n_units": ac1.n_units,
                "prevalence": float(counts[:, 1].sum() / rated.sum()) if rated.sum() else float("nan"),
                "percent_agreement": ac1.pa, "fleiss_kappa": fleiss_kappa(counts, as_counts=True).value,
                "ac1": ac1.value, "ac1_ci_low": ac1.ci_low, "ac1_ci_high": ac1.ci_high,
                "bp": bp.value, "bp_ci_low": bp.ci_low, "bp_ci_high": bp.ci_high,
                "prevalence_index": prevalence_index, "bias_index": bias_index,
            })
    return pd.DataFrame(rows)
