"""The corpus model: 'saw it, no code' vs 'did not see it', matrices, long <-> wide, derived corpora."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lived_themes.codebook import Codebook
from lived_themes.corpus import Corpus, load_wide, write_table
from lived_themes.errors import InputError

CODES = ["housing", "racism", "medication"]
BOOK = Codebook.from_codes(CODES, name="tiny")


@pytest.fixture()
def corpus() -> Corpus:
    """ann sees q1-q3 (q3 with no code); bob sees q1 and q4 only; a model sees everything."""
    quotes = pd.DataFrame({"quote_id": ["q1", "q2", "q3", "q4"], "text": ["a", "b", "c", "d"], "site": ["n", "n", "s", "s"]})
    annotations = pd.DataFrame({
        "quote_id": ["q1", "q1", "q2", "q3", "q1", "q4", "q1", "q2", "q3", "q4"],
        "coder": ["ann", "ann", "ann", "ann", "bob", "bob", "model:lr", "model:lr", "model:lr", "model:lr"],
        "code": ["housing", "racism", "medication", None, "housing", "", "housing", None, None, "racism"],
    })
    return Corpus(quotes=quotes, annotations=annotations, codebook=BOOK)


def test_no_code_differs_from_not_seen(corpus: Corpus) -> None:
    ann = corpus.label_matrix("ann")
    assert ann[2].tolist() == [0, 0, 0]  # saw q3, assigned nothing
    assert np.isnan(ann[3]).all()  # never saw q4
    bob = corpus.label_matrix("bob")
    assert bob[3].tolist() == [0, 0, 0]  # an empty-string code also means "no code"
    assert np.isnan(bob[1:3]).all()
    assert corpus.seen_by("ann").tolist() == [True, True, True, False]
    assert corpus.seen_by("bob").tolist() == [True, False, False, True]


def test_matrix_values_and_code_order(corpus: Corpus) -> None:
    assert corpus.codes == CODES  # codebook order, not alphabetical
    assert corpus.label_matrix("ann")[:2].tolist() == [[1, 1, 0], [0, 0, 1]]
    assert corpus.label_matrix("ann", ["medication", "housing"])[:2].tolist() == [[0, 1], [1, 0]]
    assert set(corpus.label_matrices()) == {"ann", "bob", "model:lr"}


def test_coder_lists(corpus: Corpus) -> None:
    assert corpus.coders == ["ann", "bob", "model:lr"]
    assert corpus.human_coders == ["ann", "bob"]


def test_codes_without_codebook_are_the_observed_ones(corpus: Corpus) -> None:
    bare = Corpus(quotes=corpus.quotes, annotations=corpus.annotations)
    assert bare.codes == ["housing", "medication", "racism"]


def test_to_wide_keeps_the_distinction(corpus: Corpus) -> None:
    wide = corpus.to_wide("ann")
    assert wide["quote_id"].tolist() == ["q1", "q2", "q3"]
    assert wide[CODES].values.tolist() == [[1, 1, 0], [0, 0, 1], [0, 0, 0]]
    full = corpus.to_wide("ann", include_unseen=True)
    assert full[CODES].iloc[3].isna().all()


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
@pytest.mark.parametrize("include_unseen", [False, True])
def test_long_wide_long_round_trip(corpus: Corpus, tmp_path: Path, fmt: str, include_unseen: bool) -> None:
    """to_wide -> file -> load_wide gives back the same matrix, 'not seen' rows included."""
    for coder in corpus.coders:
        wide = corpus.to_wide(coder, include_unseen=include_unseen).merge(corpus.quotes, on="quote_id")
        path = write_table(wide, tmp_path / f"{coder.replace(':', '_')}.{fmt}")
        back = load_wide(path, coder=coder, code_columns=CODES, codebook=BOOK)
        expected = corpus.subset(back.quote_ids)
        np.testing.assert_array_equal(back.label_matrix(coder), expected.label_matrix(coder))
        assert set(back.quote_ids) == (set(corpus.quote_ids) if include_unseen else set(np.array(corpus.quote_ids)[corpus.seen_by(coder)]))
        assert back.quotes.set_index("quote_id")["text"].to_dict() == corpus.quotes.set_index("quote_id").loc[back.quote_ids, "text"].to_dict()


def test_wide_long_wide_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("quote_id,text,housing,racism,medication\nq1,a,1,0,1\nq2,b,0,0,0\nq3,c,,,\n", encoding="utf-8")
    corpus = load_wide(path, coder="ann", code_columns=CODES)
    long = corpus.annotations
    assert long[["quote_id", "code"]].fillna("").values.tolist() == [["q1", "housing"], ["q1", "medication"], ["q2", ""]]
    again = corpus.to_wide("ann", include_unseen=True).merge(corpus.quotes, on="quote_id")
    written = write_table(again[["quote_id", "text", *CODES]], tmp_path / "again.csv")
    assert written.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")


def test_with_coder_adds_a_model_as_one_more_coder(corpus: Corpus) -> None:
    matrix = np.array([[1, 0, 0], [0, 0, 0], [np.nan, np.nan, np.nan]])
    new = corpus.with_coder("model:svm", matrix, CODES, quote_ids=["q1", "q2", "q3"])
    assert "model:svm" in new.coders and "model:svm" not in new.human_coders
    got = new.label_matrix("model:svm")
    assert got[:2].tolist() == [[1, 0, 0], [0, 0, 0]] and np.isnan(got[2:]).all()
    replaced = new.with_coder("model:svm", np.ones((4, 3)), CODES)
    assert replaced.label_matrix("model:svm").sum() == 12
    assert "model:svm" not in corpus.coders  # the original is untouched


def test_subset_keeps_annotations_of_kept_quotes(corpus: Corpus) -> None:
    small = corpus.subset(["q4", "q1"])
    assert small.quote_ids == ["q1", "q4"]
    assert set(small.annotations["quote_id"]) == {"q1", "q4"}
    np.testing.assert_array_equal(small.label_matrix("bob"), corpus.label_matrix("bob")[[0, 3]])


def test_quote_ids_become_text(corpus: Corpus) -> None:
    numbered = Corpus(quotes=pd.DataFrame({"quote_id": [1, 2], "text": ["a", "b"]}),
                      annotations=pd.DataFrame({"quote_id": [2], "coder": ["ann"], "code": ["x"]}))
    assert numbered.quote_ids == ["1", "2"]
    assert numbered.seen_by("ann").tolist() == [False, True]


@pytest.mark.parametrize(
    ("quotes", "annotations", "field"),
    [
        ({"quote_id": ["q1"], "body": ["a"]}, None, "text"),
        ({"quote_id": ["q1", "q1"], "text": ["a", "b"]}, None, "quote_id"),
        ({"quote_id": ["q1", "q2"], "text": ["a", " "]}, None, "text"),
        ({"quote_id": ["q1"], "text": ["a"]}, {"quote_id": ["q2"], "coder": ["ann"], "code": ["housing"]}, "quote_id"),
        ({"quote_id": ["q1"], "text": ["a"]}, {"quote_id": ["q1"], "coder": ["ann"], "code": ["nope"]}, "code"),
    ],
)
def test_corpus_validates_in_memory_tables(quotes: dict, annotations: dict | None, field: str) -> None:
    ann = pd.DataFrame(annotations) if annotations else pd.DataFrame(columns=["quote_id", "coder", "code"])
    with pytest.raises(InputError) as info:
        Corpus(quotes=pd.DataFrame(quotes), annotations=ann, codebook=BOOK)
    assert info.value.field == field


def test_describe_counts(corpus: Corpus) -> None:
    from lived_themes.corpus.describe import code_counts, group_columns, group_code_counts

    counts = code_counts(corpus)
    assert counts.loc["(no code)", "ann"] == 1 and counts.loc["(not seen)", "ann"] == 1
    assert counts.loc["(not seen)", "bob"] == 2 and counts.loc["housing", "bob"] == 1
    assert group_columns(corpus) == ["site"]
    by_site = group_code_counts(corpus, "site", "ann")
    assert by_site.loc["n", "quotes"] == 2 and by_site.loc["s", "medication"] == 0 and by_site.loc["n", "medication"] == 1
