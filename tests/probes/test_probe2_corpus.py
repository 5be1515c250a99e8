"""Second probe round (../shared/reliability/probe-failures-2.md), corpus rows: encodings, look-alike ids, stray spaces,
one-code corpora, list-valued groups, special files and unreadable folders, lone surrogates and invisible text."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from .conftest import SECRET, TEXTS, assert_located, invoke



@pytest.fixture()
def bounded_memory() -> Iterator[None]:
    """At most 2 GB more address space while the test runs, so reading /dev/zero (the bug C44 was) fails fast."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    size = int(next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmSize")).split()[1]) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size + 2 * 1024**3, hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run(experiment: Path, *extra: str) -> object:
    return invoke("run", "-q", experiment, "--out", experiment.parent / "out", *extra)


def ok(result: object) -> None:
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]


def _recode(path: Path, encoding: str) -> None:
    path.write_bytes(path.read_text(encoding="utf-8").encode(encoding))


# ----- C01*: encodings ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("probe", "codec", "setting"), [
    ("C01", "utf-16", None), ("C01b", "utf-16", "utf-8-or-cp1252"), ("C01-be", "utf-16-be-bom", None),
    ("C01-32", "utf-32", "cp1252"),
])
def test_c01_a_file_with_a_utf16_or_utf32_bom_is_read_by_its_mark(experiment: Path, tiny_corpus: Path, probe: str, codec: str,
                                                                   setting: str | None) -> None:
    quotes = tiny_corpus / "quotes.csv"
    if codec == "utf-16-be-bom":
        quotes.write_bytes(b"\xfe\xff" + quotes.read_text(encoding="utf-8").encode("utf-16-be"))
    else:
        _recode(quotes, codec)
    ok(run(experiment, *(["--set", f"data.encoding={setting}"] if setting else [])))
    predictions = [json.loads(line) for line in (experiment.parent / "out" / "predictions.jsonl").read_text().splitlines()]
    assert sorted(p["quote_id"] for p in predictions) == sorted(str(i) for i in range(1, 11))


def test_c01c_utf16_setting_on_a_utf8_file_is_refused_without_mojibake(experiment: Path, tiny_corpus: Path) -> None:
    _recode(tiny_corpus / "quotes.csv", "utf-16")  # read by its BOM
    line = assert_located(run(experiment, "--set", "data.encoding=utf-16"), "annotations.csv", "reads as UTF-8", "remove data.encoding")
    assert len(line) < 600 and all(ord(ch) < 128 for ch in line), line


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16", "utf_32"])
def test_c01d_wrong_utf16_codec_never_echoes_the_file(experiment: Path, tiny_corpus: Path, codec: str) -> None:
    frame = pd.read_csv(tiny_corpus / "quotes.csv", dtype=str)
    frame.loc[0, "text"] = SECRET
    frame.to_csv(tiny_corpus / "quotes.csv", index=False)
    line = assert_located(run(experiment, "--set", f"data.encoding={codec}"), "quotes.csv", "not UTF-16/32")
    for text in TEXTS:
        assert text not in line and text.encode("utf-8").decode("utf-16-le", "replace") not in line
    assert len(line) < 600


def test_c01_utf16_without_a_bom_is_named_not_echoed(experiment: Path, tiny_corpus: Path) -> None:
    quotes = tiny_corpus / "quotes.csv"
    quotes.write_bytes(quotes.read_text(encoding="utf-8").encode("utf-16-le"))
    line = assert_located(run(experiment), "quotes.csv", "NUL", "UTF-16")
    assert "\x00" not in line


