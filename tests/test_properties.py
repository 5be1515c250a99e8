"""Property-based tests (hypothesis): loaders, long <-> wide, consensus, and the metrics by group.

Kept fast: few examples, small tables, no deadline (the first call of a loader imports pandas
parts). Each property is one the package promises in its docs, not a restatement of the code.
"""

from __future__ import annotations

import string
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score

from lived_themes.corpus import Corpus, load_corpus, load_wide, save_corpus, write_table
from lived_themes.corpus.consensus import consensus_matrix
from lived_themes.corpus.model import annotations_from_matrix
from lived_themes.evaluation.disclosure import suppress_small_groups, suppressed_label
from lived_themes.evaluation.groups import metric_by_group
from lived_themes.evaluation.metrics import macro_f1, macro_precision, macro_recall, micro_f1, per_code_scores, summary_scores

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
GROUPED = settings(FAST, max_examples=12)  # each example scores every group with fairlearn and a bootstrap
CODES = ["alpha", "beta", "gamma", "delta"]
METRICS = {"macro_f1": macro_f1, "micro_f1": micro_f1, "macro_precision": macro_precision, "macro_recall": macro_recall}

# Text a participant might write: letters (with accents), digits, punctuation, quotes, commas, tabs and newlines.
TEXT = st.text(alphabet=string.ascii_letters + string.digits + " ,.;:'\"!?-–()éüñ’\t\n", min_size=1, max_size=40).filter(
    lambda s: s.strip() != ""
)


@st.composite
def label_matrix(draw: st.DrawFn, min_rows: int = 1, max_rows: int = 30, k: int = len(CODES)) -> np.ndarray:
    n = draw(st.integers(min_rows, max_rows))
    bits = draw(st.lists(st.booleans(), min_size=n * k, max_size=n * k))
    return np.array(bits, dtype=float).reshape(n, k)


@st.composite
def grouped_labels(draw: st.DrawFn) -> tuple[np.ndarray, pd.Series, pd.Series]:
    """(labels, group per row, cluster per row): up to 4 groups, clusters nested in groups."""
    y = draw(label_matrix(min_rows=2))
    n = len(y)
    groups = pd.Series(draw(st.lists(st.sampled_from(["g1", "g2", "g3", None]), min_size=n, max_size=n)), name="group", dtype=object)
    people = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    clusters = pd.Series([f"{g}-{p}" for g, p in zip(groups, people)], name="cluster")
    return y, groups, clusters


@st.composite
def corpora(draw: st.DrawFn) -> Corpus:
    n = draw(st.integers(1, 8))
    ids = draw(st.lists(st.text(string.ascii_letters + "-_", min_size=1, max_size=6), min_size=n, max_size=n, unique=True))
    quotes = pd.DataFrame({
        "quote_id": [f"id-{i}" for i in ids],
        "text": draw(st.lists(TEXT, min_size=n, max_size=n)),
        "site": draw(st.lists(st.sampled_from(["north", "south", "east"]), min_size=n, max_size=n)),
    })
    matrices = {coder: draw(label_matrix(min_rows=n, max_rows=n)) for coder in ("A", "B")}
    annotations = pd.concat([annotations_from_matrix(m, quotes["quote_id"].tolist(), CODES, c) for c, m in matrices.items()],
                            ignore_index=True)
    return Corpus(quotes=quotes, annotations=annotations)


# ---- loaders and tables -------------------------------------------------------------------


@FAST
@given(corpus=corpora(), fmt=st.sampled_from(["jsonl", "csv", "tsv", "parquet"]))
def test_save_then_load_gives_back_the_same_corpus(corpus: Corpus, fmt: str) -> None:
    with TemporaryDirectory() as tmp:
        loaded = load_corpus(save_corpus(corpus, Path(tmp) / "c", format=fmt))
    assert loaded.quote_ids == corpus.quote_ids
    assert loaded.texts == corpus.texts
    assert loaded.quotes["site"].tolist() == corpus.quotes["site"].tolist()
    for coder in ("A", "B"):
        np.testing.assert_array_equal(loaded.label_matrix(coder, CODES), corpus.label_matrix(coder, CODES))


