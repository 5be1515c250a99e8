"""Stand-in analysis, validated on simulated coders whose agreement is known in advance."""

import numpy as np
import pandas as pd
import pytest

from lived_themes.corpus import Corpus
from lived_themes.evaluation.agreement import cohen_kappa
from lived_themes.evaluation.standin import ALL_CODERS, MACRO, standin_analysis, standin_from_corpus


def flip(x: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    return np.where(rng.random(x.shape) < rate, 1 - x, x)


def expected_kappa(prevalence: float, e1: float, e2: float) -> float:
    """Cohen's kappa of two coders who each copy the truth with independent flip rates e1, e2."""
    p1 = prevalence * (1 - e1) + (1 - prevalence) * e1
    p2 = prevalence * (1 - e2) + (1 - prevalence) * e2
    agree = (1 - e1) * (1 - e2) + e1 * e2
    chance = p1 * p2 + (1 - p1) * (1 - p2)
    return (agree - chance) / (1 - chance)


@pytest.fixture(scope="module")
def sim() -> dict:
    rng = np.random.default_rng(1)
    truth = (rng.random((3000, 2)) < 0.3).astype(float)
    labels = {f"h{i}": flip(truth, 0.1, rng) for i in range(4)}
    labels["model:peer"] = flip(truth, 0.1, rng)  # exchangeable with the humans
    labels["model:copy"] = flip(labels["h0"], 0.1, rng)  # h0 copied with 10% noise: ~19% from the truth
    labels["model:random"] = (rng.random(truth.shape) < 0.3).astype(float)
    return labels


def row(table: pd.DataFrame, coder: str = ALL_CODERS, code: str = MACRO) -> pd.Series:
    sel = table[(table.coder == coder) & (table.code == code) & (table.group == "overall")]
    assert len(sel) == 1
    return sel.iloc[0]


def test_point_estimates_match_the_known_answer(sim: dict) -> None:
    humans = [f"h{i}" for i in range(4)]
    table = standin_analysis(sim, ["a", "b"], model="model:copy", humans=humans, n_boot=0, n_perm=0)
    human = expected_kappa(0.3, 0.1, 0.1)
    copy_vs_peer = expected_kappa(0.3, 0.1 + 0.1 - 2 * 0.1 * 0.1, 0.1)  # the copy is ~18% off the truth
    copy_vs_h0 = expected_kappa(0.34, 0.0, 0.1)  # 10% off h0, whose prevalence is 0.34
    model_for_h1 = (2 * copy_vs_peer + copy_vs_h0) / 3  # h1's others: h0 (copied), h2, h3
    assert row(table, "h1").human == pytest.approx(human, abs=0.03)
    assert row(table, "h1").model == pytest.approx(model_for_h1, abs=0.03)
    assert row(table, "h0").model == pytest.approx(copy_vs_peer, abs=0.03)
    overall = (copy_vs_peer + 3 * model_for_h1) / 4 - human
    assert row(table).difference == pytest.approx(overall, abs=0.02)
    assert overall < -0.03  # a noisy copy of one coder is a slightly worse stand-in than a peer


def test_exchangeable_model_is_not_distinguished_and_random_one_is(sim: dict) -> None:
    humans = [f"h{i}" for i in range(4)]
    peer = row(standin_analysis(sim, ["a", "b"], model="model:peer", humans=humans, n_boot=400, n_perm=400))
    assert peer.ci_low < 0 < peer.ci_high and peer.p_value > 0.05 and peer.non_inferior
    rand = row(standin_analysis(sim, ["a", "b"], model="model:random", humans=humans, n_boot=400, n_perm=400))
    assert rand.ci_high < -0.4 and rand.p_value < 0.01 and not rand.non_inferior


def test_identical_model_differs_by_nothing_for_that_coder(sim: dict) -> None:
    labels = {**sim, "model:same": sim["h2"].copy()}
    table = standin_analysis(labels, ["a", "b"], model="model:same", humans=["h0", "h1", "h2", "h3"], n_boot=50, n_perm=200)
    r = row(table, "h2")
    assert r.difference == 0 and r.p_value == 1.0


def sparse_labels(seed: int = 3, n: int = 300) -> dict:
    """Five coders, each seeing a random 60% of quotes; the model sees all."""
    rng = np.random.default_rng(seed)
    truth = (rng.random((n, 2)) < 0.4).astype(float)
    labels = {}
    for i in range(5):
        m = flip(truth, 0.15, rng)
        m[rng.random(n) < 0.4] = np.nan
        labels[f"c{i}"] = m
    labels["model:m"] = flip(truth, 0.2, rng)
    return labels


def test_mean_and_pooled_kappa_recomputed_by_masking() -> None:
    labels = sparse_labels()
    humans = [f"c{i}" for i in range(5)]
    mean = standin_analysis(labels, ["a", "b"], model="model:m", humans=humans, min_overlap=1, n_boot=0, n_perm=0)
    pooled = standin_analysis(labels, ["a", "b"], model="model:m", humans=humans, statistic="pooled_kappa", n_boot=0, n_perm=0)
    h, others = labels["c0"], [labels[f"c{i}"] for i in range(1, 5)]
    seen = ~np.isnan(h[:, 0])
    for j, code in enumerate(["a", "b"]):
        for who, name in ((h, "human"), (labels["model:m"], "model")):
            x = np.where(seen, who[:, j], np.nan)
            expect = np.mean([cohen_kappa(x, o[:, j]) for o in others])
            assert row(mean, "c0", code)[name] == pytest.approx(expect, abs=1e-12)
            pairs = [(a, b) for o in others for a, b in zip(x, o[:, j]) if not (np.isnan(a) or np.isnan(b))]
            a, b = np.array(pairs).T
            assert row(pooled, "c0", code)[name] == pytest.approx(cohen_kappa(a, b), abs=1e-12)


def test_groups_and_coder_groups_equal_the_masked_analysis() -> None:
    labels = sparse_labels(n=200)
    humans = [f"c{i}" for i in range(5)]
    groups = pd.Series(np.where(np.arange(200) % 3 == 0, "x", "y"), name="site")
    cg = {"c0": "A", "c1": "A", "c2": "A", "c3": "B", "c4": "B"}
    table = standin_analysis(labels, ["a", "b"], model="model:m", humans=humans, groups=groups, coder_groups=cg,
                             min_overlap=1, n_boot=0, n_perm=0)
    mask = (groups == "x").to_numpy()
    masked = {k: np.where(mask[:, None], v, np.nan) for k, v in labels.items()}
    only_a = {k: v for k, v in masked.items() if cg.get(k, "A") == "A"}
    direct = standin_analysis(only_a, ["a", "b"], model="model:m", humans=["c0", "c1", "c2"], min_overlap=1, n_boot=0, n_perm=0)
    got = table[(table.group == "x") & (table.others == "A") & (table.coder == "c1")].set_index("code")
    want = direct[direct.coder == "c1"].set_index("code")
    np.testing.assert_allclose(got[["human", "model"]].to_numpy(float), want[["human", "model"]].to_numpy(float))
    assert set(table.others) == {"all", "A", "B"}


def test_cluster_bootstrap_is_not_fooled_by_duplicated_quotes(sim: dict) -> None:
    small = {k: v[:300] for k, v in sim.items()}
    tripled = {k: np.repeat(v, 3, axis=0) for k, v in small.items()}
    kw = dict(model="model:peer", humans=["h0", "h1", "h2", "h3"], n_boot=400, n_perm=0)
    width = lambda t: row(t).ci_high - row(t).ci_low  # noqa: E731
    base = width(standin_analysis(small, ["a", "b"], **kw))
    naive = width(standin_analysis(tripled, ["a", "b"], **kw))
    clustered = width(standin_analysis(tripled, ["a", "b"], clusters=np.repeat(np.arange(300), 3), **kw))
    assert naive < 0.75 * base and clustered == pytest.approx(base, rel=0.25)


def test_needs_two_humans_and_a_known_statistic(sim: dict) -> None:
    with pytest.raises(ValueError, match="two human coders"):
        standin_analysis(sim, ["a", "b"], model="model:peer", humans=["h0"])
    with pytest.raises(ValueError, match="statistic"):
        standin_analysis(sim, ["a", "b"], model="model:peer", statistic="alpha")


def test_from_corpus_ignores_consensus_and_other_models() -> None:
    labels = sparse_labels(n=60)
    quotes = pd.DataFrame({"quote_id": [f"q{i}" for i in range(60)], "text": ["t"] * 60, "site": ["x", "y"] * 30})
    corpus = Corpus(quotes=quotes)
    for name, m in labels.items():
        corpus = corpus.with_coder(name, m, ["a", "b"])
    corpus = corpus.with_coder("consensus:majority", labels["c0"], ["a", "b"])
    table = standin_from_corpus(corpus, "m", groups=["site"], n_boot=20, n_perm=20, min_overlap=1)
    assert set(table.coder) == {ALL_CODERS, "c0", "c1", "c2", "c3", "c4"}
    assert set(table.group) == {"overall", "x", "y"}


def test_figure_has_one_line_per_coder_plus_the_mean(tmp_path, sim: dict) -> None:
    from lived_themes.report.standin_plot import plot_standin, select_rows

    cg = {"h0": "A", "h1": "A", "h2": "B", "h3": "B"}
    table = standin_analysis(sim, ["a", "b"], model="model:peer", coder_groups=cg, n_boot=50, n_perm=0)
    rows = select_rows(table, others="B")
    assert rows["coder"].iloc[0] == ALL_CODERS and len(rows) == 5
    fig = plot_standin(table, others="B", path=tmp_path / "standin.png")
    assert (tmp_path / "standin.png").stat().st_size > 0
    assert len(fig.axes[0].get_yticklabels()) == 5
    with pytest.raises(ValueError, match="no stand-in rows"):
        plot_standin(table, code="zzz")


def test_a_subset_too_sparse_for_mean_kappa_is_reported_not_dropped() -> None:
    labels = sparse_labels(n=60)
    groups = pd.Series(["tiny"] * 8 + ["big"] * 52, name="g")
    table = standin_analysis(labels, ["a", "b"], model="model:m", groups=groups, min_overlap=10, n_boot=10, n_perm=10)
    tiny = table[(table.group == "tiny")]
    assert len(tiny) == 3 and tiny["difference"].isna().all() and tiny["warning"].str.contains("pooled_kappa").all()
    pooled = standin_analysis(labels, ["a", "b"], model="model:m", groups=groups, statistic="pooled_kappa", n_boot=10, n_perm=10)
    assert pooled[(pooled.group == "tiny") & (pooled.coder == ALL_CODERS)]["human"].notna().any()
