"""Per-code and summary metrics checked against scikit-learn on the same matrices."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, precision_recall_fscore_support

from lived_themes.evaluation.metrics import (
    code_f1,
    confusion_counts,
    macro_f1,
    macro_precision,
    macro_recall,
    micro_f1,
    per_code_scores,
    summary_scores,
)


@pytest.fixture()
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    y = (rng.random((200, 5)) < [0.3, 0.1, 0.5, 0.05, 0.2]).astype(float)
    score = np.clip(y * 0.4 + rng.random(y.shape) * 0.7, 0, 1)
    return y, (score > 0.5).astype(float), score


def test_per_code_matches_sklearn(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    y, p, s = data
    frame = per_code_scores(y, p, list("abcde"), y_score=s)
    prec, rec, f1, sup = precision_recall_fscore_support(y, p, average=None, zero_division=0)
    np.testing.assert_allclose(frame["precision"], prec)
    np.testing.assert_allclose(frame["recall"], rec)
    np.testing.assert_allclose(frame["f1"], f1)
    np.testing.assert_array_equal(frame["support"], sup)
    np.testing.assert_array_equal(frame["n_predicted"], p.sum(axis=0))
    np.testing.assert_allclose(frame["average_precision"], average_precision_score(y, s, average=None))
    assert frame.attrs["n_excluded"] == 0


def test_summary_matches_sklearn(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    y, p, s = data
    out = summary_scores(y, p, s, samples=True)
    for avg in ("macro", "micro"):
        prec, rec, f1, _ = precision_recall_fscore_support(y, p, average=avg, zero_division=0)
        assert out[f"{avg}_precision"] == pytest.approx(prec)
        assert out[f"{avg}_recall"] == pytest.approx(rec)
        assert out[f"{avg}_f1"] == pytest.approx(f1)
    assert out["macro_average_precision"] == pytest.approx(average_precision_score(y, s, average="macro"))
    assert out["samples_f1"] == pytest.approx(f1_score(y, p, average="samples", zero_division=1))


def test_named_metrics_match_sklearn(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    y, p, _ = data
    assert macro_f1(y, p) == pytest.approx(f1_score(y, p, average="macro", zero_division=np.nan))
    assert micro_f1(y, p) == pytest.approx(f1_score(y, p, average="micro", zero_division=0))
    assert macro_precision(y, p) == pytest.approx(precision_recall_fscore_support(y, p, average="macro", zero_division=0)[0])
    assert macro_recall(y, p) == pytest.approx(precision_recall_fscore_support(y, p, average="macro", zero_division=0)[1])
    assert code_f1(2)(y, p) == pytest.approx(f1_score(y[:, 2], p[:, 2]))
    counts = confusion_counts(y, p)
    assert macro_f1.from_counts(counts) == pytest.approx(macro_f1(y, p))


def test_nan_rows_excluded_and_counted(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    y, p, s = data
    y_nan = y.copy()
    y_nan[:7] = np.nan
    frame = per_code_scores(y_nan, p, list("abcde"), y_score=s)
    ref = per_code_scores(y[7:], p[7:], list("abcde"), y_score=s[7:])
    assert frame.attrs["n_excluded"] == 7
    np.testing.assert_allclose(frame[["precision", "recall", "f1", "average_precision"]], ref[["precision", "recall", "f1", "average_precision"]])
    out = summary_scores(y_nan, p)
    assert out["n_excluded"] == 7 and out["n_rows"] == 193
    assert macro_f1(y_nan, p) == pytest.approx(f1_score(y[7:], p[7:], average="macro", zero_division=0))


def test_zero_support_and_no_scores() -> None:
    y = np.array([[1, 0], [0, 0], [1, 0]], dtype=float)
    p = np.array([[1, 0], [0, 0], [0, 0]], dtype=float)
    frame = per_code_scores(y, p, ["x", "y"])
    assert frame["average_precision"].isna().all()
    row = frame.set_index("code").loc["y"]  # absent: no positive, no prediction -> listed, not scored 0
    assert np.isnan(row["precision"]) and np.isnan(row["recall"]) and np.isnan(row["f1"]) and row["support"] == 0
    assert not row["present"] and frame.set_index("code").loc["x", "present"]
    out = summary_scores(y, p)
    assert out["n_codes"] == 1 and out["macro_f1"] == pytest.approx(f1_score(y, p, average="macro", zero_division=np.nan))
    frame = per_code_scores(y, p, ["x", "y"], y_score=np.array([[0.9, 0.1], [0.2, 0.3], [0.4, 0.2]]))
    assert frame["average_precision"].iloc[0] == pytest.approx(1.0)
    assert np.isnan(frame["average_precision"].iloc[1])
    with pytest.raises(ValueError):
        per_code_scores(y, p, ["x"])
