"""Ids, headers and privacy (probes C21, C45-C48, P05, P12, P18-P20, P22, B16, B19, L03-L05)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lived_themes.corpus import load_corpus, load_quotes, load_wide
from lived_themes.corpus.validate import normalise_id
from lived_themes.errors import InputError, shown

from .conftest import SECRET, TEXTS, assert_located, invoke


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _predict_ids(model: Path, source: Path, out: Path) -> list[object]:
    result = invoke("predict", model, source, "-o", out)
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    return [json.loads(line, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON output"))["id"] for line in lines]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("007", "007"), (1, "1"), (1.0, "1"), (np.float64(6.0), "6"), (4.5, "4.5"), (np.int64(3), "3"), (b"q1", "q1"),
     (pd.Timestamp("2024-05-01 09:30"), "2024-05-01T09:30:00"), (dt.date(2024, 5, 1), "2024-05-01"),
     (np.datetime64("2024-05-01T09:30"), "2024-05-01T09:30:00")],
)
def test_one_id_rule(value: object, expected: str) -> None:
    assert normalise_id(value, file="f", row=1, field="quote_id") == expected


@pytest.mark.parametrize("value", [None, np.nan, pd.NA, pd.NaT, "", "  ", b"\xff\xfe", True, float("inf"), [1]])
def test_ids_that_are_refused_with_a_location(value: object) -> None:
    with pytest.raises(InputError, match=r"file f, row 3, field 'quote_id'"):
        normalise_id(value, file="f", row=3, field="quote_id")


def test_c21_jsonl_ids_with_one_float_still_match_csv_annotations(tiny_corpus: Path) -> None:
    records = [{"quote_id": i + 1, "text": t} for i, t in enumerate(TEXTS)]
    records[5]["quote_id"] = 6.0
    _jsonl(tiny_corpus / "quotes.jsonl", records)
    (tiny_corpus / "quotes.csv").unlink()
    corpus = load_corpus(tiny_corpus)
    assert corpus.quotes["quote_id"].tolist() == [str(i) for i in range(1, 11)]
    assert len(corpus.annotations) > 0


def test_p12_predict_keeps_integer_ids_integer_text(tfidf_model: Path, tmp_path: Path) -> None:
    records = [{"quote_id": i, "text": TEXTS[i - 1]} for i in range(1, 11)]
    records[3]["quote_id"] = 4.5
    ids = _predict_ids(tfidf_model, _jsonl(tmp_path / "in.jsonl", records), tmp_path / "out.jsonl")
    assert ids == ["1", "2", "3", "4.5", "5", "6", "7", "8", "9", "10"]


def test_p05_an_empty_id_cell_is_a_located_error_not_a_bare_nan(tfidf_model: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("quote_id,text\nq1,I was heard\n,I was not heard\n", encoding="utf-8")
    assert_located(invoke("predict", tfidf_model, source, "-o", tmp_path / "o.jsonl"), "row 2", "quote_id", "empty")
    row_of_commas = tmp_path / "commas.csv"
    row_of_commas.write_text("quote_id,text\nq1,I was heard\n,\n", encoding="utf-8")
    assert_located(invoke("predict", tfidf_model, row_of_commas, "-o", tmp_path / "o.jsonl"), "row 2", "empty")


def test_p18_p19_p20_parquet_ids(tfidf_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    texts = TEXTS[:3]
    frame = pd.DataFrame({"quote_id": pd.array([1, 2, None], dtype="Int64"), "text": texts})
    frame.to_parquet(tmp_path / "nullable.parquet")
    assert_located(invoke("predict", tfidf_model, tmp_path / "nullable.parquet", "-o", tmp_path / "o.jsonl"), "row 3", "empty")
    frame["quote_id"] = pd.array([1, 2, 3], dtype="Int64")
    frame.to_parquet(tmp_path / "ints.parquet")
    assert _predict_ids(tfidf_model, tmp_path / "ints.parquet", tmp_path / "o.jsonl") == ["1", "2", "3"]
    frame["quote_id"] = pd.to_datetime(["2024-01-01 00:00", "2024-01-02 10:00", "2024-01-03 00:00"])
    frame.to_parquet(tmp_path / "dates.parquet")
    assert _predict_ids(tfidf_model, tmp_path / "dates.parquet", tmp_path / "o.jsonl")[1] == "2024-01-02T10:00:00"
    frame["quote_id"] = [b"a1", b"a2", b"a3"]
    frame.to_parquet(tmp_path / "bytes.parquet")
    assert _predict_ids(tfidf_model, tmp_path / "bytes.parquet", tmp_path / "o.jsonl") == ["a1", "a2", "a3"]
    frame["quote_id"] = [b"a1", b"\xff", b"a3"]
    frame.to_parquet(tmp_path / "badbytes.parquet")
    assert_located(invoke("predict", tfidf_model, tmp_path / "badbytes.parquet", "-o", tmp_path / "o.jsonl"), "row 2", "UTF-8")


def _wide(tmp_path: Path) -> Path:
    path = tmp_path / "wide_dup_header.csv"
    path.write_text("quote_id,text,over_medication,waiting,over_medication\n1,a b,1,0,1\n2,c d,0,1,1\n", encoding="utf-8")
    return path


def test_c45_c46_a_repeated_code_column_is_an_error(tmp_path: Path) -> None:
    path = _wide(tmp_path)
    for kwargs in ({"code_columns": ["over_medication", "waiting"]}, {"code_columns_from": "over_medication"}):
        with pytest.raises(InputError, match=r"header row, field 'over_medication': column 'over_medication' appears twice"):
            load_wide(path, coder="a", **kwargs)


def test_c47_c48_p22_repeated_headers_in_long_files_and_predict_input(tiny_corpus: Path, tfidf_model: Path, tmp_path: Path) -> None:
    ann = tiny_corpus / "annotations.csv"
    ann.write_text("quote_id,coder,code,code\n1,report,staff,waiting\n", encoding="utf-8")
    assert_located(invoke("describe", tiny_corpus), "annotations.csv", "header row", "'code' appears twice")
    quotes = tmp_path / "dup_text.csv"
    quotes.write_text("quote_id,text,text\nq1,a,b\n", encoding="utf-8")
    with pytest.raises(InputError, match="'text' appears twice"):
        load_quotes(quotes)
    assert_located(invoke("predict", tfidf_model, quotes, "-o", tmp_path / "o.jsonl"), "'text' appears twice")


def test_a_jsonl_line_with_a_repeated_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"quote_id": "1", "text": "a"}\n{"quote_id": "2", "text": "b", "text": "c"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"row 2, field 'text'"):
        load_quotes(path)


def test_a_column_mapping_onto_an_existing_column_is_an_error(tmp_path: Path) -> None:
    frame = pd.DataFrame({"quote_id": ["1"], "text": ["a"], "comment": ["b"]})
    with pytest.raises(InputError, match="after the column mapping"):
        load_quotes(frame, column_mapping={"comment": "text"})


def test_b16_a_codebook_with_two_codes_keys_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup_keys.yaml"
    path.write_text("name: x\nversion: '1'\ncodes:\n  - {id: a, label: A}\ncodes:\n  - {id: b, label: B}\n", encoding="utf-8")
    assert_located(invoke("codebook", path), "dup_keys.yaml", "'codes' twice")


def test_b19_a_pipe_in_a_code_id_is_escaped_in_the_markdown_table(tmp_path: Path) -> None:
    path = tmp_path / "pipes.yaml"
    path.write_text("name: x\nversion: '1'\ncodes:\n  - {id: 'a|b', label: 'x | y'}\n", encoding="utf-8")
    result = invoke("codebook", path)
    row = next(line for line in result.output.splitlines() if line.startswith("| `a"))
    assert row.replace("\\|", "").count("|") == 7  # six cells: no extra cell from the id's pipe


def test_l03_code_columns_from_the_text_column_does_not_print_the_quote(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    pd.DataFrame({"quote_id": ["1"], "text": [SECRET], "staff": ["1"]}).to_csv(path, index=False)
    with pytest.raises(InputError) as info:
        load_wide(path, coder="a", code_columns_from="text")
    assert SECRET not in str(info.value) and "characters" in str(info.value)


def test_l04_the_text_column_mapped_as_id_does_not_print_the_quote(tmp_path: Path) -> None:
    frame = pd.DataFrame({"comment": [SECRET, SECRET], "orig_id": ["x", "y"]})
    with pytest.raises(InputError, match="duplicate quote id a value of") as info:
        load_quotes(frame, column_mapping={"comment": "quote_id", "orig_id": "text"})
    assert SECRET not in str(info.value) and "row 2" in str(info.value)


def test_l05_a_free_text_column_mapped_as_code_does_not_print_the_cell(tiny_corpus: Path) -> None:
    ann = tiny_corpus / "annotations.csv"
    frame = pd.read_csv(ann, dtype=str)
    frame["evidence"] = SECRET
    frame.to_csv(ann, index=False)
    with pytest.raises(InputError) as info:
        load_corpus(tiny_corpus, annotation_mapping={"code": "old_code", "evidence": "code"})
    assert SECRET not in str(info.value) and "not in the codebook" in str(info.value)


def test_the_echo_rule_shows_short_ids_and_hides_sentences() -> None:
    assert shown("nsun2014-006") == "'nsun2014-006'"
    assert shown(87) == "87"
    assert SECRET not in shown(SECRET) and "64 characters" in shown(SECRET)
    assert "x" * 41 not in shown("x" * 41)