@FAST
@given(y=label_matrix(), unseen=st.lists(st.booleans(), min_size=30, max_size=30))
def test_wide_to_long_to_wide_is_exact(y: np.ndarray, unseen: list[bool]) -> None:
    """A 0/1 matrix survives long form, including all-zero rows ("no code") and unseen (NaN) rows."""
    y = y.copy()
    y[np.array(unseen[: len(y)])] = np.nan
    ids = [f"q{i}" for i in range(len(y))]
    corpus = Corpus(quotes=pd.DataFrame({"quote_id": ids, "text": ["t"] * len(y)}), annotations=annotations_from_matrix(y, ids, CODES, "A"))
    np.testing.assert_array_equal(corpus.label_matrix("A", CODES), y)
    np.testing.assert_array_equal(corpus.seen_by("A"), ~np.isnan(y).any(axis=1))


@FAST
@given(y=label_matrix(), texts=st.lists(TEXT, min_size=30, max_size=30), fmt=st.sampled_from(["csv", "jsonl", "parquet"]))
def test_wide_file_loads_as_the_same_matrix(y: np.ndarray, texts: list[str], fmt: str) -> None:
    frame = pd.DataFrame({"quote_id": [f"q{i}" for i in range(len(y))], "text": texts[: len(y)]})
    for j, code in enumerate(CODES):
        frame[code] = y[:, j].astype(int)
    with TemporaryDirectory() as tmp:
        path = write_table(frame, Path(tmp) / f"wide.{fmt}")
        corpus = load_wide(path, coder="A", code_columns=CODES)
    np.testing.assert_array_equal(corpus.label_matrix("A", CODES), y)
    assert corpus.texts == frame["text"].tolist()


# ---- consensus ----------------------------------------------------------------------------


@FAST
@given(st.lists(label_matrix(min_rows=6, max_rows=6), min_size=1, max_size=5))
def test_consensus_rules(matrices: list[np.ndarray]) -> None:
    majority, union = consensus_matrix(matrices, "majority"), consensus_matrix(matrices, "union")
    assert (majority <= union).all()  # whatever a majority assigns, someone assigned
    assert all((m <= union).all() for m in matrices)
    np.testing.assert_array_equal(consensus_matrix([matrices[0]] * 3, "majority"), matrices[0])  # unanimity is the coding itself
    np.testing.assert_array_equal(consensus_matrix(matrices[::-1], "majority"), majority)  # coder order does not matter
    votes = np.sum(matrices, axis=0)
    np.testing.assert_array_equal(majority, (2 * votes > len(matrices)).astype(float))


@FAST
@given(st.lists(label_matrix(min_rows=5, max_rows=5), min_size=2, max_size=4), st.lists(st.integers(0, 3), min_size=5, max_size=5))
def test_consensus_counts_only_coders_who_saw_the_quote(matrices: list[np.ndarray], missing: list[int]) -> None:
    stack = [m.copy() for m in matrices]
    for row, coder in enumerate(missing):
        if coder < len(stack) - 1:  # leave at least one coder on every row
            stack[coder][row] = np.nan
    majority = consensus_matrix(stack, "majority")
    assert not np.isnan(majority).any()
    for row in range(5):
        seen = [m[row] for m in stack if not np.isnan(m[row]).any()]
        np.testing.assert_array_equal(majority[row], (2 * np.sum(seen, axis=0) > len(seen)).astype(float))


# ---- metrics ------------------------------------------------------------------------------


@FAST
@given(y=label_matrix(), p=label_matrix())
def test_macro_f1_is_sklearn_over_present_codes(y: np.ndarray, p: np.ndarray) -> None:
    n = min(len(y), len(p))
    y, p = y[:n], p[:n]
    expected = f1_score(y, p, average="macro", zero_division=np.nan)
    got = macro_f1(y, p)
    assert (np.isnan(got) and np.isnan(expected)) or got == pytest.approx(expected)
    frame = per_code_scores(y, p, CODES)
    present = (y.sum(axis=0) + p.sum(axis=0)) > 0
    np.testing.assert_array_equal(frame["present"], present)
    assert frame.loc[~present, "f1"].isna().all()
    assert summary_scores(y, p)["n_codes"] == present.sum()


