"""Per-code and summary classification metrics for multi-label code matrices.

The model is scored as "one more coder": ``y_true`` is one coder's (n, k) 0/1 matrix with a
NaN row where that coder did not see the quote, so such rows are dropped (and counted) rather
than read as "no code". Every division by zero yields 0.0 (scikit-learn's ``zero_division=0``);
average precision is NaN when a code has no positives or no scores are given, because a
ranking of nothing has no precision.

Macro averages run over the codes that *occur*: codes with at least one positive in the
reference or one prediction among the rows scored (a group, a bootstrap resample, a test set).
A code that occurs nowhere has nothing to get right or wrong, so scoring it 0 would make a
group where fewer codes occur look worse whatever the coder does (a perfect coder would score
below 1.0). Such codes are "absent": NaN per code, left out of the mean, and counted
(``n_codes``) so every macro figure says how many codes it averaged. Where no code occurs at
all, macro and micro figures are NaN (undefined), never 0. The macro F1 is scikit-
learn's ``f1_score(average="macro", zero_division=np.nan)``.

The named metric functions (``macro_f1`` ...) are plain ``f(y_true, y_pred) -> float`` for
fairlearn's MetricFrame, and carry ``from_counts`` so the bootstrap in ``groups`` can resample
confusion counts instead of re-scoring rows.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

CountsMetric = Callable[[np.ndarray], np.ndarray]


def _as_matrix(y: np.ndarray | pd.DataFrame) -> np.ndarray:
    arr = np.asarray(y, dtype=float)
    return arr.reshape(-1, 1) if arr.ndim == 1 else arr


def _kept(y: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Rows ``keep`` of ``y``: ``y`` itself when every row is kept (a million x 35 copy is 280 MB)."""
    return y if keep.all() else y[keep]


