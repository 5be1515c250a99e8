"""Soft labels: shares stay soft; each metric checked against a hand computation."""

import numpy as np
import pandas as pd
import pytest

from lived_themes.evaluation.soft_labels import (
    brier,
    cross_entropy,
    expected_agreement,
    jensen_shannon,
    rater_agreement,
    share_columns,
    soft_fleiss_kappa,
    soft_matrix,
    soft_scores,
    soft_standin,
    threshold_shares,
)
from lived_themes.evaluation.agreement import fleiss_kappa

SHARES = np.array([[0.8, 0.2], [0.4, 0.6], [0.0, 1.0]])
PROBS = np.array([[0.6, 0.4], [0.5, 0.5], [0.1, 0.9]])


def test_shares_read_from_quote_columns_and_thresholded_only_when_asked() -> None:
    quotes = pd.DataFrame({"quote_id": ["a", "b", "c"], "text": ["x"] * 3, "share:x": SHARES[:, 0], "share:y": SHARES[:, 1]})
    assert share_columns(quotes) == ["x", "y"]
    np.testing.assert_array_equal(soft_matrix(quotes), SHARES)
    with pytest.raises(KeyError, match="share"):
        soft_matrix(quotes, ["z"])
    np.testing.assert_array_equal(threshold_shares(SHARES), [[1, 0], [0, 1], [0, 1]])
    np.testing.assert_array_equal(threshold_shares([[0.5]], strict=True), [[0]])


def test_losses_by_hand() -> None:
    np.testing.assert_allclose(brier(SHARES, PROBS), [np.mean([0.04, 0.01, 0.01])] * 2)
    ce0 = -np.mean([0.8 * np.log(0.6) + 0.2 * np.log(0.4), 0.4 * np.log(0.5) + 0.6 * np.log(0.5), np.log(0.9)])
    assert cross_entropy(SHARES, PROBS)[0] == pytest.approx(ce0)
    assert jensen_shannon(SHARES, SHARES).tolist() == [0.0, 0.0]
    assert jensen_shannon(np.array([[1.0]]), np.array([[0.0]]))[0] == pytest.approx(1.0)  # disjoint: 1 bit
    assert 0 < float(jensen_shannon(SHARES, PROBS, multiclass=True)) < 1


def test_agreement_from_shares() -> None:
    # 5 raters, 4 chose the code: pairs that agree = (4*3 + 1*0) / (5*4) = 0.6
    assert rater_agreement(np.array([[0.8]]), 5)[0, 0] == pytest.approx(0.6)
    assert rater_agreement(np.array([[0.8]]))[0, 0] == pytest.approx(0.68)  # with replacement
    assert expected_agreement(np.array([[0.8]]), np.array([[0.5]]))[0, 0] == pytest.approx(0.5)
    counts = np.array([[4, 1], [2, 3], [0, 5]])  # 5 raters, 2 categories
    assert soft_fleiss_kappa(counts / 5, 5) == pytest.approx(fleiss_kappa(counts, as_counts=True).value)


def test_soft_standin_separates_a_rater_like_model_from_noise() -> None:
    rng = np.random.default_rng(0)
    truth = rng.random((800, 3))
    n = 7
    votes = rng.binomial(n, truth[:, :, None].repeat(2, axis=2)).astype(float) / n  # two independent panels
    shares, peer = votes[..., 0], votes[..., 1]  # the model is another panel's shares
    good = soft_standin(shares, peer, ["a", "b", "c"], n_raters=n, n_boot=200).set_index("code")
    noise = soft_standin(shares, rng.random((800, 3)), ["a", "b", "c"], n_raters=n, n_boot=200).set_index("code")
    assert good.loc["(macro)", "model"] > good.loc["(macro)", "raters"] - 0.05
    assert noise.loc["(macro)", "ci_high"] < -0.2
    table = soft_scores(shares, peer, ["a", "b", "c"], n_raters=n)
    assert list(table.columns[:5]) == ["code", "brier", "cross_entropy", "jensen_shannon", "interval_alpha"]
    assert (table["interval_alpha"] > 0.3).all()
