"""Brier, ECE, reliability bins and single-label scores on hand-checked examples."""

from __future__ import annotations

import numpy as np
import pytest

from lived_themes.evaluation.calibration import (
    brier_scores,
    calibration_summary,
    expected_calibration_errors,
    reliability_table,
)
from lived_themes.evaluation.single_label import is_single_label, single_label_scores, to_classes


def test_brier_and_ece_by_hand() -> None:
    y = np.array([[1, 0], [0, 0], [1, 1], [0, 1]], dtype=float)
    s = np.array([[0.9, 0.1], [0.1, 0.1], [0.9, 0.6], [0.1, 0.6]])
    np.testing.assert_allclose(brier_scores(y, s), [0.01, (0.01 + 0.01 + 0.16 + 0.16) / 4])
    # code 0: bin 0.1 holds 2 negatives (gap 0.1), bin 0.9 holds 2 positives (gap 0.1) -> 0.1
    # code 1: bin 0.1 -> 2 negatives, gap 0.1; bin 0.6 -> 2 positives, gap 0.4 -> (0.2 + 0.8) / 4 = 0.25
    np.testing.assert_allclose(expected_calibration_errors(y, s), [0.1, 0.25])


def test_perfect_scores_and_nan_rows() -> None:
    y = np.array([[1.0], [0.0], [np.nan]])
    s = np.array([[1.0], [0.0], [0.3]])
    assert brier_scores(y, s)[0] == 0.0 and expected_calibration_errors(y, s)[0] == 0.0


def test_reliability_bins_count_every_score() -> None:
    rng = np.random.default_rng(0)
    s = rng.random((50, 3))
    y = (rng.random((50, 3)) < s).astype(float)
    table = reliability_table(y, s, n_bins=5)
    assert table["n"].sum() == 150 and len(table) == 5
    summary = calibration_summary(y, s, ["a", "b", "c"], n_bins=5)
    assert [r["code"] for r in summary["per_code"]] == ["a", "b", "c"] and summary["mean_ece"] >= 0
    with pytest.raises(ValueError, match="shape"):
        brier_scores(y, s[:, :2])


def test_single_label_scores_by_hand() -> None:
    y = np.array([[1, 0], [0, 1], [0, 0], [1, 0]], dtype=float)
    p = np.array([[1, 0], [1, 1], [0, 0], [0, 0]], dtype=float)
    out = single_label_scores(y, p)
    assert out["accuracy"] == pytest.approx(0.5)  # rows 0 and 2; row 1 gave two codes, row 3 none
    assert out["none_rate"] == pytest.approx(0.5) and out["multi_rate"] == pytest.approx(0.25)
    # class 0: tp 1, fp 1 (row 1 read as class 0 but not exact), fn 1 -> 0.5; class 1: tp 0, fn 1 -> 0; none: tp 1, fp 1 -> 2/3
    assert out["macro_f1_with_none"] == pytest.approx((0.5 + 0.0 + 2 / 3) / 3)
    np.testing.assert_array_equal(to_classes(y), [0, 1, 2, 0])
    assert is_single_label(y) and not is_single_label(p)


def test_one_code_at_a_time_equals_the_whole_matrix_formulas() -> None:
    """Calibration works a code at a time (no second copy of a million-row matrix); the figures are the whole-matrix ones."""
    rng = np.random.default_rng(0)
    y = (rng.random((3000, 6)) < 0.3).astype(float)
    s = rng.random(y.shape) * 1.2 - 0.1  # some scores outside [0, 1]: clipped
    y[5] = np.nan
    keep = ~np.isnan(y).any(axis=1)
    t, c = y[keep], np.clip(s[keep], 0, 1)
    np.testing.assert_allclose(brier_scores(y, s), ((c - t) ** 2).mean(axis=0), rtol=1e-12)
    table = reliability_table(y, s, n_bins=4)
    bins = np.minimum((c.ravel() * 4).astype(int), 3)
    assert table["n"].tolist() == np.bincount(bins, minlength=4).tolist()
    np.testing.assert_allclose(table["observed"], np.bincount(bins, weights=t.ravel(), minlength=4) / np.bincount(bins), rtol=1e-12)
    summary = calibration_summary(y, s, list("abcdef"), n_bins=4)
    np.testing.assert_allclose([r["mean_score"] for r in summary["per_code"]], c.mean(axis=0), rtol=1e-12)
