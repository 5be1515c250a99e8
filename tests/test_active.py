"""Active-learning strategies on tiny arrays: each picks what its paper says it should."""

from __future__ import annotations

import numpy as np
import pytest

from lived_themes.active import STRATEGIES, choose_recodes, labels_saved, labels_to_reach, select_batch, simulate, uncertainty
from lived_themes.active.strategies import closeness, greedy_coreset, vector_inconsistency


def _pool(n=40, k=3, seed=0):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 5))
    return rng.random((n, k)), np.full(k, 0.5), features / np.linalg.norm(features, axis=1, keepdims=True)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_returns_distinct_pool_rows(strategy):
    proba, t, x = _pool()
    picked = select_batch(strategy, 7, proba=proba, thresholds=t, features=x, labelled_features=x[:3],
                          labelled_y=np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0]]), seed=1)
    assert len(picked) == 7 and len(set(picked.tolist())) == 7 and picked.min() >= 0 and picked.max() < 40
    assert len(select_batch(strategy, 99, proba=proba, thresholds=t, features=x)) == 40  # never more than the pool


def test_closeness_is_one_at_the_threshold_and_zero_at_the_ends():
    c = closeness(np.array([[0.2, 0.0, 1.0, 0.6]]), np.array([0.2, 0.2, 0.2, 0.2]))
    assert c[0].tolist() == pytest.approx([1.0, 0.0, 0.0, 0.5])


def test_uncertainty_picks_scores_nearest_the_thresholds():
    proba = np.array([[0.99, 0.01], [0.5, 0.02], [0.45, 0.55], [0.9, 0.9]])
    assert uncertainty(proba, np.array([0.5, 0.5]), "max").argmax() in (1, 2)
    assert select_batch("uncertainty-mean", 1, proba=proba, thresholds=np.array([0.5, 0.5])).tolist() == [2]
    assert select_batch("uncertainty-max", 2, proba=proba, thresholds=np.array([0.5, 0.5])).tolist() in ([1, 2], [2, 1])


def test_cardinality_prefers_quotes_predicted_with_an_unusual_number_of_codes():
    proba = np.array([[0.9, 0.1, 0.1], [0.9, 0.9, 0.9], [0.1, 0.1, 0.1]])
    labelled = np.array([[1, 0, 0], [0, 1, 0]])  # one code per quote
    assert select_batch("cardinality", 1, proba=proba, thresholds=np.full(3, 0.5), labelled_y=labelled).tolist() == [1]


def test_vector_inconsistency_is_zero_for_a_vector_seen_and_one_for_its_complement():
    labelled = np.array([[1, 0, 1]])
    d = vector_inconsistency(np.array([[1, 0, 1], [0, 1, 0]]), labelled)
    assert d[0] == pytest.approx(0.0, abs=1e-6) and d[1] == pytest.approx(1.0)


def test_coreset_covers_the_far_cluster_first():
    x = np.vstack([np.zeros((10, 2)) + [0, 0], np.zeros((5, 2)) + [10, 10]]) + np.random.default_rng(0).normal(0, 0.01, (15, 2))
    assert greedy_coreset(x, x[:1], 1)[0] >= 10  # the labelled point sits in the first cluster


def test_diversity_strategies_need_features():
    proba, t, _ = _pool()
    with pytest.raises(ValueError, match="feature"):
        select_batch("kmeans", 3, proba=proba, thresholds=t)
    with pytest.raises(ValueError, match="unknown strategy"):
        select_batch("best", 3, proba=proba, thresholds=t)


def test_recodes_rank_conflicting_decisions_first():
    y = np.array([[1, 0], [1, 1], [0, 0]])
    scores = np.array([[0.9, 0.1], [0.1, 0.2], [0.4, 0.45]])
    assert choose_recodes(y, scores, 2).tolist() == [1, 2]


def test_labels_to_reach_interpolates_and_saved_compares_with_the_reference():
    ref = [{"labels": 50, "macro_f1": 0.2}, {"labels": 100, "macro_f1": 0.3}]
    fast = [{"labels": 50, "macro_f1": 0.2}, {"labels": 100, "macro_f1": 0.4}]
    assert labels_to_reach(fast, 0.3) == pytest.approx(75.0)
    assert labels_to_reach(fast, 0.5) is None
    assert labels_saved(ref, fast)[1]["saved"] == pytest.approx(25.0)


def test_simulation_grows_the_labelled_set_by_batches():
    from lived_themes.registry import make_coder

    texts = [f"{w} {i}" for i in range(60) for w in ["kind nurse", "cold food"][i % 2:i % 2 + 1]]
    y = np.array([[1, 0] if i % 2 == 0 else [0, 1] for i in range(60)], dtype=float)
    curve = simulate(lambda: make_coder("tfidf-logreg.v1", tune=False), texts, y, ["staff", "food"],
                     pool=np.arange(40), test=np.arange(40, 60), strategy="uncertainty-mean", start=6, batch=5, rounds=3)
    assert [p["labels"] for p in curve] == [6, 11, 16, 21]
    assert curve[-1]["macro_f1"] == pytest.approx(1.0)
