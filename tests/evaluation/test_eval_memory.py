"""Memory savings in the scorer that must not change a figure: a reused weights buffer, the reference's
matrix taken from the caller's labels, and float32 human matrices widened a slice at a time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lived_themes.corpus import Corpus
from lived_themes.evaluation import _bootstrap as bs
from lived_themes.evaluation.agreement import as_float, pairwise_kappa
from lived_themes.experiment.scoring import _reference_matrix

CODES = ["a", "b"]


def _corpus() -> Corpus:
    quotes = pd.DataFrame({"quote_id": ["q1", "q2", "q3"], "text": ["x", "y", "z"]})
    annotations = pd.DataFrame({"quote_id": ["q1", "q2", "q1", "q3"], "coder": ["ann", "ann", "bob", "bob"],
                                "code": ["a", None, "b", "a"]})
    return Corpus(quotes=quotes, annotations=annotations)


def test_reused_weight_buffer_gives_the_same_resamples() -> None:
    fresh = np.concatenate(list(bs.weight_chunks(40, 450, np.random.default_rng(5), chunk=100)))
    reused = np.concatenate([w.copy() for w in bs.weight_chunks(40, 450, np.random.default_rng(5), chunk=100, reuse=True)])
    assert np.array_equal(fresh, reused)
    compact = np.concatenate([w.copy() for w in bs.weight_chunks(40, 450, np.random.default_rng(5), chunk=100, reuse=True, compact=True)])
    assert compact.dtype == np.float32 and np.array_equal(fresh, compact)
    sums = np.random.default_rng(0).integers(0, 9, size=(40, 3, 4)).astype(np.uint8)
    assert np.array_equal(bs.resampled_sums(sums, compact[:7]), bs.resampled_sums(sums, fresh[:7]))
    floats = sums / 3.0
    assert np.array_equal(bs.resampled_sums(floats, compact[:7]), bs.resampled_sums(floats, fresh[:7]))


def test_alt_test_tuples_are_shared_and_equal() -> None:
    from lived_themes.evaluation.alt_test import annotations_from_matrices

    m = np.array([[1.0, 0.0], [np.nan, np.nan], [1.0, 0.0], [0.0, 0.0]], dtype=np.float32)
    out = annotations_from_matrices({"h": m}, ["h"])["h"]
    assert out == {0: (1.0, 0.0), 2: (1.0, 0.0), 3: (0.0, 0.0)}
    assert out[0] is out[2]


def test_reference_matrix_is_the_callers_labels_only_when_equal() -> None:
    corpus = _corpus()
    labels = corpus.label_matrix("ann", CODES)
    assert _reference_matrix(corpus, labels, "ann", CODES) is labels  # no second copy
    wrong = labels.copy()
    wrong[0] = [0.0, 1.0]  # same rows seen, a different code: rebuilt, not trusted
    rebuilt = _reference_matrix(corpus, wrong, "ann", CODES)
    assert rebuilt is not wrong and np.array_equal(rebuilt, labels, equal_nan=True)
    other = corpus.label_matrix("bob", CODES)  # another coder's matrix: rebuilt
    assert np.array_equal(_reference_matrix(corpus, other, "ann", CODES), labels, equal_nan=True)


def test_float32_matrices_score_as_float64() -> None:
    corpus = _corpus()
    wide = corpus.label_matrices(["ann", "bob"], CODES)
    narrow = corpus.label_matrices(["ann", "bob"], CODES, dtype=np.float32)
    assert narrow["bob"].dtype == np.float32 and np.array_equal(narrow["bob"], wide["bob"], equal_nan=True)
    assert as_float(narrow["bob"], (slice(None), 1)).dtype == np.float64
    pd.testing.assert_frame_equal(pairwise_kappa(narrow, CODES), pairwise_kappa(wide, CODES))


def test_cluster_codes_group_exactly_as_the_labels() -> None:
    cases = [["p1", "p2", None, "p1", "unknown", np.nan], [1, 2, 1, None, 3], [1.0, 2.5, 1.0, np.nan], [1, 1.0, "1", None, "unknown"]]
    for values in cases:
        codes = bs.label_codes(values, len(values))
        labels = bs.as_labels(values, len(values)).to_numpy()
        assert np.array_equal(pd.factorize(codes)[0], pd.factorize(labels)[0]), values


def test_out_of_fold_codes_are_float32_and_exact() -> None:
    """cross_val_scores keeps codes in float32 (0, 1, NaN exact: half of float64's memory); the scorer uses them as they are."""
    from lived_themes.coders.cross_validation import cross_val_scores
    from lived_themes.registry import make_coder
    from lived_themes.splits import Fold

    texts = ["staff kind", "staff rude", "long wait", "wait again", "kind nurse", "rude porter"]
    labels = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 0], [1, 1]], dtype=float)
    folds = [Fold(name="f1", train_idx=np.arange(4), test_idx=np.array([4, 5]))]  # rows 0-3 never tested: NaN
    out = cross_val_scores(lambda: make_coder("tfidf-logreg.v1", tune=False), texts, labels, CODES, folds)
    assert out.predicted.dtype == np.float32
    assert np.isnan(out.predicted[:4]).all() and set(np.unique(out.predicted[4:])) <= {0.0, 1.0}
    coder = make_coder("tfidf-logreg.v1", tune=False).fit(texts[:4], labels[:4], CODES)
    assert np.array_equal(out.predicted[4:], coder.codes_from_scores(out.scores[4:]))