def test_c01d_a_huge_header_is_described_by_its_length(tmp_path: Path) -> None:
    from lived_themes.corpus import load_quotes
    from lived_themes.errors import InputError

    path = tmp_path / "q.csv"
    path.write_text(f"{SECRET} {SECRET}\n1\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_quotes(path)
    assert SECRET not in str(caught.value) and "characters" in str(caught.value) and "encoding" in str(caught.value)


# ----- C09, C09b, C10b, C32: look-alike ids and codes ----------------------------------------------------

def _two_quotes(tiny_corpus: Path, first: str, second: str, annotate: list[str]) -> None:
    pd.DataFrame({"quote_id": [first, second], "text": TEXTS[:2]}).to_csv(tiny_corpus / "quotes.csv", index=False)
    pd.DataFrame({"quote_id": annotate, "coder": "report", "code": "staff"}).to_csv(tiny_corpus / "annotations.csv", index=False)


NFC, NFD = "caf\u00e9", "cafe\u0301"


def test_c09_nfc_and_nfd_twins_are_refused(experiment: Path, tiny_corpus: Path) -> None:
    _two_quotes(tiny_corpus, NFC, NFD, [NFC, NFD])
    assert_located(run(experiment), "quotes.csv", "row 2", "quote_id", "Unicode normalisation", "row 1")


def test_c09b_unknown_id_that_is_an_nfd_twin_gets_a_hint(experiment: Path, tiny_corpus: Path) -> None:
    _two_quotes(tiny_corpus, NFC, "q2", [NFD, "q2"])
    assert_located(run(experiment), "annotations.csv", "row 1", "unknown quote id", "Unicode normalisation")


def test_c10b_whitespace_twins_are_refused(experiment: Path, tiny_corpus: Path) -> None:
    _two_quotes(tiny_corpus, "q000", "q000 ", ["q000", "q000 "])
    assert_located(run(experiment), "quotes.csv", "row 2", "'q000 '", "trailing", "whitespace")


def test_c10b_unknown_id_with_a_stray_space_gets_a_hint(experiment: Path, tiny_corpus: Path) -> None:
    _two_quotes(tiny_corpus, "q000", "q001", [" q000", "q001"])
    assert_located(run(experiment), "annotations.csv", "' q000' (with a leading space)", "whitespace")


def test_c32_code_with_a_leading_space_is_shown_with_its_space(experiment: Path, tiny_corpus: Path) -> None:
    frame = pd.read_csv(tiny_corpus / "annotations.csv", dtype=str)
    frame.loc[2, "code"] = " waiting"
    frame.to_csv(tiny_corpus / "annotations.csv", index=False)
    assert_located(run(experiment), "annotations.csv", "row 3", "' waiting'", "leading space", "remove the stray spaces")


def test_shown_still_hides_sentences() -> None:
    from lived_themes.errors import shown

    assert "not shown" in shown(" two words ") and "not shown" in shown(SECRET) and "not shown" in shown("x" * 45 + " ")


# ----- C16: one code; C18c: list-valued group column -----------------------------------------------------

def test_c16_a_single_code_corpus_runs_under_kfold(experiment: Path, tiny_corpus: Path) -> None:
    frame = pd.read_csv(tiny_corpus / "annotations.csv", dtype=str)
    frame = frame.assign(code="waiting").drop_duplicates()
    frame.to_csv(tiny_corpus / "annotations.csv", index=False)
    (tiny_corpus / "codebook.yaml").write_text("name: one\nversion: '1'\ncodes:\n  - id: waiting\n    label: Waiting\n", encoding="utf-8")
    ok(run(experiment, "--set", "splits=[{kind: kfold, n_splits: 2}]", "--set", "coders=[{name: majority.v1}, {name: tfidf-logreg.v2,"
                                                                                     " params: {tune: false}}]"))
    import numpy as np

    from lived_themes.splits import (
        kfold_multilabel,
        train_test_split_by_group,
        validation_split,
    )

    y = np.array([[1], [0]] * 5)
    assert len(kfold_multilabel(y, n_splits=2)) == 2
    assert len(train_test_split_by_group(y, [str(i) for i in range(10)], test_size=0.3)[0].test_idx) == 3
    assert len(validation_split(y, size=0.2)[1]) == 2


def test_c18c_a_list_valued_group_column_is_refused_naming_it(experiment: Path, tiny_corpus: Path) -> None:
    frame = pd.read_csv(tiny_corpus / "quotes.csv", dtype=str)
    frame["site"] = [["a", "b"]] * len(frame)
    frame.to_parquet(tiny_corpus / "quotes.parquet", index=False)
    (tiny_corpus / "quotes.csv").unlink()
    line = assert_located(run(experiment, "--set", "evaluation.groups=[site]"), "quotes.parquet", "row 1", "field 'site'",
                          "evaluation.groups.0", "holds a")
    assert "ambiguous" not in line


# ----- C21, C21b, C23c, C43, C44: paths that are not plain readable files -----------------------------------

def test_c21_data_path_that_is_a_symlink_loop(experiment: Path, tmp_path: Path) -> None:
    os.symlink(tmp_path / "loopB", tmp_path / "loopA")
    os.symlink(tmp_path / "loopA", tmp_path / "loopB")
    assert_located(run(experiment, "--set", f"data.path={tmp_path / 'loopA'}"), "loopA", "symlink loop")


def test_c21b_quotes_file_that_links_to_itself(experiment: Path, tiny_corpus: Path) -> None:
    (tiny_corpus / "quotes.csv").unlink()
    os.symlink("quotes.jsonl", tiny_corpus / "quotes.jsonl")
    assert_located(run(experiment), "quotes.jsonl", "symlink loop")


def test_c21_broken_symlink_is_named(experiment: Path, tiny_corpus: Path) -> None:
    (tiny_corpus / "quotes.csv").unlink()
    os.symlink(tiny_corpus / "gone.csv", tiny_corpus / "quotes.csv")
    assert_located(run(experiment), "quotes.csv", "broken symlink")


def test_c23c_unreadable_corpus_folder_is_named(experiment: Path, tiny_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() == 0:  # root reads anything: simulate the missing permission where it is checked
        real = os.listdir

        def listdir(path: object = ".") -> list[str]:
            if Path(str(path)) == tiny_corpus:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "listdir", listdir)
        line = assert_located(run(experiment), str(tiny_corpus), "permission denied", "folder")
    else:
        tiny_corpus.chmod(0)
        try:
            line = assert_located(run(experiment), str(tiny_corpus), "permission denied", "folder")
        finally:
            tiny_corpus.chmod(0o755)
    assert "set_aside" not in line


def test_c43_quotes_file_that_is_a_fifo_is_refused_without_reading(experiment: Path, tiny_corpus: Path, no_hang: None) -> None:
    (tiny_corpus / "quotes.csv").unlink()
    os.mkfifo(tiny_corpus / "quotes.jsonl")
    assert_located(run(experiment), "quotes.jsonl", "named pipe", "not a regular file")


def test_c44_quotes_file_that_links_to_dev_zero_is_refused(experiment: Path, tiny_corpus: Path, no_hang: None,
                                                          bounded_memory: None) -> None:
    (tiny_corpus / "quotes.csv").unlink()
    os.symlink("/dev/zero", tiny_corpus / "quotes.jsonl")
    assert_located(run(experiment), "quotes.jsonl", "character device", "/dev/zero", "not a regular file")


def test_c43_special_files_are_refused_by_every_table_reader(tmp_path: Path, no_hang: None, bounded_memory: None) -> None:
    from lived_themes.codebook import load_codebook
    from lived_themes.corpus import read_table
    from lived_themes.errors import InputError

    os.mkfifo(tmp_path / "fifo.csv")
    os.symlink("/dev/null", tmp_path / "null.yaml")
    with pytest.raises(InputError, match="named pipe"):
        read_table(tmp_path / "fifo.csv")
    with pytest.raises(InputError, match="character device"):
        load_codebook(tmp_path / "null.yaml")
    assert_located(invoke("run", "-q", tmp_path / "null.yaml"), "character device")


# ----- C38, C39: text that is not text -------------------------------------------------------------------

def _jsonl_quotes(tiny_corpus: Path, text_of_third: str) -> None:
    frame = pd.read_csv(tiny_corpus / "quotes.csv", dtype=str)
    (tiny_corpus / "quotes.csv").unlink()
    lines = [json.dumps({"quote_id": q, "text": t}) for q, t in zip(frame["quote_id"], frame["text"])]
    lines[2] = '{"quote_id": "3", "text": "' + text_of_third + '"}'
    (tiny_corpus / "quotes.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_c38_lone_surrogate_is_located(experiment: Path, tiny_corpus: Path) -> None:
    _jsonl_quotes(tiny_corpus, "I waited \\ud800 long")
    assert_located(run(experiment), "quotes.jsonl", "row 3", "field 'text'", "lone surrogate")


def test_c38_lone_surrogate_in_an_id_is_located(experiment: Path, tiny_corpus: Path) -> None:
    _jsonl_quotes(tiny_corpus, "fine")
    path = tiny_corpus / "quotes.jsonl"
    path.write_text(path.read_text(encoding="utf-8").replace('"quote_id": "3"', '"quote_id": "3\\udc00"'), encoding="utf-8")
    assert_located(run(experiment), "quotes.jsonl", "row 3", "field 'quote_id'", "lone surrogate")


def test_c39_text_of_invisible_characters_is_empty(experiment: Path, tiny_corpus: Path) -> None:
    _jsonl_quotes(tiny_corpus, "\\u00a0\\u2003\\u200b\\u200b \\u00a0")
    assert_located(run(experiment), "quotes.jsonl", "row 3", "field 'text'", "text is empty", "invisible")
