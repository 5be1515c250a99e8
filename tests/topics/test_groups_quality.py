"""Group shares, time bins, NPMI and diversity against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lived_themes.topics.groups import share_gap, topic_share_by_group, topics_over_time
from lived_themes.topics.quality import EPSILON, npmi_coherence, topic_diversity, unigrams, window_counts


def test_share_by_group_by_hand() -> None:
    long = topic_share_by_group([0, 0, 1, 1, 1, -1], ["a", "a", "a", "b", "b", None], name="site")
    got = {(r.site, r.topic): (r.n, r.group_size, r.share) for r in long.itertuples()}
    assert got[("a", 0)] == (2, 3, pytest.approx(2 / 3))
    assert got[("a", 1)] == (1, 3, pytest.approx(1 / 3))
    assert got[("b", 1)] == (2, 2, 1.0)
    assert got[("(missing)", -1)] == (1, 1, 1.0)
    assert long.groupby("site")["share"].sum().tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_share_gap() -> None:
    gap = share_gap(topic_share_by_group([0, 0, 1, 1], ["a", "a", "a", "b"]), min_group_size=1)
    row = gap.set_index("topic").loc[1]
    assert row["max_group"] == "b" and row["gap"] == pytest.approx(1 - 1 / 3)


def test_topics_over_time_monthly() -> None:
    long = topics_over_time([0, 1, 1, 0], ["2021-01-05", "2021-01-20", "2021-03-01", "not a date"])
    got = {(r.period, r.topic): r.share for r in long.itertuples()}
    assert got == {("2021-01", 0): 0.5, ("2021-01", 1): 0.5, ("2021-03", 1): 1.0, ("(missing)", 0): 1.0}


def test_topic_diversity_by_hand() -> None:
    assert topic_diversity([["a", "b"], ["a", "c"]]) == pytest.approx(3 / 4)
    assert topic_diversity([["a", "b", "c"], ["d", "e", "f"]], topk=2) == 1.0


def test_npmi_by_hand() -> None:
    tokens = [["a", "b"], ["a", "b"], ["c", "d"], ["c", "d"], ["a", "c"]]
    mean, per_topic = npmi_coherence([["a", "b"], ["a", "d"], ["zz", "a"]], tokens)
    # p(a)=3/5, p(b)=2/5, p(a,b)=2/5: PMI = log(5/3), NPMI = PMI / -log(2/5)
    assert per_topic[0] == pytest.approx(math.log(5 / 3) / -math.log(2 / 5), abs=1e-6)
    # never together: log(eps / (3/5 * 2/5)) / -log(eps), a little above -1 (gensim's epsilon)
    assert per_topic[1] == pytest.approx(math.log(EPSILON / (3 / 5 * 2 / 5)) / -math.log(EPSILON), abs=1e-9)
    assert np.isnan(per_topic[2])  # one known word only
    assert mean == pytest.approx((per_topic[0] + per_topic[1]) / 2)


# A corpus with short texts (one window each) and long ones (sliding windows of 3), no word repeated
# within any 3-token span, so gensim's incremental window update is exact on it.
SLIDING = [
    ["nurse", "kind", "listen", "wait", "long"],  # windows: nk l | k l w | l w lo
    ["wait", "long", "appointment"],
    ["nurse", "kind"],
    ["tablet", "side", "effect", "nurse"],  # windows: t s e | s e n
    [],  # an empty text is one empty window, as in gensim
    ["appointment", "wait"],
]
TOPICS = [["nurse", "kind", "listen"], ["wait", "long", "appointment"], ["tablet", "nurse", "wait"]]


def _npmi(p_ab: float, p_a: float, p_b: float) -> float:
    return math.log((p_ab + EPSILON) / (p_a * p_b)) / -math.log(p_ab + EPSILON)


def test_sliding_window_counts_by_hand() -> None:
    occ, co, n = window_counts(SLIDING, ["nurse", "kind", "listen", "wait", "long"], window_size=3)
    # windows: 3 + 1 + 1 + 2 + 1 + 1 = 9
    assert n == 9
    assert occ.tolist() == [3, 3, 3, 4, 2]  # nurse: w1, doc3, (s e n); wait: w2, w3, doc2, doc6; long: w3, doc2
    assert co[0, 1] == 2 and co[0, 2] == 1 and co[3, 4] == 2 and co[0, 3] == 0
    _, _, whole = window_counts(SLIDING, ["nurse"], window_size=None)
    assert whole == len(SLIDING)


def test_npmi_sliding_window_by_hand() -> None:
    _, per_topic = npmi_coherence(TOPICS[:1], SLIDING, window_size=3)
    n = 9  # p(nurse)=p(kind)=p(listen)=3/9; nurse-kind 2/9, nurse-listen 1/9, kind-listen 2/9
    want = (_npmi(2 / n, 3 / n, 3 / n) + _npmi(1 / n, 3 / n, 3 / n) + _npmi(2 / n, 3 / n, 3 / n)) / 3
    assert per_topic[0] == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("window", [3, 4, 10])
def test_npmi_matches_gensim_c_npmi(window) -> None:
    pytest.importorskip("gensim")
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    gensim = CoherenceModel(
        topics=TOPICS, texts=SLIDING, dictionary=Dictionary(SLIDING), coherence="c_npmi", window_size=window, topn=10, processes=1
    )
    mean, per_topic = npmi_coherence(TOPICS, SLIDING, window_size=window)
    assert per_topic == pytest.approx([float(v) for v in gensim.get_coherence_per_topic()], abs=5e-4)
    assert mean == pytest.approx(float(gensim.get_coherence()), abs=5e-4)


def test_npmi_exact_where_gensim_window_update_drops_a_repeat() -> None:
    """["a", "b", "a", "c"] with window 3: "a" is in both windows; gensim's update forgets it in the second."""
    tokens = [["a", "b", "a", "c"], ["c", "d"], ["b", "c"]]
    occ, co, n = window_counts(tokens, ["a", "c"], window_size=3)
    assert (n, occ.tolist(), co[0, 1]) == (4, [2, 3], 1)  # gensim counts a once and a-c never
    _, per_topic = npmi_coherence([["a", "c"]], tokens, window_size=3)
    assert per_topic[0] == pytest.approx(_npmi(1 / 4, 2 / 4, 3 / 4), abs=1e-9)


