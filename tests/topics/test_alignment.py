"""Alignment metrics against values worked out by hand from the contingency table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lived_themes.topics.alignment import alignment_scores, best_codes, code_coverage, contingency_table, topic_code_rates
from lived_themes.topics.base import primary_codes

CODES = ["A", "B"]
# q0: A, q1: A, q2: B, q3: B, q4: A+B, q5: no code
LABELS = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 1], [0, 0]], dtype=float)
TOPICS = np.array([0, 0, 0, 1, 1, 2])


def test_primary_codes_first_in_codebook_order_none_and_unseen() -> None:
    labels = np.vstack([LABELS, [np.nan, np.nan]])
    assert primary_codes(labels).tolist() == [0, 0, 1, 1, 0, -1, -2]


def test_contingency_expand_counts_each_code_of_a_quote() -> None:
    table = contingency_table(TOPICS, LABELS, CODES)
    assert table.to_numpy().tolist() == [[2, 1, 0], [1, 2, 0], [0, 0, 1]]
    assert list(table.columns) == ["A", "B", "(none)"]


def test_contingency_first_counts_each_quote_once() -> None:
    table = contingency_table(TOPICS, LABELS, CODES, multilabel="first")
    assert table.to_numpy().tolist() == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]


def test_scores_expand_by_hand() -> None:
    scores = alignment_scores(TOPICS, LABELS, CODES)
    assert scores["purity"] == pytest.approx(5 / 7)
    # pairs within cells: C(2,2) + C(2,2) = 2; rows 3,3,1 and columns 3,3,1 give 6 each; C(7,2) = 21
    expected = 6 * 6 / 21
    assert scores["ari"] == pytest.approx((2 - expected) / (6 - expected))  # = 1/15
    assert scores["n_pairs"] == 7 and scores["n_quotes"] == 6 and scores["n_topics"] == 3


def test_scores_first_by_hand() -> None:
    scores = alignment_scores(TOPICS, LABELS, CODES, multilabel="first")
    assert scores["purity"] == pytest.approx(4 / 6)
    assert scores["ari"] == pytest.approx(-1 / 44)
    entropy = -(1 / 2 * math.log(1 / 2) + 1 / 3 * math.log(1 / 3) + 1 / 6 * math.log(1 / 6))  # same for topics and codes
    mutual = 1 / 3 * math.log(4 / 3) + 1 / 6 * math.log(3 / 2) + 1 / 6 * math.log(6)
    assert scores["nmi"] == pytest.approx(mutual / entropy)


def test_perfect_and_unseen_and_outliers() -> None:
    labels = np.array([[1, 0], [1, 0], [0, 1], [np.nan, np.nan], [0, 1]])
    topics = np.array([3, 3, 5, 5, -1])
    kept = alignment_scores(topics, labels, CODES)
    assert kept["n_quotes"] == 4 and kept["n_pairs"] == 4  # the unseen quote is left out
    dropped = alignment_scores(topics, labels, CODES, drop_outliers=True)
    assert dropped["nmi"] == pytest.approx(1.0) and dropped["ari"] == pytest.approx(1.0) and dropped["purity"] == 1.0
    assert kept["ari"] < 1.0
    assert kept["outlier_share"] == pytest.approx(1 / 5)


def test_topic_code_rates_shrink_toward_base_rate() -> None:
    ids, rates, base = topic_code_rates([0, 0, 1, 1], np.array([[1, 0], [0, 0], [1, 1], [np.nan, np.nan]]), smoothing=1.0)
    assert ids == [0, 1]
    assert base.tolist() == pytest.approx([2 / 3, 1 / 3])
    assert rates[0].tolist() == pytest.approx([(1 + 2 / 3) / 3, (1 / 3) / 3])
    assert rates[1].tolist() == pytest.approx([(1 + 2 / 3) / 2, (1 + 1 / 3) / 2])


def test_best_codes() -> None:
    best = best_codes(contingency_table(TOPICS, LABELS, CODES))
    assert best["best_code"].tolist() == ["A", "B", "(none)"]
    assert best["share"].tolist() == pytest.approx([2 / 3, 2 / 3, 1.0])
    # A has 3 pairs, 2 in topic 0; B has 3, 2 in topic 1; (none) has 1, all in topic 2
    assert best["share_of_code"].tolist() == pytest.approx([2 / 3, 2 / 3, 1.0])
    # lift = share of topic / share of all 7 pairs: (2/3) / (3/7), (2/3) / (3/7), 1 / (1/7)
    assert best["lift"].tolist() == pytest.approx([14 / 9, 14 / 9, 7.0])


def test_code_coverage_carried_and_uncaptured_by_hand() -> None:
    import pandas as pd

    # topic 0: mostly A; topic 1: A and B; topic 2: C only in a small share; -1 outliers hold all of D
    table = pd.DataFrame(
        [[8, 1, 0, 0, 1], [4, 4, 0, 0, 0], [0, 6, 1, 0, 3], [0, 0, 0, 5, 0]],
        index=pd.Index([0, 1, 2, -1], name="topic"),
        columns=["A", "B", "C", "D", "(none)"],
    )
    table["E"] = 0
    cov = code_coverage(table).set_index("code")
    # A: best code of 0 and 1; B: best of 2 (6/10), and in 1 with lift (4/8)/(11/33) = 1.5 < 2: not carried there
    assert cov.loc["A", "carried_by"] == "0 1" and cov.loc["A", "share_carried"] == pytest.approx(1.0)
    assert cov.loc["B", "carried_by"] == "2" and cov.loc["B", "share_carried"] == pytest.approx(6 / 11)
    # C: 1 of 1 pairs in topic 2, lift (1/10)/(1/33) = 3.3 >= 2 and share 100% >= 10%: carried
    assert cov.loc["C", "carried_by"] == "2"
    # D lives only in the outliers, E has no quote: neither is captured; uncaptured codes come first
    assert not cov.loc["D", "captured"] and cov.loc["D", "pairs"] == 5
    assert not cov.loc["E", "captured"] and cov.loc["E", "pairs"] == 0
    assert cov.index[:2].tolist() == ["D", "E"] and "(none)" not in cov.index
    strict = code_coverage(table, min_lift=4.0).set_index("code")
    assert not strict.loc["C", "captured"]


def test_rejects_unknown_rule_and_length_mismatch() -> None:
    with pytest.raises(ValueError, match="multilabel"):
        alignment_scores(TOPICS, LABELS, CODES, multilabel="all")
    with pytest.raises(ValueError, match="topic ids"):
        contingency_table(TOPICS[:3], LABELS, CODES)
