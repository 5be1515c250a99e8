"""Inter-coder agreement: Cohen's and Fleiss' kappa, Krippendorff's alpha, percent agreement.

Missing ratings are NaN throughout (a coder who did not see a quote), never zero. Where a
statistic is undefined (one value only, no unit seen by two coders) we return NaN with a
reason, because a corpus-wide report must not stop on one rare code.
The ``*_from_counts`` helpers work on summed 2x2 tables / coincidences so the cluster
bootstrap in ``groups`` can resample counts instead of recomputing from rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Agreement:
    """An agreement value with the number of units it rests on and why it may be NaN."""

    value: float
    n_units: int
    note: str = ""

    def __float__(self) -> float:
        return float(self.value)


def as_float(m: np.ndarray, index: Any = None) -> np.ndarray:
    """``m[index]`` (or all of ``m``) as float64, indexed first: a compact (float32) label matrix is never widened whole."""
    m = np.asarray(m)
    return np.asarray(m if index is None else m[index], dtype=float)


def float_view(m: np.ndarray) -> np.ndarray:
    """``m`` itself when it is already floating point (float32 label matrices stay float32), else as float64; for NaN tests."""
    m = np.asarray(m)
    return m if m.dtype.kind == "f" else m.astype(float)


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa over positions both coders rated; NaN if chance agreement is total."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    if a.size == 0:
        return float("nan")
    cats, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    ia, ib = inv[: a.size], inv[a.size :]
    po = float(np.mean(ia == ib))
    pe = float(np.sum(np.bincount(ia, minlength=cats.size) * np.bincount(ib, minlength=cats.size))) / a.size**2
    return float("nan") if pe >= 1.0 else (po - pe) / (1.0 - pe)


def percent_agreement(a: np.ndarray, b: np.ndarray | None = None) -> float:
    """Share of agreeing coder pairs per unit, averaged over units with two or more ratings.

    Pass two 1-D vectors, or one (coders x units) array with NaN for missing.
    """
    data = np.asarray(a, dtype=float) if b is None else np.vstack([a, b]).astype(float)
    data = np.atleast_2d(data)
    m = (~np.isnan(data)).sum(axis=0)
    keep = m >= 2
    if not keep.any():
        return float("nan")
    data, m = data[:, keep], m[keep]
    agree = np.zeros(data.shape[1])
    for value in np.unique(data[~np.isnan(data)]):
        c = (data == value).sum(axis=0)
        agree += c * (c - 1)
    return float(np.mean(agree / (m * (m - 1))))


def krippendorff_alpha(reliability_data: np.ndarray, level: str = "nominal") -> Agreement:
    """Krippendorff's alpha of a numeric (coders x units) array via the ``krippendorff`` package."""
    import krippendorff

    data = np.atleast_2d(np.asarray(reliability_data, dtype=float))
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    n_units = int(pairable.sum())
    if n_units == 0:
        return Agreement(float("nan"), 0, "no unit was rated by two or more coders")
    values = np.unique(data[:, pairable][~np.isnan(data[:, pairable])])
    if values.size < 2:
        return Agreement(float("nan"), n_units, "only one value was used: alpha is undefined")
    try:
        value = float(krippendorff.alpha(data[:, pairable], level_of_measurement=level))
    except (ValueError, ZeroDivisionError) as err:
        return Agreement(float("nan"), n_units, f"undefined: {err}")
    return Agreement(value, n_units)


def fleiss_kappa(ratings: np.ndarray, *, as_counts: bool = False) -> Agreement:
    """Fleiss' kappa, allowing a varying number of raters per unit.

    ``ratings`` is (coders x units) with NaN for missing, or with ``as_counts`` a (units x
    categories) table of how many raters chose each category. Units with fewer than two
    ratings carry no agreement information and are dropped; the note says how many.
    """
    if as_counts:
        counts = np.asarray(ratings, dtype=float)
    else:
        data = np.atleast_2d(np.asarray(ratings, dtype=float))
        cats = np.unique(data[~np.isnan(data)])
        counts = np.stack([(data == c).sum(axis=0) for c in cats], axis=1).astype(float)
    n_i = counts.sum(axis=1)
    keep = n_i >= 2
    dropped = int((~keep).sum())
    note = f"dropped {dropped} unit(s) with fewer than two ratings" if dropped else ""
    counts, n_i = counts[keep], n_i[keep]
    if counts.shape[0] == 0:
        return Agreement(float("nan"), 0, (note + "; " if note else "") + "no unit left")
    p_i = ((counts**2).sum(axis=1) - n_i) / (n_i * (n_i - 1))
    p_j = counts.sum(axis=0) / n_i.sum()
    pe = float((p_j**2).sum())
    if pe >= 1.0:
        return Agreement(float("nan"), int(keep.sum()), (note + "; " if note else "") + "one category only")
    return Agreement(float((p_i.mean() - pe) / (1 - pe)), int(keep.sum()), note)


# ---- binary count forms, shared with the bootstrap in groups.py -------------------------

