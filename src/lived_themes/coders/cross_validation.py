"""One cross-validation service: out-of-fold scores, and each fold's codes, for any coder on any folds.

Every loop that needs scores from a model that did not see the quote calls this: the run's outer
folds (``experiment.coding.cross_predict``), an ensemble's inner folds, a coder's inner folds for
tuning thresholds (:func:`out_of_fold`, for learners that are not whole coders), and the choice of
quotes to re-code (``active.recode``). Folds come from :mod:`lived_themes.splits`
(multilabel-stratified, or grouped by person with :func:`cv_folds` when there is a person column),
so no loop here makes its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lived_themes import splits
from lived_themes.coders.fit_cache import fit_coder, where

if TYPE_CHECKING:
    import pandas as pd

    from lived_themes.codebook import Codebook

log = logging.getLogger(__name__)


@dataclass
class CrossValScores:
    """Out-of-fold results: rows no fold tested stay NaN (scores, codes) and None (fold)."""

    scores: np.ndarray
    #: (n, k) 0/1 codes from each fold's own coder's decision (its thresholds, top_k or single-label rule); float32
    #: (0, 1 and NaN are exact), so a million quotes x 35 codes hold 140 MB, not 280
    predicted: np.ndarray
    fold: np.ndarray
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0


def out_of_fold(shape: tuple[int, int], folds: Sequence[Any], fit_score: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """(n, k) scores, each row from ``fit_score(train_positions, test_positions)`` of the fold that tests it; NaN if none does."""
    scores = np.full(shape, np.nan)
    for fold in folds:
        test = np.asarray(fold.test_idx)
        scores[test] = fit_score(np.asarray(fold.train_idx), test)
    return scores


def _rows(frame: pd.DataFrame | None, idx: np.ndarray) -> pd.DataFrame | None:
    return None if frame is None else frame.iloc[idx].reset_index(drop=True)


def cross_val_scores(make: Callable[[], Any], texts: Sequence[str], labels: np.ndarray, codes: Sequence[str], folds: Sequence[Any], *,
                     codebook: Codebook | None = None, metadata: pd.DataFrame | None = None,
                     before_fold: Callable[[int, Any], None] | None = None,
                     after_fold: Callable[[Any, Any, np.ndarray, np.ndarray], None] | None = None) -> CrossValScores:
    """Fit a fresh ``make()`` coder on each fold's training rows and score its test rows.

    ``before_fold(i, fold)`` (1-based) runs before fitting; ``after_fold(fold, coder, test, scores)``
    after scoring, for what a caller keeps from each fitted coder (evidence, notes, inner figures).
    """
    labels = np.asarray(labels, dtype=float)
    n, k = len(texts), len(codes)
    out = CrossValScores(scores=np.full((n, k), np.nan), predicted=np.full((n, k), np.nan, dtype=np.float32), fold=np.full(n, None, dtype=object))
    for i, fold in enumerate(folds, start=1):
        if before_fold is not None:
            before_fold(i, fold)
        train, test = np.asarray(fold.train_idx), np.asarray(fold.test_idx)
        started = time.perf_counter()
        with where(f"fold {getattr(fold, 'name', i)}"):  # a fit already done on these rows in this run is reused (fit_cache)
            coder = fit_coder(make(), [texts[j] for j in train], labels[train], list(codes), codebook=codebook,
                              metadata=_rows(metadata, train))
        fitted = time.perf_counter()
        scores = coder.predict_proba([texts[j] for j in test], metadata=_rows(metadata, test))
        out.predict_seconds += time.perf_counter() - fitted
        out.fit_seconds += fitted - started
        out.scores[test] = scores
        out.predicted[test] = coder.codes_from_scores(scores)
        out.fold[test] = getattr(fold, "name", str(i))
        if after_fold is not None:
            after_fold(fold, coder, test, scores)
    return out


def person_groups(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray | None:
    """One group per quote from the first person column present (a quote with no person is its own group); None without one."""
    for column in columns:
        if column in frame.columns:
            values = frame[column].astype(object).reset_index(drop=True)
            known = values.notna().to_numpy()
            return np.array([f"{column}={v}" if ok else f"row-{i}" for i, (v, ok) in enumerate(zip(values, known))], dtype=object)
    return None


def cv_folds(labels: np.ndarray, *, n_splits: int, seed: int, groups: np.ndarray | None = None) -> list[Any]:
    """Multilabel-stratified folds, or with ``groups`` stratified folds that keep each group on one side.

    As many folds as the quotes (or groups) allow, at most ``n_splits``; none when fewer than two.
    """
    labels = np.asarray(labels, dtype=float)
    if groups is None:
        n = min(int(n_splits), len(labels))
        return splits.kfold_multilabel(labels, n_splits=n, seed=seed) if n >= 2 else []
    n = min(int(n_splits), len(set(groups.tolist())))
    if n < 2:
        log.warning("every quote belongs to one person: no folds can keep people apart, so none are made")
        return []
    return splits.group_kfold(labels, groups, n_splits=n, seed=seed)
