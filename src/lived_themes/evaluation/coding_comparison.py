"""Human-human agreement only (a QDA program's "coding comparison"): per code, overall and per group.

Why a table of its own: before any model is trained a team wants to know how far its coders agree,
code by code and source by source. Each row gives Cohen's kappa (mean over coder pairs), percent
agreement, Krippendorff's alpha and Gwet's AC1 (with its interval), because on rare codes kappa
collapses while AC1 does not, and the reader needs both to see why. Plain arrays in, a frame out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from lived_themes.evaluation.agreement import as_float, cohen_kappa, krippendorff_alpha
from lived_themes.evaluation.chance_corrected import count_table, group_subsets, gwet_ac
from lived_themes.evaluation.agreement import pairwise_kappa

ALL_CODES = "(mean over codes)"
COLUMNS = ["group_column", "group", "code", "n_units", "percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1",
           "ac1_ci_low", "ac1_ci_high", "note"]


def _row(stack: np.ndarray, ci: float) -> dict[str, float | int | str]:
    """The four figures for one code over one subset; ``stack`` is (coders, units) 0/1 with NaN unseen."""
    counts, _ = count_table(stack, categories=[0.0, 1.0])
    ac1 = gwet_ac(counts, ci=ci)
    kappas = [cohen_kappa(stack[a], stack[b]) for a, b in combinations(range(len(stack)), 2)]
    finite = [k for k in kappas if np.isfinite(k)]
    alpha = krippendorff_alpha(stack)
    note = alpha.note
    if not finite and ac1.n_units:
        note = note or "kappa undefined: the coders used one value only"
    return {"n_units": int(ac1.n_units), "percent_agreement": ac1.pa, "cohen_kappa": float(np.mean(finite)) if finite else float("nan"),
            "krippendorff_alpha": alpha.value, "gwet_ac1": ac1.value, "ac1_ci_low": ac1.ci_low, "ac1_ci_high": ac1.ci_high,
            "note": note}


def coding_comparison(labels: Mapping[str, np.ndarray], codes: Sequence[str], coders: Sequence[str], *,
                      groups: pd.DataFrame | None = None, ci: float = 0.95) -> pd.DataFrame:
    """One row per (subset, code): the whole set (``overall``), then each level of each column of ``groups``;
    each subset also gets a ``(mean over codes)`` row. ``labels`` maps coder -> (n, k) 0/1 with NaN rows unseen."""
    if len(coders) < 2:
        raise ValueError(f"a coding comparison needs two or more coders; got {list(coders)}")
    rows = []
    for column, level, mask in group_subsets(len(np.asarray(labels[coders[0]])), groups):
        mine = []
        for j, code in enumerate(codes):
            stack = np.vstack([as_float(labels[c], (mask, j)) for c in coders])
            mine.append({"group_column": column, "group": level, "code": str(code), **_row(stack, ci)})
        rows += mine
        if mine:
            frame = pd.DataFrame(mine)
            with np.errstate(all="ignore"):
                means = {k: float(np.nanmean(frame[k].to_numpy(float))) if frame[k].notna().any() else float("nan")
                         for k in ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1")}
            rows.append({"group_column": column, "group": level, "code": ALL_CODES, "n_units": int(frame["n_units"].max()),
                         **means, "ac1_ci_low": float("nan"), "ac1_ci_high": float("nan"), "note": "unweighted mean of the codes above"})
    return pd.DataFrame(rows, columns=COLUMNS)


def pairwise_table(labels: Mapping[str, np.ndarray], codes: Sequence[str], coders: Sequence[str]) -> pd.DataFrame:
    """Cohen's kappa and percent agreement of every coder pair on every code (long form)."""

    return pairwise_kappa(labels, codes, coders=coders)
