"""Group breakdowns recomputed by masking, and the cluster bootstrap's behaviour."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from lived_themes.evaluation.agreement import alpha_per_code, cohen_kappa, pairwise_kappa, substitution_alpha
from lived_themes.evaluation.groups import agreement_by_group, max_gap, metric_by_group
from lived_themes.evaluation.metrics import code_f1, macro_average_precision, macro_f1, micro_f1

CODES = ["a", "b", "c", "d"]


@pytest.fixture()
def data() -> dict:
    rng = np.random.default_rng(11)
    n = 240
    y = (rng.random((n, 4)) < 0.3).astype(float)
    score = np.clip(y * 0.45 + rng.random(y.shape) * 0.6, 0, 1)
    groups = pd.Series(rng.choice(["f", "m", None, np.nan], n, p=[0.45, 0.4, 0.1, 0.05]), name="gender")
    groups.iloc[:6] = "nb"  # a group too small to say anything
    participants = pd.Series(rng.integers(0, 40, n), name="participant")
    return {"y": y, "p": (score > 0.5).astype(float), "s": score, "g": groups, "cl": participants}


def _sk_macro(t: np.ndarray, p: np.ndarray) -> float:
    """scikit-learn's macro F1 over the codes that occur (an absent code is undefined, not 0)."""
    return float(f1_score(t, p, average="macro", zero_division=np.nan))


def test_groups_recomputed_by_masking(data: dict) -> None:
    metrics = {"macro_f1": macro_f1, "micro_f1": micro_f1, "f1_b": code_f1(1), "sk_macro": _sk_macro}
    out = metric_by_group(metrics, data["y"], data["p"], data["g"], n_boot=50)
    labels = data["g"].map(lambda v: "unknown" if pd.isna(v) else v)
    assert set(out.group) == {"overall", "f", "m", "nb", "unknown"}
    for _, row in out.iterrows():
        mask = np.ones(len(labels), bool) if row.group == "overall" else (labels == row.group).to_numpy()
        t, p = data["y"][mask], data["p"][mask]
        expected = {
            "macro_f1": _sk_macro(t, p),
            "micro_f1": f1_score(t, p, average="micro", zero_division=0),
            "f1_b": f1_score(t[:, 1], p[:, 1], zero_division=0),
            "sk_macro": _sk_macro(t, p),
        }[row.metric]
        assert row.value == pytest.approx(expected)
        assert row.n == mask.sum()
    unknown = out[(out.group == "unknown") & (out.metric == "macro_f1")].iloc[0]
    assert unknown.n == data["g"].isna().sum()  # None and NaN both land in "unknown", none dropped


def test_ci_contains_point_and_is_reproducible(data: dict) -> None:
    args = (macro_f1, data["y"], data["p"], data["g"])
    a = metric_by_group(*args, clusters=data["cl"], n_boot=400, seed=3)
    b = metric_by_group(*args, clusters=data["cl"], n_boot=400, seed=3)
    c = metric_by_group(*args, clusters=data["cl"], n_boot=400, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.ci_low, c.ci_low)
    big = a[a.warning == ""]
    assert len(big) >= 3 and ((big.ci_low <= big.value) & (big.value <= big.ci_high)).all()
    assert (big.ci_high > big.ci_low).all()
    small = a[a.group == "nb"].iloc[0]
    assert "too small to say anything" in small.warning and small.n == 6


def test_count_path_equals_row_path(data: dict) -> None:
    """The fast confusion-count bootstrap draws the same resamples as re-scoring rows."""
    kw = {"clusters": data["cl"], "n_boot": 60, "seed": 1}
    fast = metric_by_group({"m": macro_f1}, data["y"], data["p"], data["g"], **kw)
    slow = metric_by_group({"m": _sk_macro}, data["y"], data["p"], data["g"], **kw)
    np.testing.assert_allclose(fast[["value", "ci_low", "ci_high"]], slow[["value", "ci_low", "ci_high"]])


def test_one_cluster_per_group_is_degenerate(data: dict) -> None:
    out = metric_by_group(macro_f1, data["y"], data["p"], data["g"], clusters="group", n_boot=200)
    groups = out[out.group != "overall"]
    assert (groups.n_clusters == 1).all()
    np.testing.assert_allclose(groups.ci_low, groups.value)
    np.testing.assert_allclose(groups.ci_high, groups.value)
    assert groups.warning.str.contains("too small to say anything").all()
    assert out[out.group == "overall"].n_clusters.iloc[0] == 4


