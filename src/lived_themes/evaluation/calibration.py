"""Are scores worth reading as confidence? Brier score, expected calibration error, reliability bins.

A score of 0.8 should mean "this code applies about 8 times in 10". These plain functions measure
how far a coder's scores are from that, per code, on out-of-fold scores. Rows with a NaN anywhere
(a quote the reference coder or the model did not see) are left out, as in the other metrics.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

DEFAULT_BINS = 10


def _columns(y_true: np.ndarray, y_score: np.ndarray) -> tuple[int, int, Iterator[tuple[np.ndarray, np.ndarray]]]:
    """(rows kept, codes, one code at a time: 0/1 truth and scores clipped to [0, 1]) over rows with no NaN.

    One code at a time, so a million quotes never hold a second (n, codes) copy of either matrix.
    """
    t = np.asarray(y_true, dtype=float)
    s = np.asarray(y_score, dtype=float)
    t, s = (t.reshape(-1, 1), s.reshape(-1, 1)) if t.ndim == 1 else (t, s)
    if t.shape != s.shape:
        raise ValueError(f"y_true {t.shape} and y_score {s.shape} differ in shape")
    keep = ~(np.isnan(t).any(axis=1) | np.isnan(s).any(axis=1))
    rows = slice(None) if keep.all() else keep

    def columns() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for j in range(t.shape[1]):
            yield (t[rows, j] > 0.5).astype(float), np.clip(s[rows, j], 0.0, 1.0)

    return int(keep.sum()), t.shape[1], columns()


def _per_code(y_true: np.ndarray, y_score: np.ndarray, stat) -> np.ndarray:
    n, k, columns = _columns(y_true, y_score)
    return np.full(k, np.nan) if not n else np.array([stat(t, s) for t, s in columns])


def brier_scores(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """Mean squared gap between score and 0/1 truth, one value per code (0 is perfect; NaN with no rows)."""
    return _per_code(y_true, y_score, lambda t, s: ((s - t) ** 2).mean())


def _bin_index(scores: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width bins on [0, 1]; a score of exactly 1 falls in the last bin."""
    return np.minimum((scores * n_bins).astype(int), n_bins - 1)


def expected_calibration_errors(y_true: np.ndarray, y_score: np.ndarray, *, n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """Per code: the bin-size-weighted mean |share positive - mean score| over equal-width score bins."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")

    def ece(t: np.ndarray, s: np.ndarray) -> float:
        bins = _bin_index(s, n_bins)
        gap = np.abs(np.bincount(bins, weights=t, minlength=n_bins) - np.bincount(bins, weights=s, minlength=n_bins))
        return gap.sum() / len(t)

    return _per_code(y_true, y_score, ece)


def calibration_per_code(y_true: np.ndarray, y_score: np.ndarray, codes: Sequence[str], *, n_bins: int = DEFAULT_BINS) -> pd.DataFrame:
    """One row per code: brier, ece, mean score and prevalence (a gap between those two is bias)."""
    n, k, columns = _columns(y_true, y_score)
    if k != len(codes):
        raise ValueError(f"{k} score columns for {len(codes)} codes")
    return pd.DataFrame({
        "code": list(codes),
        "brier": brier_scores(y_true, y_score),
        "ece": expected_calibration_errors(y_true, y_score, n_bins=n_bins),
        "mean_score": np.array([s.mean() for _, s in columns]) if n else np.nan,
        "prevalence": np.array([t.mean() for t, _ in _columns(y_true, y_score)[2]]) if n else np.nan,
    })


def reliability_table(y_true: np.ndarray, y_score: np.ndarray, *, n_bins: int = DEFAULT_BINS) -> pd.DataFrame:
    """Scores of all codes pooled into equal-width bins: mean score vs share positive, for a reliability diagram."""
    count, score_sum, positive = np.zeros(n_bins, int), np.zeros(n_bins), np.zeros(n_bins)
    for t, s in _columns(y_true, y_score)[2]:
        bins = _bin_index(s, n_bins)
        count += np.bincount(bins, minlength=n_bins)
        score_sum += np.bincount(bins, weights=s, minlength=n_bins)
        positive += np.bincount(bins, weights=t, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_score = score_sum / count
        observed = positive / count
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return pd.DataFrame({"bin_low": edges[:-1], "bin_high": edges[1:], "n": count.astype(int),
                         "mean_score": mean_score, "observed": observed})


def calibration_summary(y_true: np.ndarray, y_score: np.ndarray, codes: Sequence[str], *, n_bins: int = DEFAULT_BINS) -> dict:
    """JSON-ready: per-code rows, their means, and the pooled reliability bins."""
    per_code = calibration_per_code(y_true, y_score, codes, n_bins=n_bins)
    rel = reliability_table(y_true, y_score, n_bins=n_bins)

    def records(frame: pd.DataFrame) -> list[dict]:
        return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")

    return {
        "n_bins": n_bins,
        "mean_brier": float(np.nanmean(per_code["brier"])) if per_code["brier"].notna().any() else None,
        "mean_ece": float(np.nanmean(per_code["ece"])) if per_code["ece"].notna().any() else None,
        "per_code": records(per_code),
        "reliability": records(rel),
    }