def test_freed_memory_is_given_back_where_the_c_library_can() -> None:
    import sys

    from lived_themes.evaluation import _memory

    ran = _memory.release_freed_memory()
    assert ran is (sys.platform.startswith("linux") and _memory._TRIM[0] is not None)
    saved = list(_memory._TRIM)
    try:
        _memory._TRIM[:] = [None]  # a C library without malloc_trim: nothing happens, nothing fails
        assert _memory.release_freed_memory() is False
    finally:
        _memory._TRIM[:] = saved


def test_labels_are_the_strings_of_the_values_one_object_per_distinct_value() -> None:
    """as_labels factorizes before making strings; it must still give exactly str(value), "unknown" for missing."""
    cases = [
        pd.Series(["s1", "s2", None, "s1", "unknown"], dtype="str"),
        pd.Series(["b", "a", "b", None], dtype="category"),
        pd.Series([1.0, 2.5, np.nan, 1.0]),
        pd.Series([3, 1, 3, 2]),
        pd.Series([1, 1.0, "1", True, None, "unknown"], dtype=object),
        pd.Series(pd.array([1, None, 2], dtype="Int64")),
        pd.Series([], dtype=object),
    ]
    for values in cases:
        expected = [bs.UNKNOWN if pd.isna(v) else str(v) for v in values.to_numpy(dtype=object)]
        got = bs.as_labels(values, len(values))
        assert got.dtype == object and got.tolist() == expected, values.tolist()
        assert np.array_equal(pd.factorize(bs.label_codes(values, len(values)))[0], pd.factorize(np.asarray(expected, dtype=object))[0])
    many = pd.Series(np.tile(["north", "south", None], 10_000), dtype="str")
    labels = bs.as_labels(many, len(many)).to_numpy()
    assert len({id(s) for s in labels}) == 3  # three strings shared by 30,000 rows


def test_the_scorer_names_people_by_integer_and_groups_them_as_the_ids_strings() -> None:
    from lived_themes.config.base import EvaluationConfig
    from lived_themes.experiment.scoring import _clusters

    class Corpus:
        quotes = pd.DataFrame({"participant": pd.Series(["p1", "p2", None, "p1", "unknown"], dtype="str")})

        def __len__(self) -> int:
            return 5

    ids = _clusters(Corpus(), EvaluationConfig(cluster="participant"))
    assert ids.tolist() == [0, 1, 2, 0, 2]
