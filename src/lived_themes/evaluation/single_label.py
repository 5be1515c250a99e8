"""Single-label coding (each quote one code or none), scored as one classification over codes + "none".

Multi-label metrics treat every code as its own yes/no; a single-label corpus is better judged as
one choice among k codes and "none": accuracy and macro-F1 over those k + 1 classes, Cohen's kappa and
percent agreement with the reference over the same classes (a prediction with several codes is its own
class, "several", and never agrees), and the confusion matrix that shows which codes are mistaken for which.
"""

from __future__ import annotations

import numpy as np
from lived_themes.evaluation.agreement import cohen_kappa


def is_single_label(labels: np.ndarray) -> bool:
    """True when every (complete) row has at most one code."""
    y = np.asarray(labels, dtype=float)
    rows = y[~np.isnan(y).any(axis=1)] if y.ndim == 2 else y
    return bool(len(rows)) and bool(((rows > 0.5).sum(axis=1) <= 1).all())


def to_classes(matrix: np.ndarray) -> np.ndarray:
    """Class per row: the index of its code, or k for none; a row with several codes takes first code."""
    y = np.asarray(matrix, dtype=float) > 0.5
    return np.where(y.any(axis=1), y.argmax(axis=1), y.shape[1])


NONE, SEVERAL = "(none)", "(several)"


def confusion(y_true: np.ndarray, y_pred: np.ndarray, codes: list[str] | None = None) -> dict[str, object]:
    """Reference class (rows: codes, then none) x predicted class (columns: codes, none, several), as counts.

    Rows where either side is unseen (NaN) are left out; ``n`` says how many were counted."""
    t, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    keep = ~(np.isnan(t).any(axis=1) | np.isnan(p).any(axis=1))
    t, p = t[keep], p[keep]
    k = t.shape[1]
    names = list(codes) if codes is not None else [str(j) for j in range(k)]
    ct, cp = _classes_with_several(t, p)
    matrix = np.zeros((k + 1, k + 2), dtype=int)
    np.add.at(matrix, (ct, cp), 1)
    return {"reference": [*names, NONE], "predicted": [*names, NONE, SEVERAL], "matrix": matrix.tolist(), "n": int(len(t))}


def _classes_with_several(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference classes, and predicted classes with k + 1 for a prediction of several codes."""
    several = (p > 0.5).sum(axis=1) > 1
    return to_classes(t), np.where(several, t.shape[1] + 1, to_classes(p))


def single_label_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1 over k codes + none, Cohen's kappa and percent agreement over the same classes,
    and how often the prediction had none / more than one code."""

    t, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    keep = ~(np.isnan(t).any(axis=1) | np.isnan(p).any(axis=1))
    t, p = t[keep], p[keep]
    k = t.shape[1]
    if not len(t):
        return {"accuracy": float("nan"), "macro_f1_with_none": float("nan"), "kappa": float("nan"),
                "percent_agreement": float("nan"), "none_rate": float("nan"), "multi_rate": float("nan"), "n": 0}
    ct, cp = to_classes(t), to_classes(p)
    exact = (p > 0.5).sum(axis=1) <= 1  # a multi-code prediction is never right in single-label terms
    f1s = []
    for c in range(k + 1):
        tp = int(((ct == c) & (cp == c) & exact).sum())
        fp = int(((cp == c) & ~((ct == c) & exact)).sum())
        fn = int(((ct == c) & ~((cp == c) & exact)).sum())
        f1s.append(2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0)
    ref, pred = _classes_with_several(t, p)
    return {
        "accuracy": float(((ct == cp) & exact).mean()),
        "macro_f1_with_none": float(np.mean(f1s)),
        "kappa": cohen_kappa(ref.astype(float), pred.astype(float)),
        "percent_agreement": float(np.mean(ref == pred)),
        "n": int(len(t)),
        "none_rate": float(((p > 0.5).sum(axis=1) == 0).mean()),
        "multi_rate": float(((p > 0.5).sum(axis=1) > 1).mean()),
    }
