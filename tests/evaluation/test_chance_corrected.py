"""AC1/AC2 and Brennan-Prediger against irrCAC's built-in rater tables; prevalence and bias indices."""

from __future__ import annotations

import numpy as np
import pytest

from lived_themes.evaluation.agreement import cohen_kappa
from lived_themes.evaluation.chance_corrected import (
    brennan_prediger,
    chance_corrected_table,
    count_table,
    gwet_ac,
    prevalence_bias,
    weight_matrix,
)

TABLES = ["raw_4raters", "raw_5observers", "raw_ben_gerry", "raw_g1g2", "raw_gender"]


def test_published_value_without_irrcac():
    # Gwet (2014), 4 raters x 12 units, 5 categories: AC1 = 0.77544, pa = 0.81818, pe = 0.19032 (irrCAC docs)
    nan = np.nan
    data = np.array([
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ])
    ac1 = gwet_ac(count_table(data)[0])
    assert (round(ac1.value, 5), round(ac1.pa, 5), round(ac1.pe, 5)) == (0.77544, 0.81818, 0.19032)
    assert round(ac1.ci_low, 5) == 0.46081 and ac1.ci_high == 1.0


@pytest.mark.parametrize("name", TABLES)
def test_ac1_and_bp_match_irrcac(name):
    pytest.importorskip("irrCAC", reason="irrcac is not installed (pip install --no-deps irrcac)")
    from irrCAC import datasets
    from irrCAC.raw import CAC

    frame = getattr(datasets, name)()
    values = frame.to_numpy(dtype=object).T
    counts, categories = count_table(values)
    # categories passed explicitly: under pandas 3 irrCAC's own category scan counts NaN as a category
    ref = CAC(frame, categories=categories)
    ours = gwet_ac(counts)
    assert round(ours.value, 3) == round(float(ref.gwet()["est"]["coefficient_value"]), 3)
    assert round(ours.ci_low, 3) == round(float(ref.gwet()["est"]["confidence_interval"][0]), 3)
    assert round(brennan_prediger(counts).value, 3) == round(float(ref.bp()["est"]["coefficient_value"]), 3)
    if "Group" in (frame.index.names or []):  # the grouped tables: the same per group
        for group in frame.index.get_level_values("Group").unique():
            part = frame.xs(group, level="Group")
            sub = count_table(part.to_numpy(dtype=object).T, categories)[0]
            expected = CAC(part, categories=categories).gwet()["est"]["coefficient_value"]
            assert round(gwet_ac(sub).value, 3) == round(float(expected), 3), group


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
@pytest.mark.parametrize("name", ["raw_4raters", "raw_5observers"])
def test_ac2_with_weights_matches_irrcac(name, weights):
    pytest.importorskip("irrCAC", reason="irrcac is not installed (pip install --no-deps irrcac)")
    from irrCAC import datasets
    from irrCAC.raw import CAC

    frame = getattr(datasets, name)()
    counts, categories = count_table(frame.to_numpy(dtype=object).T)
    w = weight_matrix(categories, weights)
    ref = CAC(frame, categories=categories, weights=weights)
    ours = gwet_ac(counts, w)
    assert ours.name == "AC2"
    assert round(ours.value, 3) == round(float(ref.gwet()["est"]["coefficient_value"]), 3)
    assert round(brennan_prediger(counts, w).value, 3) == round(float(ref.bp()["est"]["coefficient_value"]), 3)


def test_kappa_paradox_rare_code():
    # a rare code: two coders agree on 96 of 100 quotes, each marks it twice, never on the same quote
    a = np.zeros(100)
    b = np.zeros(100)
    a[[0, 1]] = 1
    b[[2, 3]] = 1
    stack = np.vstack([a, b])
    counts, _ = count_table(stack, [0.0, 1.0])
    assert cohen_kappa(a, b) < 0  # kappa collapses
    assert gwet_ac(counts).value > 0.9 and brennan_prediger(counts).value == pytest.approx(0.92)
    prevalence, bias = prevalence_bias(stack)
    assert prevalence == pytest.approx(0.96) and bias == pytest.approx(0.0)


def test_bias_index_two_raters_is_byrt():
    a = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], float)
    b = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0], float)  # b = 3 (a yes, b no), c = 0
    assert prevalence_bias(np.vstack([a, b]))[1] == pytest.approx(0.3)


def test_table_per_code_and_group():
    rng = np.random.default_rng(0)
    truth = (rng.random((40, 2)) < 0.3).astype(float)
    labels = {c: np.abs(truth - (rng.random(truth.shape) < 0.1)) for c in "abc"}
    labels["c"][:5] = np.nan
    import pandas as pd

    groups = pd.DataFrame({"g": ["x"] * 20 + ["y"] * 20})
    table = chance_corrected_table(labels, ["k1", "k2"], list("abc"), groups=groups)
    assert set(table["group"]) == {"overall", "x", "y"} and len(table) == 6
    row = table[(table["group"] == "overall") & (table["code"] == "k1")].iloc[0]
    counts, _ = count_table(np.vstack([labels[c][:, 0] for c in "abc"]), [0.0, 1.0])
    assert row["ac1"] == pytest.approx(gwet_ac(counts).value)
    assert row["ac1_ci_low"] < row["ac1"] <= row["ac1_ci_high"]