def pair_tables(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row 2x2 indicators [11, 10, 01, 00] for 0/1 arrays (zeros where either is NaN)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    seen = ~(np.isnan(a) | np.isnan(b))
    x, y = np.nan_to_num(a) > 0.5, np.nan_to_num(b) > 0.5
    return np.stack([x & y, x & ~y, ~x & y, ~x & ~y], axis=-1) * seen[..., None]


def kappa_from_tables(t: np.ndarray) -> np.ndarray:
    """Cohen's kappa from summed (..., 4) binary tables; NaN where undefined."""
    n = t.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        po = (t[..., 0] + t[..., 3]) / n
        pe = ((t[..., 0] + t[..., 1]) * (t[..., 0] + t[..., 2]) + (t[..., 3] + t[..., 2]) * (t[..., 3] + t[..., 1])) / n**2
        return np.where((n > 0) & (pe < 1), (po - pe) / (1 - pe), np.nan)


def unit_coincidences(stack: np.ndarray) -> np.ndarray:
    """Per-unit binary coincidences [o00, o01, o11] from (coders, units, ...) 0/1 data with NaN."""
    stack = np.asarray(stack, dtype=float)
    m = (~np.isnan(stack)).sum(axis=0).astype(float)
    n1 = np.nansum(stack, axis=0)
    n0 = m - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(m >= 2, 1.0 / (m - 1), 0.0)
    return np.stack([n0 * (n0 - 1) * w, n0 * n1 * w, n1 * (n1 - 1) * w], axis=-1)


def alpha_from_coincidences(o: np.ndarray) -> np.ndarray:
    """Nominal Krippendorff's alpha for binary data from summed (..., 3) coincidences."""
    n0, n1 = o[..., 0] + o[..., 1], o[..., 2] + o[..., 1]
    n = n0 + n1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n0 * n1 > 0, 1.0 - (n - 1) * o[..., 1] / (n0 * n1), np.nan)


# ---- tables over codes ------------------------------------------------------------------

def pairwise_kappa(
    labels: Mapping[str, np.ndarray], codes: Sequence[str], *, coders: Sequence[str] | None = None
) -> pd.DataFrame:
    """Cohen's kappa and percent agreement for every pair of coders on every code (long form)."""
    coders = list(coders) if coders is not None else list(labels)
    rows = []
    for j, code in enumerate(codes):
        for ca, cb in combinations(coders, 2):
            a, b = as_float(labels[ca], (slice(None), j)), as_float(labels[cb], (slice(None), j))
            n = int((~(np.isnan(a) | np.isnan(b))).sum())
            pa = percent_agreement(a, b)
            rows.append((code, ca, cb, cohen_kappa(a, b), pa, n))
    return pd.DataFrame(rows, columns=["code", "coder_a", "coder_b", "kappa", "percent_agreement", "n_units"])


def _stack(labels: Mapping[str, np.ndarray], coders: Sequence[str], j: int) -> np.ndarray:
    return np.vstack([as_float(labels[c], (slice(None), j)) for c in coders])


def alpha_per_code(labels: Mapping[str, np.ndarray], codes: Sequence[str], coders: Sequence[str]) -> pd.DataFrame:
    """Krippendorff's alpha (nominal) per code among the given coders."""
    rows = []
    for j, code in enumerate(codes):
        res = krippendorff_alpha(_stack(labels, coders, j))
        rows.append((code, res.value, res.n_units, res.note))
    return pd.DataFrame(rows, columns=["code", "alpha", "n_units", "note"])


def substitution_alpha(
    labels: Mapping[str, np.ndarray], codes: Sequence[str], human_coders: Sequence[str], model_coder: str
) -> pd.DataFrame:
    """Alpha among humans, and with the model substituted for each human in turn.

    The model takes the substituted human's place only on the quotes that human saw, so the
    design (who rated what) is unchanged and only the rater differs.
    """
    model = np.asarray(labels[model_coder], dtype=float)
    rows = []
    for j, code in enumerate(codes):
        humans = _stack(labels, human_coders, j)
        base = krippendorff_alpha(humans)
        for i, coder in enumerate(human_coders):
            swapped = humans.copy()
            seen = ~np.isnan(swapped[i])
            swapped[i] = np.where(seen, model[:, j], np.nan)
            res = krippendorff_alpha(swapped)
            rows.append((code, coder, base.value, res.value, res.value - base.value, res.n_units, res.note or base.note))
    columns = ["code", "substituted_coder", "alpha_humans", "alpha_with_model", "difference", "n_units", "note"]
    return pd.DataFrame(rows, columns=columns)


def coder_group_agreement(
    labels: Mapping[str, np.ndarray], codes: Sequence[str], coder_groups: Mapping[str, str]
) -> pd.DataFrame:
    """Mean pairwise kappa within and between coder groups (e.g. experts vs lay), per code.

    Within-group rows also carry Krippendorff's alpha and Fleiss' kappa among that group.
    """
    coders = list(coder_groups)
    pairs = pairwise_kappa(labels, codes, coders=coders)
    pairs["group_a"] = pairs["coder_a"].map(coder_groups)
    pairs["group_b"] = pairs["coder_b"].map(coder_groups)
    swap = pairs["group_a"] > pairs["group_b"]
    pairs.loc[swap, ["group_a", "group_b"]] = pairs.loc[swap, ["group_b", "group_a"]].to_numpy()
    rows = []
    names = sorted(set(coder_groups.values()))
    for j, code in enumerate(codes):
        sub = pairs[pairs["code"] == code]
        for ga, gb in [(g, g) for g in names] + list(combinations(names, 2)):
            sel = sub[(sub["group_a"] == ga) & (sub["group_b"] == gb)]
            alpha = fleiss = float("nan")
            if ga == gb:
                members = [c for c in coders if coder_groups[c] == ga]
                if len(members) >= 2:
                    alpha = krippendorff_alpha(_stack(labels, members, j)).value
                    fleiss = fleiss_kappa(_stack(labels, members, j)).value
            mean_kappa = float(sel["kappa"].mean()) if sel["kappa"].notna().any() else float("nan")
            kind = "within" if ga == gb else "between"
            rows.append((code, kind, ga, gb, mean_kappa, len(sel), alpha, fleiss))
    columns = ["code", "kind", "group_a", "group_b", "mean_kappa", "n_pairs", "alpha", "fleiss_kappa"]
    return pd.DataFrame(rows, columns=columns)
