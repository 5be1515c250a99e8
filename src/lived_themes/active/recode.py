"""Which already-coded quotes a second coder should re-code: where the first coder and the model disagree most.

The model's scores for a coded quote must come from a model that did not train on it, otherwise it
has learnt the first coder's answer and agrees by construction; ``out_of_fold_scores`` gives them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def out_of_fold_scores(make: Callable[[], Any], texts: Sequence[str], labels: np.ndarray, codes: Sequence[str], *,
                       n_splits: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(scores (n, k), thresholds (n, k)) for each quote from a coder fitted without it (k-fold)."""
    from sklearn.model_selection import KFold

    labels = np.asarray(labels, dtype=float)
    n = len(texts)
    scores = np.full(labels.shape, np.nan)
    thresholds = np.full(labels.shape, 0.5)
    if n < 2:
        return scores, thresholds
    for train, test in KFold(n_splits=min(n_splits, n), shuffle=True, random_state=seed).split(np.arange(n)):
        coder = make().fit([texts[i] for i in train], labels[train], list(codes))
        scores[test] = coder.predict_proba([texts[i] for i in test])
        thresholds[test] = coder.thresholds_[None, :]
    return scores, thresholds


def disagreement(labels: np.ndarray, scores: np.ndarray, thresholds: np.ndarray | None = None) -> np.ndarray:
    """(n,) how far the model is from the coder: codes where their decisions differ, then mean |code − score|.

    Returned as decisions-that-differ + mean absolute difference (< 1), so a quote with more
    conflicting codes always ranks first and the scores break ties by how sure the model was.
    """
    y = np.asarray(labels, dtype=float)
    s = np.asarray(scores, dtype=float)
    t = np.full(y.shape[1], 0.5) if thresholds is None else np.asarray(thresholds, dtype=float)
    t = np.broadcast_to(t, y.shape)
    differ = ((s >= t).astype(float) != y).sum(axis=1)
    return differ + np.abs(y - s).mean(axis=1) if y.shape[1] else np.zeros(len(y))


def choose_recodes(labels: np.ndarray, scores: np.ndarray, n: int, thresholds: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``n`` coded quotes with the largest disagreement, largest first (rows with NaN scores skipped)."""
    score = disagreement(labels, scores, thresholds)
    valid = ~np.isnan(score)
    order = np.argsort(-np.where(valid, score, -np.inf), kind="stable")
    return order[:min(int(n), int(valid.sum()))]
