"""Group shares, time bins, NPMI and diversity against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lived_themes.topics.groups import share_gap, topic_share_by_group, topics_over_time
from lived_themes.topics.quality import npmi_coherence, topic_diversity


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
    assert per_topic[1] < -0.9  # never together
    assert np.isnan(per_topic[2])  # one known word only
    assert mean == pytest.approx((per_topic[0] + per_topic[1]) / 2)
