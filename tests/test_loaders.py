"""Loaders on good input: every format, column mappings, load reports, and save -> load round trips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lived_themes.codebook import Codebook
from lived_themes.corpus import Corpus, load_annotations, load_corpus, load_quotes, load_wide, save_corpus, write_table

FORMATS = ["jsonl", "csv", "tsv", "parquet"]
BOOK = Codebook.from_codes(["housing", "racism", "medication"], name="tiny")


def tiny_corpus() -> Corpus:
    """Awkward text on purpose: separators, quotes, newlines, non-ASCII, an id with leading zeros."""
    quotes = pd.DataFrame({
        "quote_id": ["007", "q2", "q3", "q4"],
        "text": ['She said "no", twice.', "tab\there, comma, here", "line one\nline two", "Café – ‘curly’ 😊"],
        "source": ["focus_group", "survey", "survey", "focus_group"],
        "gender": ["woman", None, "man", "woman"],
    })
    annotations = pd.DataFrame({
        "quote_id": ["007", "007", "q2", "q3", "007", "q4"],
        "coder": ["ann", "ann", "ann", "ann", "bob", "bob"],
        "code": ["housing", "racism", None, "medication", "housing", None],
    })
    return Corpus(quotes=quotes, annotations=annotations, codebook=BOOK, name="tiny")


def assert_same_corpus(a: Corpus, b: Corpus) -> None:
    pd.testing.assert_frame_equal(a.quotes, b.quotes, check_dtype=False)
    pd.testing.assert_frame_equal(a.annotations, b.annotations, check_dtype=False)
    assert a.codebook.content_hash() == b.codebook.content_hash()
    for coder in a.coders:
        np.testing.assert_array_equal(a.label_matrix(coder), b.label_matrix(coder))


@pytest.mark.parametrize("fmt", FORMATS)
def test_save_load_round_trip(tmp_path: Path, fmt: str) -> None:
    """Load a saved corpus, save it again in the same format, load again: nothing changes."""
    first = load_corpus(save_corpus(tiny_corpus(), tmp_path / "one", format=fmt))
    assert (tmp_path / "one" / f"quotes.{fmt}").exists()
    second = load_corpus(save_corpus(first, tmp_path / "two", format=fmt))
    assert_same_corpus(first, second)
    original = tiny_corpus()
    assert second.quotes["text"].tolist() == original.texts
    assert second.quote_ids == original.quote_ids  # '007' keeps its zeros even in CSV
    for coder in original.coders:
        np.testing.assert_array_equal(second.label_matrix(coder), original.label_matrix(coder))
        np.testing.assert_array_equal(second.seen_by(coder), original.seen_by(coder))


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_typed_formats_keep_metadata_types(tmp_path: Path, fmt: str) -> None:
    corpus = tiny_corpus()
    corpus.quotes["line"] = [10, 20, 30, 40]
    loaded = load_corpus(save_corpus(corpus, tmp_path, format=fmt))
    assert loaded.quotes["line"].tolist() == [10, 20, 30, 40]
    assert pd.isna(loaded.quotes["gender"].iloc[1])


@pytest.mark.parametrize("fmt", FORMATS)
def test_set_aside_rows_survive_save_and_load(tmp_path: Path, fmt: str) -> None:
    wide = tmp_path / "wide.csv"
    wide.write_text("quote_id,text,housing,racism\nq1,a,1,0\nq2,,0,1\nq3,c,0,0\n", encoding="utf-8")
    corpus = load_wide(wide, coder="ann", code_columns=["housing", "racism"], on_invalid="set_aside")
    assert corpus.set_aside["quote_id"].tolist() == ["q2"] and corpus.set_aside["codes"].tolist() == [["racism"]]
    loaded = load_corpus(save_corpus(corpus, tmp_path / "saved", format=fmt))
    assert loaded.set_aside["quote_id"].tolist() == ["q2"]
    assert loaded.set_aside["row"].astype(int).tolist() == [2]
    assert loaded.set_aside["codes"].tolist() == [["racism"]]
    report = loaded.reports[0]
    assert report.n_kept + len(report.set_aside) == report.n_read == 3


@pytest.mark.parametrize("fmt", FORMATS)
def test_quotes_load_from_each_format(tmp_path: Path, fmt: str) -> None:
    frame = tiny_corpus().quotes
    path = write_table(frame, tmp_path / f"quotes.{fmt}")
    quotes, set_aside, report = load_quotes(path)
    assert quotes["text"].tolist() == frame["text"].tolist()
    assert len(set_aside) == 0
    assert (report.n_read, report.n_kept, report.source) == (4, 4, str(path))


def test_column_mapping_at_the_boundary(tmp_path: Path) -> None:
    quotes = tmp_path / "q.csv"
    quotes.write_text("ID,Comment,Site\n1,First,north\n2,Second,south\n", encoding="utf-8")
    ann = tmp_path / "a.tsv"
    ann.write_text("ID\trater\ttheme\n1\tann\thousing\n2\tann\t\n", encoding="utf-8")
    corpus = load_corpus(quotes, ann, codebook=BOOK, column_mapping={"ID": "quote_id", "Comment": "text"},
                         annotation_mapping={"ID": "quote_id", "rater": "coder", "theme": "code"})
    assert list(corpus.quotes.columns) == ["quote_id", "text", "Site"]
    assert corpus.label_matrix("ann").tolist() == [[1, 0, 0], [0, 0, 0]]


def test_datasets_dataset_source() -> None:
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"id": ["a", "b"], "body": ["x", "y"], "group": ["g1", "g2"]})
    quotes, _, report = load_quotes(ds, column_mapping={"id": "quote_id", "body": "text"})
    assert quotes["quote_id"].tolist() == ["a", "b"] and report.source == "<datasets.Dataset>"
    wide = datasets.Dataset.from_dict({"quote_id": ["a", "b"], "text": ["x", "y"], "c1": [1, 0], "c2": [1, 1]})
    corpus = load_wide(wide, coder="ann", code_columns=["c1", "c2"])
    assert corpus.label_matrix("ann").tolist() == [[1, 1], [0, 1]]


def test_long_annotations_keep_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "ann.csv"
    path.write_text('quote_id,coder,code,evidence\nq1,ann,housing,"he said, twice"\n', encoding="utf-8")
    frame, report = load_annotations(path)
    assert frame["evidence"].tolist() == ["he said, twice"] and report.n_read == report.n_kept == 1


def test_set_aside_is_reported_not_dropped(tmp_path: Path) -> None:
    quotes = tmp_path / "q.jsonl"
    rows = [{"quote_id": "q1", "text": "ok"}, {"quote_id": "q2", "text": "  "}, {"quote_id": "q3", "text": None}]
    quotes.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ann = tmp_path / "a.csv"
    ann.write_text("quote_id,coder,code\nq1,ann,housing\nq2,ann,racism\n", encoding="utf-8")
    corpus = load_corpus(quotes, ann, codebook=BOOK, on_invalid="set_aside")
    assert corpus.quote_ids == ["q1"]
    assert corpus.set_aside[["row", "quote_id"]].values.tolist() == [[2, "q2"], [3, "q3"]]
    assert corpus.set_aside["annotations"].iloc[0] == ["racism"]
    quote_report, ann_report = corpus.reports
    assert quote_report.n_read == quote_report.n_kept + len(quote_report.set_aside) == 3
    assert [entry["row"] for entry in quote_report.set_aside] == [2, 3]
    assert ann_report.n_read == 2 and ann_report.n_kept == 1 and "set-aside" in " ".join(ann_report.notes)


def test_generated_ids_are_noted(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text("text\nfirst\nsecond\n", encoding="utf-8")
    quotes, _, report = load_quotes(path, generate_ids=True)
    assert quotes["quote_id"].tolist() == ["row-1", "row-2"] and report.notes


def test_wide_code_column_span(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("quote_id,text,site,housing,racism,score\nq1,a,n,1,0,5\nq2,b,s,,,7\n", encoding="utf-8")
    corpus = load_wide(path, coder="ann", code_columns_from="housing", code_columns_to="racism")
    assert corpus.codes == ["housing", "racism"]
    assert list(corpus.quotes.columns) == ["quote_id", "text", "site", "score"]
    # blank="error": a row blank in every code column means the coder did not see it
    assert corpus.seen_by("ann").tolist() == [True, False]
    zero = load_wide(path, coder="ann", code_columns_from="housing", code_columns_to="racism", blank="zero")
    assert zero.seen_by("ann").tolist() == [True, True]
    assert zero.label_matrix("ann").tolist() == [[1, 0], [0, 0]]


def test_wide_accepts_boolean_spellings(tmp_path: Path) -> None:
    path = tmp_path / "wide.jsonl"
    rows = [{"quote_id": "q1", "text": "a", "x": True, "y": 0.0}, {"quote_id": "q2", "text": "b", "x": "FALSE", "y": 1}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert load_wide(path, coder="ann", code_columns=["x", "y"]).label_matrix("ann").tolist() == [[1, 0], [0, 1]]


def test_folder_without_quotes_file(tmp_path: Path) -> None:
    from lived_themes.errors import InputError

    with pytest.raises(InputError) as info:
        load_corpus(tmp_path)
    assert info.value.file == str(tmp_path)