def test_cluster_resampling_widens_intervals_for_clustered_errors() -> None:
    rng = np.random.default_rng(5)
    person = np.repeat(np.arange(30), 20)
    y = (rng.random((600, 3)) < 0.4).astype(float)
    wrong = np.isin(person, rng.choice(30, 10, replace=False))  # a third of people wholly mis-coded
    p = np.where(wrong[:, None], 1 - y, y)
    g = pd.Series(["all"] * 600, name="site")
    rows = metric_by_group(micro_f1, y, p, g, n_boot=500).iloc[0]
    clustered = metric_by_group(micro_f1, y, p, g, clusters=pd.Series(person), n_boot=500).iloc[0]
    assert clustered.n_clusters == 30 and rows.n_clusters == 600
    assert (clustered.ci_high - clustered.ci_low) > 2 * (rows.ci_high - rows.ci_low)


def test_nan_rows_excluded_and_scores(data: dict) -> None:
    y = data["y"].copy()
    y[10:30] = np.nan
    out = metric_by_group(
        {"ap": macro_average_precision, "f1": macro_f1}, y, data["p"], data["g"], y_score=data["s"], n_boot=20
    )
    assert out.attrs["n_excluded"] == 20
    overall = out[(out.group == "overall") & (out.metric == "ap")].iloc[0]
    assert overall.n == 220
    kept = np.delete(np.arange(len(y)), np.s_[10:30])
    assert overall.value == pytest.approx(macro_average_precision(data["y"][kept], data["s"][kept]))
    with pytest.raises(ValueError):
        metric_by_group(macro_average_precision, y, data["p"], data["g"], n_boot=5)


def test_max_gap() -> None:
    frame = pd.DataFrame(
        {
            "group_column": ["g"] * 4,
            "group": ["overall", "x", "y", "z"],
            "metric": ["f1"] * 4,
            "value": [0.5, 0.7, 0.2, 0.6],
            "warning": ["", "", "", "too small to say anything"],
        }
    )
    gap = max_gap(frame).iloc[0]
    assert gap.gap == pytest.approx(0.5) and gap.group_high == "x" and gap.group_low == "y"
    assert max_gap(frame, skip_warned=True).iloc[0].n_groups == 2


def test_agreement_by_group_recomputed_by_masking(data: dict) -> None:
    rng = np.random.default_rng(2)
    y = data["y"]
    labels = {h: np.abs(y - (rng.random(y.shape) < 0.1)) for h in ("h1", "h2", "h3")}
    labels["h3"][:100] = np.nan
    labels["model"] = data["p"]
    out = agreement_by_group(labels, CODES, ["h1", "h2", "h3"], data["g"], model_coder="model", clusters=data["cl"], n_boot=100)
    g = data["g"].map(lambda v: "unknown" if pd.isna(v) else v).to_numpy()
    mask = g == "m"
    sub = {k: v[mask] for k, v in labels.items()}
    got = out[out.group == "m"].set_index(["code", "comparison", "statistic"])["value"]
    pk = pairwise_kappa(sub, CODES, coders=["h1", "h2", "h3"]).groupby("code")["kappa"].mean()
    ap = alpha_per_code(sub, CODES, ["h1", "h2", "h3"]).set_index("code")["alpha"]
    sa = substitution_alpha(sub, CODES, ["h1", "h2", "h3"], "model").groupby("code")["alpha_with_model"].mean()
    for code in CODES:
        assert got[(code, "human-human", "kappa")] == pytest.approx(pk[code])
        assert got[(code, "human-human", "alpha")] == pytest.approx(ap[code])
        assert got[(code, "model-human", "alpha")] == pytest.approx(sa[code])
        mh = np.mean([cohen_kappa(sub["model"][:, CODES.index(code)], sub[h][:, CODES.index(code)]) for h in ("h1", "h2", "h3")])
        assert got[(code, "model-human", "kappa")] == pytest.approx(mh)
    assert got[("(all codes)", "human-human", "kappa")] == pytest.approx(pk.mean())
    rows = out[(out.group == "m") & (out.comparison == "human-human")]
    assert (rows.n_units == mask.sum()).all()  # h1 and h2 saw every quote
    assert (out[out.group == "nb"].warning.str.contains("too small")).all()
    ok = out[(out.warning == "") & out.value.notna()]
    assert ((ok.ci_low <= ok.value + 1e-12) & (ok.value <= ok.ci_high + 1e-12)).mean() > 0.9
