"""Splits: seeded, stratified, and never letting one person sit on both sides."""

from __future__ import annotations

import numpy as np
import pytest

from lived_themes.splits import (
    Fold,
    group_kfold,
    kfold_multilabel,
    leave_one_group_out,
    train_test_split_by_group,
    validation_split,
)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    labels = (rng.random((90, 4)) < [0.5, 0.3, 0.12, 0.0]).astype(int)
    groups = np.array([f"p{i // 3}" for i in range(90)])  # 30 people, 3 quotes each
    return labels, groups


def _is_partition(folds: list[Fold], n: int) -> None:
    for fold in folds:
        assert not set(fold.train_idx) & set(fold.test_idx)
        assert len(fold.train_idx) + len(fold.test_idx) == n
    tested = np.concatenate([f.test_idx for f in folds])
    assert sorted(tested.tolist()) == list(range(n))


def _same(a: list[Fold], b: list[Fold]) -> bool:
    return all(np.array_equal(x.test_idx, y.test_idx) and np.array_equal(x.train_idx, y.train_idx) for x, y in zip(a, b))


def test_kfold_multilabel_partitions_is_seeded_and_stratified(data) -> None:
    labels, _ = data
    folds = kfold_multilabel(labels, n_splits=5, seed=3)
    assert [f.name for f in folds] == [f"fold{i}" for i in range(5)]
    _is_partition(folds, len(labels))
    assert _same(folds, kfold_multilabel(labels, n_splits=5, seed=3))
    assert not _same(folds, kfold_multilabel(labels, n_splits=5, seed=4))
    per_fold = np.array([labels[f.test_idx].sum(0) for f in folds])
    expected = labels.sum(0) / 5
    assert (np.abs(per_fold - expected) <= 1.0).all()  # every code's count is within one of its fair share


def test_group_kfold_keeps_each_group_on_one_side(data) -> None:
    labels, groups = data
    folds = group_kfold(labels, groups, n_splits=5, seed=1)
    _is_partition(folds, len(labels))
    for fold in folds:
        assert not set(groups[fold.train_idx]) & set(groups[fold.test_idx])
    assert _same(folds, group_kfold(labels, groups, n_splits=5, seed=1))
    assert not _same(folds, group_kfold(labels, groups, n_splits=5, seed=2))
    # every fold sees the rare code when there are enough quotes with it
    assert all(labels[f.test_idx, 2].sum() > 0 for f in folds)


def test_group_kfold_with_one_quote_per_group_still_works(data) -> None:
    labels, _ = data
    folds = group_kfold(labels, np.arange(len(labels)), n_splits=3)
    _is_partition(folds, len(labels))


def test_leave_one_group_out_names_folds_and_keeps_excluded_groups_in_training() -> None:
    groups = ["fg1", "fg1", "fg2", "survey", "fg3", "fg2", "survey", "fg3"]
    folds = leave_one_group_out(groups, include=["fg1", "fg2", "fg3"])
    assert [f.name for f in folds] == ["fg1", "fg2", "fg3"]
    for fold in folds:
        assert {groups[i] for i in fold.test_idx} == {fold.name}
        assert fold.name not in {groups[i] for i in fold.train_idx}
        assert {3, 6} <= set(fold.train_idx.tolist())  # survey quotes always train
    assert [f.name for f in leave_one_group_out(groups)] == ["fg1", "fg2", "fg3", "survey"]


def test_group_holdout_is_group_clean_seeded_and_near_size(data) -> None:
    labels, groups = data
    [fold] = train_test_split_by_group(labels, groups, test_size=0.2, seed=0)
    assert fold.name == "holdout"
    assert not set(groups[fold.train_idx]) & set(groups[fold.test_idx])
    assert len(set(groups[fold.test_idx])) == 6  # 20% of 30 people
    assert len(fold.test_idx) == 18
    assert sorted(np.concatenate([fold.train_idx, fold.test_idx]).tolist()) == list(range(len(labels)))
    again = train_test_split_by_group(labels, groups, test_size=0.2, seed=0)
    assert _same([fold], again)
    assert not _same([fold], train_test_split_by_group(labels, groups, test_size=0.2, seed=5))
    assert labels[fold.test_idx, 0].sum() > 0 and labels[fold.train_idx, 2].sum() > 0


def test_validation_split_plain_and_grouped(data) -> None:
    labels, groups = data
    train, val = validation_split(labels, size=0.2, seed=0)
    assert len(val) == 18 and not set(train) & set(val) and len(train) + len(val) == len(labels)
    train, val = validation_split(labels, groups=groups, size=0.2, seed=0)
    assert not set(groups[train]) & set(groups[val])


def test_fold_to_dict_is_plain() -> None:
    fold = Fold("a", np.array([0, 2]), np.array([1]))
    assert fold.to_dict() == {"name": "a", "train_idx": [0, 2], "test_idx": [1]}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda y, g: kfold_multilabel(y[:3], n_splits=5), "cannot make 5 folds from 3 quotes"),
        (lambda y, g: kfold_multilabel(y, n_splits=1), "at least 2"),
        (lambda y, g: group_kfold(y[:9], g[:9], n_splits=5), "cannot make 5 folds from 3 groups"),
        (lambda y, g: group_kfold(y, g[:10]), "groups has 10 entries but labels has 90 rows"),
        (lambda y, g: leave_one_group_out(["a", "a"]), "at least 2 groups, found 1"),
        (lambda y, g: leave_one_group_out(["a", "b"], include=["c"]), r"not in the data: \['c'\]"),
        (lambda y, g: train_test_split_by_group(y[:6], g[:6], test_size=0.1), "leaves 0 test groups"),
        (lambda y, g: train_test_split_by_group(y, g, test_size=1.5), "between 0 and 1"),
        (lambda y, g: group_kfold(y, [None] + list(g[1:])), "1 quotes have no group"),
        (lambda y, g: kfold_multilabel(np.where(np.arange(90)[:, None] == 0, np.nan, y)), "NaN in 1 rows"),
    ],
)
def test_impossible_splits_say_why(data, call, message) -> None:
    labels, groups = data
    with pytest.raises(ValueError, match=message):
        call(labels, groups)
