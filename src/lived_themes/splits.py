"""Seeded train/test splits for multi-label quotes: stratified, and group-aware so no person leaks.

Quotes from one participant or respondent share words, topics and style, so a model tested on
a person it trained on looks better than it is. Every function here returns a list of
:class:`Fold` (positions into the corpus), built with a fixed seed, and raises a ValueError
that names the numbers when the split cannot be made.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Fold:
    """One split: positions of the training and test quotes, and a name for reports."""

    name: str
    train_idx: np.ndarray
    test_idx: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, so a run folder can record exactly which quotes were tested."""
        return {"name": self.name, "train_idx": self.train_idx.tolist(), "test_idx": self.test_idx.tolist()}


def _labels(labels: np.ndarray | pd.DataFrame) -> np.ndarray:
    y = np.asarray(labels, dtype=float)
    if y.ndim == 1:
        y = y.reshape(-1, 1)
    if y.ndim != 2:
        raise ValueError(f"labels must be an (n_quotes, n_codes) matrix, got shape {y.shape}")
    if np.isnan(y).any():
        raise ValueError(
            f"labels contain NaN in {int(np.isnan(y).any(axis=1).sum())} rows: split only quotes the reference coder saw"
        )
    return (y > 0.5).astype(int)


def _groups(groups: Sequence[Any] | np.ndarray | pd.Series, n: int | None = None) -> np.ndarray:
    g = pd.Series(list(groups), dtype=object)
    if n is not None and len(g) != n:
        raise ValueError(f"groups has {len(g)} entries but labels has {n} rows")
    missing = int(g.isna().sum())
    if missing:
        raise ValueError(f"{missing} quotes have no group; fill them (e.g. with 'unknown') before splitting")
    return g.map(str).to_numpy()


def _stratifiable(y: np.ndarray) -> np.ndarray:
    """A one-code matrix gains its complement column: the stratifiers refuse a single column ("binary") but
    stratify on [code, not code] exactly as on the code alone, so a one-code corpus splits like any other."""
    return np.column_stack([y, 1 - y]) if y.shape[1] == 1 else y


def _check_n_splits(n_splits: int, available: int, what: str) -> None:
    if n_splits < 2:
        raise ValueError(f"n_splits must be at least 2, got {n_splits}")
    if available < n_splits:
        raise ValueError(f"cannot make {n_splits} folds from {available} {what}")


def _folds(pairs: Any, prefix: str = "fold") -> list[Fold]:
    return [Fold(f"{prefix}{i}", np.sort(tr).astype(int), np.sort(te).astype(int)) for i, (tr, te) in enumerate(pairs)]


def kfold_multilabel(labels: np.ndarray | pd.DataFrame, *, n_splits: int = 5, seed: int = 0) -> list[Fold]:
    """Quote-level folds that keep every code's prevalence close in each fold (iterative stratification)."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

    y = _labels(labels)
    _check_n_splits(n_splits, len(y), "quotes")
    splitter = MultilabelStratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return _folds(splitter.split(np.zeros(len(y)), _stratifiable(y)))


def _rarest_code(y: np.ndarray) -> np.ndarray:
    """One class per quote for stratifiers that take one: its rarest code, or 'none' (= k)."""
    prevalence = y.sum(axis=0).astype(float)
    order = np.where(y > 0, prevalence[None, :], np.inf)
    return np.where(y.any(axis=1), order.argmin(axis=1), y.shape[1])


def group_kfold(
    labels: np.ndarray | pd.DataFrame, groups: Sequence[Any] | np.ndarray | pd.Series, *, n_splits: int = 5, seed: int = 0
) -> list[Fold]:
    """Folds that keep each group (participant, respondent) wholly on one side, stratified on each quote's rarest code."""
    from sklearn.model_selection import StratifiedGroupKFold

    y = _labels(labels)
    g = _groups(groups, len(y))
    _check_n_splits(n_splits, len(np.unique(g)), "groups")
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        return _folds(splitter.split(np.zeros(len(y)), _rarest_code(y), g))


def leave_one_group_out(groups: Sequence[Any] | np.ndarray | pd.Series, *, include: Sequence[Any] | None = None) -> list[Fold]:
    """One fold per held-out group, named by it; groups not in ``include`` are always trained on."""
    g = _groups(groups)
    values = sorted(set(g.tolist()))
    if len(values) < 2:
        raise ValueError(f"leave-one-group-out needs at least 2 groups, found {len(values)}")
    held = values if include is None else [str(v) for v in include]
    unknown = sorted(set(held) - set(values))
    if unknown:
        raise ValueError(f"include names groups not in the data: {unknown}; groups present: {values}")
    if not held:
        raise ValueError("include is empty: no group to hold out")
    positions = np.arange(len(g))
    return [Fold(value, positions[g != value], positions[g == value]) for value in held]


def train_test_split_by_group(
    labels: np.ndarray | pd.DataFrame, groups: Sequence[Any] | np.ndarray | pd.Series, *, test_size: float = 0.2, seed: int = 0
) -> list[Fold]:
    """One held-out fold ("holdout") of whole groups, multilabel-stratified at group level.

    ``test_size`` is the fraction of groups held out; with groups of similar size it is also
    about the fraction of quotes. A group counts as having a code when any of its quotes has it.
    """
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be between 0 and 1, got {test_size}")
    y = _labels(labels)
    g = _groups(groups, len(y))
    values, inverse = np.unique(g, return_inverse=True)
    n_test = int(round(test_size * len(values)))
    if n_test < 1 or n_test >= len(values):
        raise ValueError(f"test_size {test_size} of {len(values)} groups leaves {n_test} test groups; need 1 to {len(values) - 1}")
    per_group = np.zeros((len(values), y.shape[1]), dtype=int)
    np.maximum.at(per_group, inverse, y)
    splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=n_test, random_state=seed)
    _, test_groups = next(splitter.split(np.zeros(len(values)), _stratifiable(per_group)))
    is_test = np.isin(inverse, test_groups)
    positions = np.arange(len(g))
    return [Fold("holdout", positions[~is_test], positions[is_test])]


def validation_split(
    labels: np.ndarray | pd.DataFrame,
    *,
    groups: Sequence[Any] | np.ndarray | pd.Series | None = None,
    size: float = 0.2,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) positions inside a training fold, for early stopping or thresholds; group-aware when groups are given."""
    if groups is not None:
        fold = train_test_split_by_group(labels, groups, test_size=size, seed=seed)[0]
        return fold.train_idx, fold.test_idx
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    y = _labels(labels)
    if not 0.0 < size < 1.0:
        raise ValueError(f"size must be between 0 and 1, got {size}")
    n_val = int(round(size * len(y)))
    if n_val < 1 or n_val >= len(y):
        raise ValueError(f"size {size} of {len(y)} quotes leaves {n_val} validation quotes; need 1 to {len(y) - 1}")
    splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
    train, val = next(splitter.split(np.zeros(len(y)), _stratifiable(y)))
    return np.sort(train), np.sort(val)
