"""Every bad input named in issue #2 fails with an InputError that names the file, the row and the field.

Rows are 1-based with the header excluded (as a researcher counts them in a spreadsheet); row 0 is
the header itself, for problems such as a missing column.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from lived_themes.codebook import Codebook
from lived_themes.corpus import load_corpus, load_quotes, load_wide, read_table
from lived_themes.errors import HEADER_ROW, InputError

BOOK = Codebook.from_codes(["housing", "racism"], name="tiny")


def write_csv(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def good_quotes(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "quotes.csv", [{"quote_id": "q1", "text": "No home."}, {"quote_id": "q2", "text": "They judged me."}])


def assert_located(error: InputError, *, file: Path, row: int, field: str) -> None:
    """The three parts are stored and all appear in the message a researcher reads."""
    assert error.file == str(file)
    assert error.row == row
    assert error.field == field
    message = str(error)
    assert str(file) in message
    assert ("header row" if row == HEADER_ROW else f"row {row}") in message
    assert f"'{field}'" in message


def test_missing_text_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "quotes.csv", [{"quote_id": "q1", "body": "No home."}])
    with pytest.raises(InputError) as info:
        load_quotes(path)
    assert_located(info.value, file=path, row=HEADER_ROW, field="text")
    assert "body" in str(info.value)  # the columns that are there, so the mapping can be fixed


def test_column_mapping_naming_an_absent_column(tmp_path: Path) -> None:
    path = good_quotes(tmp_path)
    with pytest.raises(InputError) as info:
        load_quotes(path, column_mapping={"comment": "text"})
    assert_located(info.value, file=path, row=HEADER_ROW, field="comment")


@pytest.mark.parametrize("bad_text", ["", "   \t "])
def test_empty_text(tmp_path: Path, bad_text: str) -> None:
    path = write_csv(tmp_path / "quotes.csv", [{"quote_id": "q1", "text": "ok"}, {"quote_id": "q2", "text": "ok"}, {"quote_id": "q3", "text": bad_text}])
    with pytest.raises(InputError) as info:
        load_quotes(path)
    assert_located(info.value, file=path, row=3, field="text")
    assert "empty" in str(info.value)


@pytest.mark.parametrize("bad_text", [42, ["a", "list"], True])
def test_non_text_text_in_jsonl(tmp_path: Path, bad_text: object) -> None:
    path = tmp_path / "quotes.jsonl"
    lines = [{"quote_id": "q1", "text": "fine"}, {"quote_id": "q2", "text": bad_text}]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_quotes(path)
    assert_located(info.value, file=path, row=2, field="text")
    assert "not text" in str(info.value)


def test_duplicate_quote_ids(tmp_path: Path) -> None:
    rows = [{"quote_id": "q1", "text": "a"}, {"quote_id": "q2", "text": "b"}, {"quote_id": "q1", "text": "c"}]
    path = write_csv(tmp_path / "quotes.csv", rows)
    with pytest.raises(InputError) as info:
        load_quotes(path)
    assert_located(info.value, file=path, row=3, field="quote_id")
    assert "first seen at row 1" in str(info.value)


def test_ids_that_differ_only_as_numbers_are_distinct(tmp_path: Path) -> None:
    """CSV cells are read as text: '7' and '007' are two ids, not a duplicate."""
    path = tmp_path / "quotes.csv"
    path.write_text('quote_id,text\n007,a\n7,b\n', encoding="utf-8")
    quotes, _, _ = load_quotes(path)
    assert quotes["quote_id"].tolist() == ["007", "7"]


def test_code_missing_from_the_codebook(tmp_path: Path) -> None:
    ann = write_csv(tmp_path / "annotations.csv", [
        {"quote_id": "q1", "coder": "ann", "code": "housing"},
        {"quote_id": "q2", "coder": "ann", "code": "racsim"},
    ])
    with pytest.raises(InputError) as info:
        load_corpus(good_quotes(tmp_path), ann, codebook=BOOK)
    assert_located(info.value, file=ann, row=2, field="code")
    assert "racsim" in str(info.value) and "racism" in str(info.value)


def test_annotation_for_unknown_quote_id(tmp_path: Path) -> None:
    ann = write_csv(tmp_path / "annotations.csv", [
        {"quote_id": "q1", "coder": "ann", "code": "housing"},
        {"quote_id": "q2", "coder": "ann", "code": "racism"},
        {"quote_id": "q9", "coder": "ann", "code": "racism"},
    ])
    with pytest.raises(InputError) as info:
        load_corpus(good_quotes(tmp_path), ann, codebook=BOOK)
    assert_located(info.value, file=ann, row=3, field="quote_id")
    assert "q9" in str(info.value)


def test_unknown_quote_row_counts_rows_of_set_aside_quotes(tmp_path: Path) -> None:
    """Annotations of set-aside quotes are moved aside too; later rows keep their file row numbers."""
    quotes = write_csv(tmp_path / "quotes.csv", [{"quote_id": "q1", "text": "a"}, {"quote_id": "q2", "text": ""}])
    ann = write_csv(tmp_path / "annotations.csv", [
        {"quote_id": "q2", "coder": "ann", "code": "housing"},
        {"quote_id": "q1", "coder": "ann", "code": "racism"},
        {"quote_id": "q9", "coder": "ann", "code": "racism"},
    ])
    with pytest.raises(InputError) as info:
        load_corpus(quotes, ann, codebook=BOOK, on_invalid="set_aside")
    assert_located(info.value, file=ann, row=3, field="quote_id")


def test_empty_coder(tmp_path: Path) -> None:
    ann = write_csv(tmp_path / "annotations.csv", [{"quote_id": "q1", "coder": "", "code": "housing"}])
    with pytest.raises(InputError) as info:
        load_corpus(good_quotes(tmp_path), ann)
    assert_located(info.value, file=ann, row=1, field="coder")


def test_same_code_twice(tmp_path: Path) -> None:
    ann = write_csv(tmp_path / "annotations.csv", [{"quote_id": "q1", "coder": "ann", "code": "housing"}] * 2)
    with pytest.raises(InputError) as info:
        load_corpus(good_quotes(tmp_path), ann)
    assert_located(info.value, file=ann, row=2, field="code")


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_file_that_is_not_utf8(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"quotes{suffix}"
    if suffix == ".jsonl":
        body = '{"quote_id": "q1", "text": "fine"}\n{"quote_id": "q2", "text": "caf\xe9"}\n'
    else:
        sep = "\t" if suffix == ".tsv" else ","
        body = f"quote_id{sep}text{sep}site\nq1{sep}fine{sep}north\nq2{sep}caf\xe9{sep}south\n"
    path.write_bytes(body.encode("latin-1"))
    with pytest.raises(InputError) as info:
        read_table(path)
    assert_located(info.value, file=path, row=2, field="text")
    assert "UTF-8" in str(info.value)


def test_not_utf8_in_the_header(tmp_path: Path) -> None:
    path = tmp_path / "quotes.csv"
    path.write_bytes("quote_id,text,r\xe9gion\nq1,fine,north\n".encode("latin-1"))
    with pytest.raises(InputError) as info:
        read_table(path)
    assert info.value.file == str(path) and info.value.row == HEADER_ROW
    assert "header row" in str(info.value)


@pytest.mark.parametrize("bad", ["2", "yes", "0.5", "-1"])
def test_wide_code_column_not_zero_one(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(f"quote_id,text,housing,racism\nq1,a,1,0\nq2,b,0,{bad}\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_wide(path, coder="ann", code_columns=["housing", "racism"])
    assert_located(info.value, file=path, row=2, field="racism")
    assert repr(bad) in str(info.value)


def test_wide_partly_blank_row_is_an_error_unless_blank_means_zero(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("quote_id,text,housing,racism\nq1,a,1,\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_wide(path, coder="ann", code_columns=["housing", "racism"])
    assert_located(info.value, file=path, row=1, field="racism")
    corpus = load_wide(path, coder="ann", code_columns=["housing", "racism"], blank="zero")
    assert corpus.label_matrix("ann").tolist() == [[1.0, 0.0]]


def test_wide_quote_errors_name_the_wide_file(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("quote_id,text,housing\nq1,a,1\nq2,,0\nq1,c,0\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_wide(path, coder="ann", code_columns=["housing"])
    assert_located(info.value, file=path, row=3, field="quote_id")
    path.write_text("quote_id,text,housing\nq1,a,1\nq2,,0\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_wide(path, coder="ann", code_columns=["housing"])
    assert_located(info.value, file=path, row=2, field="text")


def test_wide_code_column_missing_from_the_codebook(tmp_path: Path) -> None:
    """Checked on the header, so a code column that happens to hold no 1s is not ignored silently."""
    path = tmp_path / "wide.csv"
    path.write_text("quote_id,text,housing,racsim\nq1,a,1,0\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_wide(path, coder="ann", code_columns=["housing", "racsim"], codebook=BOOK)
    assert_located(info.value, file=path, row=HEADER_ROW, field="racsim")


def test_wide_code_column_span_not_found(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("quote_id,text,housing\nq1,a,1\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_wide(path, coder="ann", code_columns_from="Housing")
    assert_located(info.value, file=path, row=HEADER_ROW, field="Housing")


def test_bad_json_line(tmp_path: Path) -> None:
    path = tmp_path / "quotes.jsonl"
    path.write_text('{"quote_id": "q1", "text": "a"}\n{"quote_id": "q2", "text": }\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_table(path)
    assert info.value.file == str(path) and info.value.row == 2


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found") as info:
        read_table(tmp_path / "nope.csv")
    assert info.value.file == str(tmp_path / "nope.csv")
    (tmp_path / "quotes.xlsx").write_bytes(b"x")
    with pytest.raises(InputError, match="unknown table format"):
        read_table(tmp_path / "quotes.xlsx")
