"""Which already-coded quotes a second coder should re-code: where the first coder and the model disagree most.

The model's scores for a coded quote must come from a model that did not train on it, otherwise it
has learnt the first coder's answer and agrees by construction; ``out_of_fold_scores`` gives them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lived_themes.coders.cross_validation import cross_val_scores, cv_folds
from lived_themes.coders.decision import Decision


def out_of_fold_scores(make: Callable[[], Any], texts: Sequence[str], labels: np.ndarray, codes: Sequence[str], *,
                       n_splits: int = 5, seed: int = 0, groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(scores (n, k), codes (n, k)) for each quote from a coder fitted without it; NaN where no fold could test it.

    Folds are multilabel-stratified, and with ``groups`` (one person per quote) keep each person's
    quotes on one side, so the model never learnt the first coder's answer from the same person's
    other quotes. The codes are each fold's coder's own decision (thresholds, top_k, single-label).
    """
    labels = np.asarray(labels, dtype=float)
    folds = cv_folds(labels, n_splits=n_splits, seed=seed, groups=groups)
    result = cross_val_scores(make, texts, labels, codes, folds)
    return result.scores, result.predicted


def disagreement(labels: np.ndarray, scores: np.ndarray, predicted: np.ndarray | None = None) -> np.ndarray:
    """(n,) how far the model is from the coder: codes where their decisions differ, then mean |code − score|.

    ``predicted`` is the model's (n, k) 0/1 codes (its decision on ``scores``); without it, scores at
    0.5. Returned as decisions-that-differ + mean absolute difference (< 1), so a quote with more
    conflicting codes always ranks first and the scores break ties by how sure the model was.
    """
    y = np.asarray(labels, dtype=float)
    s = np.asarray(scores, dtype=float)
    if predicted is None:
        predicted = Decision(np.full(y.shape[1], 0.5)).codes_from_scores(s)
    given = np.where(np.isnan(s), np.nan, np.asarray(predicted, dtype=float))
    differ = (given != y).sum(axis=1)
    return differ + np.abs(y - s).mean(axis=1) if y.shape[1] else np.zeros(len(y))


def choose_recodes(labels: np.ndarray, scores: np.ndarray, n: int, predicted: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``n`` coded quotes with the largest disagreement, largest first (rows with NaN scores skipped)."""
    score = disagreement(labels, scores, predicted)
    valid = ~np.isnan(score)
    order = np.argsort(-np.where(valid, score, -np.inf), kind="stable")
    return order[:min(int(n), int(valid.sum()))]