def complete_rows(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Boolean mask of rows that both coders saw (no NaN anywhere in the row)."""
    t, p = _as_matrix(y_true), _as_matrix(y_pred)
    return ~(np.isnan(t).any(axis=1) | np.isnan(p).any(axis=1))


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """(k, 4) counts [tp, fp, fn, tn] per code over rows both coders saw."""
    t, p = _as_matrix(y_true), _as_matrix(y_pred)
    keep = complete_rows(t, p)
    t, p = _kept(t, keep) > 0.5, _kept(p, keep) > 0.5
    tp = (t & p).sum(axis=0)
    fp = (~t & p).sum(axis=0)
    fn = (t & ~p).sum(axis=0)
    tn = (~t & ~p).sum(axis=0)
    return np.stack([tp, fp, fn, tn], axis=-1).astype(float)


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


def prf_from_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 from (..., 4) counts; 0.0 wherever undefined."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    return _div(tp, tp + fp), _div(tp, tp + fn), _div(2 * tp, 2 * tp + fp + fn)


def present_codes(counts: np.ndarray) -> np.ndarray:
    """(..., k) mask of codes that occur: a reference positive or a prediction (tp + fp + fn > 0)."""
    counts = np.asarray(counts, dtype=float)
    return (counts[..., 0] + counts[..., 1] + counts[..., 2]) > 0


def macro_mean(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Mean over the last axis of ``values`` where ``present``; NaN where no code is present."""
    n = present.sum(axis=-1)
    total = np.where(present, values, 0.0).sum(axis=-1)
    out = np.full(np.shape(n), np.nan)
    np.divide(total, n, out=out, where=n > 0)
    return out if out.ndim else float(out)


def _macro_from_counts(which: int) -> CountsMetric:
    def from_counts(counts: np.ndarray) -> np.ndarray:
        return macro_mean(prf_from_counts(counts)[which], present_codes(counts))

    return from_counts


def _average_precision(t: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    if t.sum() == 0 or np.isnan(s).any():
        return float("nan")
    return float(average_precision_score(t, s))


def per_code_scores(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    codes: Sequence[str],
    y_score: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per code: precision, recall, f1, support, n_predicted, average_precision, present.

    A code with no reference positive and no prediction is absent (``present`` False): its
    precision, recall and F1 are NaN, not 0, because there was nothing to get right.
    ``attrs["n_excluded"]`` holds how many rows were dropped because a coder did not see them.
    """
    t, p = _as_matrix(y_true), _as_matrix(y_pred)
    if t.shape != p.shape or t.shape[1] != len(codes):
        raise ValueError(f"shapes differ: y_true {t.shape}, y_pred {p.shape}, {len(codes)} codes")
    keep = complete_rows(t, p)
    counts = confusion_counts(t, p)
    present = present_codes(counts)
    precision, recall, f1 = (np.where(present, v, np.nan) for v in prf_from_counts(counts))
    ap = np.full(len(codes), np.nan)
    if y_score is not None:
        s, all_kept = _as_matrix(y_score), keep.all()  # one column at a time, rows selected only when some are dropped
        ap = np.array([_average_precision((t[:, j] if all_kept else t[:, j][keep]) > 0.5, s[:, j] if all_kept else s[:, j][keep])
                       for j in range(len(codes))])
    frame = pd.DataFrame(
        {
            "code": list(codes),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": (counts[:, 0] + counts[:, 2]).astype(int),
            "n_predicted": (counts[:, 0] + counts[:, 1]).astype(int),
            "average_precision": ap,
            "present": present,
        }
    )
    frame.attrs["n_excluded"] = int((~keep).sum())
    return frame


def summary_scores(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray | None = None,
    *,
    samples: bool = False,
) -> dict[str, float]:
    """Macro and micro precision/recall/F1, macro AP (over codes with positives), counts.

    Macro P/R/F1 average over the codes that occur (``n_codes`` of them; see the module note);
    within those, an undefined precision or recall counts 0, as in scikit-learn.
    ``samples_f1`` scores each quote; a quote with no codes on either side counts as 1.0,
    because two coders agreeing that nothing applies is agreement.
    """
    t, p = _as_matrix(y_true), _as_matrix(y_pred)
    keep = complete_rows(t, p)
    counts = confusion_counts(t, p)
    precision, recall, f1 = prf_from_counts(counts)
    present = present_codes(counts)
    micro = prf_from_counts(counts.sum(axis=0)) if present.any() else (np.nan, np.nan, np.nan)
    out: dict[str, float] = {
        "macro_precision": float(macro_mean(precision, present)),
        "macro_recall": float(macro_mean(recall, present)),
        "macro_f1": float(macro_mean(f1, present)),
        "micro_precision": float(micro[0]),
        "micro_recall": float(micro[1]),
        "micro_f1": float(micro[2]),
        "macro_average_precision": float("nan"),
        "n_rows": int(keep.sum()),
        "n_excluded": int((~keep).sum()),
        "n_codes": int(present.sum()),
    }
    if y_score is not None:
        out["macro_average_precision"] = macro_average_precision(_kept(t, keep), _kept(_as_matrix(y_score), keep))
    if samples:
        tk, pk = _kept(t, keep) > 0.5, _kept(p, keep) > 0.5
        tp = (tk & pk).sum(axis=1)
        den = tk.sum(axis=1) + pk.sum(axis=1)
        row_f1 = np.where(den > 0, 2 * tp / np.maximum(den, 1), 1.0)
        out["samples_f1"] = float(row_f1.mean()) if len(row_f1) else float("nan")
    return out


def _named(name: str, from_counts: CountsMetric) -> Callable[[np.ndarray, np.ndarray], float]:
    def metric(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(from_counts(confusion_counts(y_true, y_pred)))

    metric.__name__ = metric.__qualname__ = name
    metric.__doc__ = f"{name} over rows both coders saw; also usable from (..., k, 4) counts."
    metric.from_counts = from_counts  # type: ignore[attr-defined]
    return metric


macro_precision = _named("macro_precision", _macro_from_counts(0))
macro_recall = _named("macro_recall", _macro_from_counts(1))
macro_f1 = _named("macro_f1", _macro_from_counts(2))
def _micro_f1(counts: np.ndarray) -> np.ndarray:
    pooled = counts.sum(axis=-2)
    return np.where(present_codes(pooled), prf_from_counts(pooled)[2], np.nan)


micro_f1 = _named("micro_f1", _micro_f1)


def code_f1(index: int, name: str | None = None) -> Callable[[np.ndarray, np.ndarray], float]:
    """F1 of a single code (column ``index``), for per-code breakdowns by group; NaN where it is absent."""

    def from_counts(c: np.ndarray) -> np.ndarray:
        one = c[..., index, :]
        return np.where(present_codes(one), prf_from_counts(one)[2], np.nan)

    return _named(name or f"f1[{index}]", from_counts)


def macro_average_precision(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Mean average precision over codes that have positives; takes scores, not labels."""
    t, s = _as_matrix(y_true), _as_matrix(y_score)
    keep = ~np.isnan(t).any(axis=1)
    all_kept = keep.all()  # one column at a time, rows selected only when some are dropped
    aps = [_average_precision((t[:, j] if all_kept else t[:, j][keep]) > 0.5, s[:, j] if all_kept else s[:, j][keep])
           for j in range(t.shape[1])]
    return float("nan") if np.all(np.isnan(aps)) else float(np.nanmean(aps))


macro_average_precision.needs_score = True  # type: ignore[attr-defined]


NAMED_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "macro_f1": macro_f1,
    "micro_f1": micro_f1,
    "macro_precision": macro_precision,
    "macro_recall": macro_recall,
}
