"""Single-label decisions for any coder: the top-scoring code, or none when even that score is low.

In single-label corpora (each quote carries one code or none) treating each code as an independent
yes/no leaves many quotes with no code and some with several. Here one threshold, the
"none-threshold", is tuned on held-out scores to maximise macro-F1 over the k codes + none.
"""

from __future__ import annotations

import numpy as np
from lived_themes.evaluation.single_label import single_label_scores

LABEL_MODES = ("multi", "single")


def argmax_or_none(scores: np.ndarray, none_threshold: float) -> np.ndarray:
    """(n, k) 0/1 with at most one 1 per row: the highest score if it reaches ``none_threshold``."""
    scores = np.asarray(scores, dtype=float)
    out = np.zeros(scores.shape, dtype=int)
    if scores.size == 0:
        return out
    top = scores.argmax(axis=1)
    hit = scores[np.arange(len(scores)), top] >= none_threshold
    out[np.flatnonzero(hit), top[hit]] = 1
    return out


def tune_none_threshold(y_true: np.ndarray, scores: np.ndarray, *, grid: np.ndarray | None = None, default: float = 0.5) -> float:
    """The none-threshold that maximises macro-F1 over codes + none on held-out scores (ties: the lowest)."""

    y = np.asarray(y_true, dtype=float)
    s = np.asarray(scores, dtype=float)
    if not len(y) or y.shape != s.shape:
        return default
    grid = np.unique(np.concatenate([np.linspace(0.0, 1.0, 41), np.quantile(s.max(axis=1), np.linspace(0, 1, 21))])) if grid is None else grid
    best, best_f1 = default, -1.0
    for t in grid:
        f1 = single_label_scores(y, argmax_or_none(s, float(t)))["macro_f1_with_none"]
        if f1 > best_f1 + 1e-12:
            best, best_f1 = float(t), f1
    return best
