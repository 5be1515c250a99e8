"""Agreement statistics against published worked examples and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from lived_themes.evaluation.agreement import (
    alpha_from_coincidences,
    alpha_per_code,
    coder_group_agreement,
    cohen_kappa,
    fleiss_kappa,
    kappa_from_tables,
    krippendorff_alpha,
    pair_tables,
    pairwise_kappa,
    percent_agreement,
    substitution_alpha,
    unit_coincidences,
)

NAN = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C: 4 observers x
# 12 units, nominal alpha = 0.743.
KRIPPENDORFF_C = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)
# Same paper, example A: two observers, binary, no missing data, alpha = 0.095.
KRIPPENDORFF_A = np.array([[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]], dtype=float)
# Fleiss (1971) as tabulated on Wikipedia "Fleiss' kappa": 10 subjects, 14 raters, kappa = 0.210.
FLEISS_TABLE = np.array(
    [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]
)


def test_krippendorff_published_examples() -> None:
    res = krippendorff_alpha(KRIPPENDORFF_C)
    assert round(res.value, 3) == 0.743 and res.n_units == 11  # unit 12 has one rating only
    assert round(krippendorff_alpha(KRIPPENDORFF_A).value, 3) == 0.095
    fast = alpha_from_coincidences(unit_coincidences(KRIPPENDORFF_A).sum(axis=0))
    assert fast == pytest.approx(1 - 19 * 4 / (14 * 6))


def test_binary_alpha_fast_path_matches_package() -> None:
    rng = np.random.default_rng(3)
    data = (rng.random((4, 60)) < 0.35).astype(float)
    data[rng.random(data.shape) < 0.3] = np.nan
    fast = alpha_from_coincidences(unit_coincidences(data).sum(axis=0))
    assert fast == pytest.approx(krippendorff_alpha(data).value)


def test_alpha_undefined_gives_nan_with_reason() -> None:
    res = krippendorff_alpha(np.ones((3, 5)))
    assert np.isnan(res.value) and "one value" in res.note
    res = krippendorff_alpha(np.array([[1.0, NAN], [NAN, 0.0]]))
    assert np.isnan(res.value) and res.n_units == 0 and res.note


def test_fleiss_wikipedia_example_and_varying_raters() -> None:
    res = fleiss_kappa(FLEISS_TABLE, as_counts=True)
    assert round(res.value, 3) == 0.210 and res.n_units == 10
    # Same as raw ratings: build (raters x units) from the table.
    raw = np.array([np.repeat(np.arange(5), row) for row in FLEISS_TABLE], dtype=float).T
    assert fleiss_kappa(raw).value == pytest.approx(res.value)
    ragged = np.vstack([raw, np.full((1, 10), NAN)])
    ragged[:13, 0] = NAN  # unit 0 keeps one rating only and is dropped
    out = fleiss_kappa(ragged)
    assert out.n_units == 9 and "dropped 1" in out.note
    assert out.value == pytest.approx(fleiss_kappa(FLEISS_TABLE[1:], as_counts=True).value)


def test_cohen_kappa_matches_sklearn_and_ignores_nan() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = rng.integers(0, 3, 50).astype(float), rng.integers(0, 3, 50).astype(float)
        assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    a[:5], b[3:9] = NAN, NAN
    keep = slice(9, None)
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a[keep], b[keep]))
    binary = (rng.random((2, 40)) < 0.4).astype(float)
    assert kappa_from_tables(pair_tables(*binary).sum(axis=0)) == pytest.approx(cohen_kappa_score(*binary))
    assert np.isnan(cohen_kappa(np.zeros(5), np.zeros(5)))


def test_percent_agreement() -> None:
    assert percent_agreement(KRIPPENDORFF_A[0], KRIPPENDORFF_A[1]) == pytest.approx(0.6)
    assert percent_agreement(np.array([[1, 1, NAN], [1, 0, 1], [1, 1, NAN]])) == pytest.approx((1 + 1 / 3) / 2)


@pytest.fixture()
def corpus() -> tuple[dict[str, np.ndarray], list[str]]:
    rng = np.random.default_rng(7)
    truth = (rng.random((80, 3)) < 0.3).astype(float)
    labels = {}
    for name, noise in [("h1", 0.05), ("h2", 0.1), ("h3", 0.15), ("model", 0.2)]:
        flip = rng.random(truth.shape) < noise
        labels[name] = np.abs(truth - flip)
    labels["h3"][:20] = NAN  # h3 did not see the first 20 quotes
    return labels, ["a", "b", "c"]


def test_pairwise_and_alpha_tables(corpus: tuple[dict[str, np.ndarray], list[str]]) -> None:
    labels, codes = corpus
    pk = pairwise_kappa(labels, codes, coders=["h1", "h2", "h3"])
    assert len(pk) == 9
    row = pk[(pk.code == "b") & (pk.coder_a == "h1") & (pk.coder_b == "h3")].iloc[0]
    assert row.n_units == 60
    assert row.kappa == pytest.approx(cohen_kappa_score(labels["h1"][20:, 1], labels["h3"][20:, 1]))
    ap = alpha_per_code(labels, codes, ["h1", "h2", "h3"])
    assert ap.alpha.iloc[0] == pytest.approx(krippendorff_alpha(np.vstack([labels[c][:, 0] for c in ("h1", "h2", "h3")])).value)


def test_substitution_alpha(corpus: tuple[dict[str, np.ndarray], list[str]]) -> None:
    labels, codes = corpus
    sub = substitution_alpha(labels, codes, ["h1", "h2", "h3"], "model")
    assert len(sub) == 9
    row = sub[(sub.code == "c") & (sub.substituted_coder == "h3")].iloc[0]
    model_on_h3 = np.where(np.isnan(labels["h3"][:, 2]), NAN, labels["model"][:, 2])
    expected = krippendorff_alpha(np.vstack([labels["h1"][:, 2], labels["h2"][:, 2], model_on_h3])).value
    assert row.alpha_with_model == pytest.approx(expected)
    assert row.difference == pytest.approx(row.alpha_with_model - row.alpha_humans)


def test_coder_group_agreement(corpus: tuple[dict[str, np.ndarray], list[str]]) -> None:
    labels, codes = corpus
    out = coder_group_agreement(labels, codes, {"h1": "expert", "h2": "expert", "h3": "lay", "model": "lay"})
    assert set(out.kind) == {"within", "between"} and len(out) == 9
    within = out[(out.code == "a") & (out.group_a == "expert") & (out.kind == "within")].iloc[0]
    assert within.mean_kappa == pytest.approx(cohen_kappa(labels["h1"][:, 0], labels["h2"][:, 0]))
    between = out[(out.code == "a") & (out.kind == "between")].iloc[0]
    pairs = [cohen_kappa(labels[x][:, 0], labels[y][:, 0]) for x in ("h1", "h2") for y in ("h3", "model")]
    assert between.n_pairs == 4 and between.mean_kappa == pytest.approx(np.mean(pairs))
    assert np.isnan(between.alpha) and not np.isnan(within.fleiss_kappa)