@GROUPED
@given(data=grouped_labels(), clustered=st.booleans())
def test_a_perfect_coder_scores_one_everywhere(data: tuple[np.ndarray, pd.Series, pd.Series], clustered: bool) -> None:
    """Predictions equal to the reference: 1.0 with a [1, 1] interval overall and in every group, whatever codes occur."""
    y, groups, clusters = data
    out = metric_by_group(METRICS, y, y.copy(), groups, clusters=clusters if clustered else None, n_boot=40, codes=CODES)
    scored = out[out["n_codes"] > 0]
    assert (scored["value"] == 1.0).all() and (scored["ci_low"] == 1.0).all() and (scored["ci_high"] == 1.0).all()
    assert out.loc[out["n_codes"] == 0, "value"].isna().all()  # nothing occurs: undefined, not 0
    for _, row in out.iterrows():
        assert row["n_codes"] + len(row["codes_absent"]) == len(CODES)


@GROUPED
@given(data=grouped_labels(), seed=st.integers(0, 2**16))
def test_a_permuted_coder_scores_one_only_where_it_happens_to_match(data: tuple[np.ndarray, pd.Series, pd.Series], seed: int) -> None:
    """A coder that gives each quote another quote's codes scores 1.0 in a group exactly when its codes equal the reference there."""
    y, groups, clusters = data
    p = y[np.random.default_rng(seed).permutation(len(y))]
    out = metric_by_group({"macro_f1": macro_f1}, y, p, groups, clusters=clusters, n_boot=20, codes=CODES)
    labels = groups.map(lambda v: "unknown" if pd.isna(v) else v)
    for _, row in out[out["n_codes"] > 0].iterrows():
        mask = np.ones(len(y), bool) if row["group"] == "overall" else (labels == row["group"]).to_numpy()
        assert 0.0 <= row["value"] <= 1.0
        assert (row["value"] == 1.0) == bool((y[mask] == p[mask]).all())
        assert row["ci_low"] <= row["value"] + 1e-12 and row["value"] <= row["ci_high"] + 1e-12 or row["n_clusters"] < 2


@GROUPED
@given(data=grouped_labels(), seed=st.integers(0, 2**16))
def test_figures_do_not_depend_on_row_or_code_order(data: tuple[np.ndarray, pd.Series, pd.Series], seed: int) -> None:
    y, groups, _ = data
    rng = np.random.default_rng(seed)
    p = np.where(rng.random(y.shape) < 0.2, 1 - y, y)
    rows, cols = rng.permutation(len(y)), rng.permutation(len(CODES))
    base = metric_by_group(METRICS, y, p, groups, n_boot=0, codes=CODES).set_index(["group", "metric"])
    moved = metric_by_group(METRICS, y[rows][:, cols], p[rows][:, cols], groups.iloc[rows].reset_index(drop=True), n_boot=0,
                            codes=[CODES[j] for j in cols]).set_index(["group", "metric"])
    moved = moved.loc[base.index]
    np.testing.assert_allclose(moved["value"].to_numpy(float), base["value"].to_numpy(float))
    assert (moved["n_codes"] == base["n_codes"]).all()
    assert [sorted(a) for a in moved["codes_absent"]] == [sorted(a) for a in base["codes_absent"]]


@FAST
@given(data=grouped_labels(), floor=st.integers(1, 8))
def test_privacy_floor_hides_every_small_group(data: tuple[np.ndarray, pd.Series, pd.Series], floor: int) -> None:
    _, groups, clusters = data
    relabelled, hidden = suppress_small_groups(groups.to_frame(), floor, clusters=clusters)
    labels = groups.map(lambda v: "unknown" if pd.isna(v) else v)
    people = clusters.groupby(labels).nunique()
    small = {g for g, n in labels.value_counts().items() if min(n, people[g]) < floor}
    assert small.isdisjoint(set(relabelled["group"]))
    assert hidden == {"group": len(small)}
    assert (relabelled["group"] == suppressed_label(floor)).sum() == labels.isin(small).sum()
    if floor == 1:
        assert relabelled["group"].tolist() == labels.tolist()
