"""Consensus of coders: majority and union count only coders who saw the quote; coder:NAME copies one coder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lived_themes.corpus import Corpus, consensus
from lived_themes.corpus.consensus import consensus_matrix

CODES = ["a", "b"]
NAN = np.nan


def corpus_from(matrices: dict[str, list[list[float]]]) -> Corpus:
    """Build a corpus from per-coder matrices (NaN row = not seen), through the public with_coder."""
    n = len(next(iter(matrices.values())))
    corpus = Corpus(quotes=pd.DataFrame({"quote_id": [f"q{i}" for i in range(1, n + 1)], "text": ["t"] * n}))
    for coder, matrix in matrices.items():
        corpus = corpus.with_coder(coder, np.array(matrix, dtype=float), CODES)
    return corpus


@pytest.fixture()
def corpus() -> Corpus:
    return corpus_from({
        #        q1      q2      q3          q4          q5
        "ann": [[1, 0], [1, 0], [0, 0],     [1, 1],     [NAN, NAN]],
        "bob": [[1, 1], [0, 0], [NAN, NAN], [NAN, NAN], [NAN, NAN]],
        "cat": [[0, 1], [0, 0], [NAN, NAN], [1, 0],     [NAN, NAN]],
        "model:x": [[1, 1], [1, 1], [1, 1], [1, 1], [1, 1]],
    })


def matrix_of(result: Corpus, rule: str) -> np.ndarray:
    return result.label_matrix(f"consensus:{rule}", CODES)


def test_majority_counts_only_coders_who_saw_the_quote(corpus: Corpus) -> None:
    got = matrix_of(consensus(corpus, "majority"), "majority")
    assert got[0].tolist() == [1, 1]  # 2 of 3 for each code
    assert got[1].tolist() == [0, 0]  # 1 of 3: not a majority
    assert got[2].tolist() == [0, 0]  # only ann saw it, and assigned nothing: seen, no code
    assert got[3].tolist() == [1, 0]  # 2 of 2 for a, 1 of 2 for b: a tie is not a majority
    assert np.isnan(got[4]).all()  # nobody saw it: not seen, not "no code"


def test_union(corpus: Corpus) -> None:
    got = matrix_of(consensus(corpus, "union"), "union")
    assert got[:4].tolist() == [[1, 1], [1, 0], [0, 0], [1, 1]]
    assert np.isnan(got[4]).all()


def test_named_coder_is_copied_with_its_unseen_rows(corpus: Corpus) -> None:
    result = consensus(corpus, "coder:bob")
    got = result.label_matrix("consensus:coder:bob", CODES)
    np.testing.assert_array_equal(got, corpus.label_matrix("bob", CODES))
    assert result.seen_by("consensus:coder:bob").tolist() == [True, True, False, False, False]


def test_no_code_rows_are_written_for_seen_quotes(corpus: Corpus) -> None:
    """In the long table, 'seen, no code' is one row with an empty code; 'not seen' is no row."""
    rows = consensus(corpus, "majority").annotations
    rows = rows[rows["coder"] == "consensus:majority"]
    assert sorted(rows["quote_id"].unique()) == ["q1", "q2", "q3", "q4"]
    assert rows.loc[rows["quote_id"] == "q3", "code"].isna().tolist() == [True]


def test_models_do_not_vote_unless_named(corpus: Corpus) -> None:
    default = matrix_of(consensus(corpus, "union"), "union")
    assert default[2].tolist() == [0, 0]  # the model's 1s on q3 are ignored
    with_model = consensus(corpus, "union", coders=["ann", "model:x"], name="ann+model")
    assert with_model.label_matrix("ann+model", CODES)[2].tolist() == [1, 1]
    assert not np.isnan(with_model.label_matrix("ann+model", CODES)[4]).any()


def test_rerunning_replaces_the_consensus_coder(corpus: Corpus) -> None:
    twice = consensus(consensus(corpus, "majority"), "majority")
    once = consensus(corpus, "majority")
    pd.testing.assert_frame_equal(twice.annotations, once.annotations)


def test_a_consensus_coder_never_votes_in_the_next_consensus(corpus: Corpus) -> None:
    """A union coder voting in a later majority would tip ties (here q4 code b: 1 of 2 -> 2 of 3)."""
    after_union = consensus(consensus(corpus, "union"), "majority")
    assert "consensus:union" not in after_union.human_coders
    np.testing.assert_array_equal(matrix_of(after_union, "majority"), matrix_of(consensus(corpus, "majority"), "majority"))


def test_consensus_keeps_original_coders(corpus: Corpus) -> None:
    result = consensus(corpus, "majority")
    for coder in corpus.coders:
        np.testing.assert_array_equal(result.label_matrix(coder, CODES), corpus.label_matrix(coder, CODES))


def test_bad_rules(corpus: Corpus) -> None:
    with pytest.raises(ValueError, match="unknown consensus rule"):
        consensus(corpus, "mode")
    with pytest.raises(ValueError, match="no coder 'zed'"):
        consensus(corpus, "coder:zed")
    empty = Corpus(quotes=pd.DataFrame({"quote_id": ["q1"], "text": ["t"]}))
    with pytest.raises(ValueError, match="no coders"):
        consensus(empty, "majority")


def test_consensus_matrix_directly() -> None:
    stack = [np.array([[1.0], [NAN]]), np.array([[0.0], [NAN]]), np.array([[1.0], [1.0]])]
    got = consensus_matrix(stack, "majority")
    assert got.tolist() == [[1.0], [1.0]]  # second quote: 1 of the 1 coder who saw it