def test_npmi_rejects_tiny_window_and_splits_ngrams() -> None:
    with pytest.raises(ValueError, match="window_size"):
        npmi_coherence([["a", "b"]], [["a", "b"]], window_size=1)
    assert unigrams(["waiting time", "wait", "time", "staff"]) == ["waiting", "time", "wait", "staff"]


def test_readable_labels_join_top_words_and_the_best_codes_label() -> None:
    import pandas as pd

    from lived_themes.report.topic_outputs import readable_labels

    topics = pd.DataFrame({
        "topic": [0, 1, 2, 3, -1],
        "label": ["0: wait_hour", "1: (no vocabulary word)", "2: staff", "3: nurse_kind", "outliers"],
        "words": ["wait hour time arrive long", "", "staff kind", "nurse kind", ""],
        "code_from_codebook": ["", "", "", "staff", ""],
        "best_code": ["waiting", "praise", "staff", "staff", "waiting"],
        "best_code_count": [5, 3, 0, 4, 2],
    })
    labels = readable_labels(topics, {"waiting": "Waiting times", "praise": "Praise", "staff": "Kind staff"})
    assert labels == {0: "0: wait hour time arrive · Waiting times", 1: "1: (no vocabulary word) · Praise",
                      2: "2: staff kind", 3: "3: nurse kind · Kind staff", -1: "outliers"}  # topic 2 holds no coded quote
    assert readable_labels(topics.head(1))[0] == "0: wait hour time arrive · waiting"  # no codebook labels: the code id
