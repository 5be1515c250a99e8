"""Writers that cannot destroy (probe-failures-2.md P13, P13b, P13f, R00, D00, R16b-R16g, V12): an output that exists
and is not a regular file is refused, no output may be an input, and CSV cells open safely in a spreadsheet."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pandas as pd
import pytest

from lived_themes import files
from lived_themes.errors import InputError
from lived_themes.files import csv_for_people, escape_cell, refuse_overwrite, unescape_cell, write_text_atomic

from .conftest import assert_located, invoke


@pytest.fixture(autouse=True)
def _never_replace_outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever these tests find, no rename may land outside tmp_path: a regression must fail, not break /dev/null."""
    real = os.replace

    def guarded(src: str | Path, dst: str | Path) -> None:
        assert Path(dst).resolve().is_relative_to(tmp_path.resolve()), f"refusing to rename over {dst} in a test"
        real(src, dst)

    monkeypatch.setattr(files.os, "replace", guarded)


def _fifo(tmp_path: Path, name: str = "pipe") -> Path:
    path = tmp_path / name
    os.mkfifo(path)
    return path


def _char_device(tmp_path: Path, name: str = "null_copy") -> Path:
    """A copy of /dev/null's node (major 1, minor 3), as the probe made; skipped where mknod is not permitted."""
    path = tmp_path / name
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    return path


def _is_fifo(path: Path) -> bool:
    return stat.S_ISFIFO(os.lstat(path).st_mode)


def _is_chr(path: Path) -> bool:
    return stat.S_ISCHR(os.lstat(path).st_mode)


# ----- P13, P13b, P13f: predict -o <device> ------------------------------------------------------------------------------

def test_p13f_predict_onto_a_char_device_is_refused_and_the_node_kept(tfidf_model: Path, pred_csv: Path, tmp_path: Path) -> None:
    node = _char_device(tmp_path)
    assert_located(invoke("predict", tfidf_model, pred_csv, "-o", node), "character device", str(node))
    assert _is_chr(node)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_p13_predict_onto_a_fifo_or_a_symlink_to_one_is_refused(tfidf_model: Path, pred_csv: Path, tmp_path: Path) -> None:
    fifo = _fifo(tmp_path)
    assert_located(invoke("predict", tfidf_model, pred_csv, "-o", fifo), "named pipe")
    link = tmp_path / "link.jsonl"
    link.symlink_to(fifo)
    assert_located(invoke("predict", tfidf_model, pred_csv, "-o", link), "named pipe")
    assert _is_fifo(fifo) and link.is_symlink()


@pytest.mark.parametrize("device", ["/dev/null", "/dev/full"])
def test_p13b_predict_onto_dev_null_or_dev_full_leaves_the_device(tfidf_model: Path, pred_csv: Path, device: str) -> None:
    if not Path(device).exists() or not _is_chr(Path(device)):
        pytest.skip(f"{device} is not a character device here")
    assert_located(invoke("predict", tfidf_model, pred_csv, "-o", device), "character device")
    assert _is_chr(Path(device))


def test_predict_to_standard_output_with_dash(tfidf_model: Path, pred_csv: Path) -> None:
    result = invoke("predict", tfidf_model, pred_csv, "-o", "-")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["id"] for r in rows] == [f"q{i}" for i in range(1, 6)]
    assert not Path("-").exists()


def test_the_atomic_writer_refuses_special_files_directly(tmp_path: Path) -> None:
    fifo = _fifo(tmp_path)
    with pytest.raises(InputError, match="named pipe"):
        write_text_atomic(fifo, "x")
    (tmp_path / "folder").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        write_text_atomic(tmp_path / "folder", "x")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(InputError, match="cannot write here"):
        write_text_atomic(loop, "x")
    assert _is_fifo(fifo)
    ok = tmp_path / "ok.txt"
    ok.write_text("old", encoding="utf-8")
    write_text_atomic(ok, "new")  # a regular file is still replaced atomically
    assert ok.read_text(encoding="utf-8") == "new"


# ----- R00, D00: export and codebook -o <device> ---------------------------------------------------------------------------

def test_r00_export_onto_a_char_device_is_refused(tiny_corpus: Path, tmp_path: Path) -> None:
    node = _char_device(tmp_path)
    assert_located(invoke("export", tiny_corpus, "-o", node), "character device")
    assert _is_chr(node)


def test_r00_export_onto_a_fifo_and_its_codebook_onto_a_fifo_are_refused(tiny_corpus: Path, tmp_path: Path) -> None:
    fifo = _fifo(tmp_path)
    assert_located(invoke("export", tiny_corpus, "-o", fifo), "named pipe")
    assert_located(invoke("export", tiny_corpus, "-o", tmp_path / "ok.qdpx", "--codebook", fifo), "named pipe")
    assert _is_fifo(fifo) and not (tmp_path / "ok.qdpx").exists()


def test_d00_codebook_markdown_onto_a_device_or_fifo_is_refused(tiny_corpus: Path, tmp_path: Path) -> None:
    fifo = _fifo(tmp_path)
    assert_located(invoke("codebook", tiny_corpus / "codebook.yaml", "-o", fifo), "named pipe")
    assert _is_fifo(fifo)
    node = _char_device(tmp_path)
    assert_located(invoke("codebook", tiny_corpus / "codebook.yaml", "-o", node), "character device")
    assert _is_chr(node)


# ----- R16b, R16d, R16e, R16f, R16g: export over its own inputs -------------------------------------------------------------

@pytest.mark.parametrize("name", ["quotes.csv", "annotations.csv", "quotes.jsonl"])
def test_r16b_r16e_r16g_export_over_a_file_of_the_corpus_is_refused(tiny_corpus: Path, name: str) -> None:
    before = {p.name: p.read_bytes() for p in tiny_corpus.iterdir()}
    assert_located(invoke("export", tiny_corpus, "-o", tiny_corpus / name), "inside the input folder")
    assert {p.name: p.read_bytes() for p in tiny_corpus.iterdir()} == before


def test_r16d_export_codebook_over_the_corpus_codebook_is_refused(tiny_corpus: Path, tmp_path: Path) -> None:
    before = (tiny_corpus / "codebook.yaml").read_bytes()
    assert_located(invoke("export", tiny_corpus, "-o", tmp_path / "r16d.qdpx", "--codebook", tiny_corpus / "codebook.yaml"),
                   "inside the input folder")
    assert (tiny_corpus / "codebook.yaml").read_bytes() == before and not (tmp_path / "r16d.qdpx").exists()


def test_r16f_export_over_its_predictions_file_is_refused(tiny_corpus: Path, tmp_path: Path) -> None:
    preds = tmp_path / "pred.jsonl"
    preds.write_text("".join(json.dumps({"id": str(i), "codes": ["staff"], "scores": {}}) + "\n" for i in range(1, 11)), encoding="utf-8")
    before = preds.read_bytes()
    assert_located(invoke("export", tiny_corpus, "-o", preds, "--predictions", preds), "also an input")
    link = tmp_path / "same.jsonl"
    os.link(preds, link)  # a hard link is the same file
    assert_located(invoke("export", tiny_corpus, "-o", link, "--predictions", preds), "also an input")
    assert preds.read_bytes() == before


def test_export_project_and_codebook_may_not_be_one_file(tiny_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "both.qdpx"
    assert_located(invoke("export", tiny_corpus, "-o", out, "--codebook", out), "also an input")
    assert not out.exists()


def test_every_writing_command_refuses_an_output_inside_its_input(tiny_corpus: Path, tmp_path: Path, experiment: Path) -> None:
    """init, import, evaluate, run, review and adjudicate go through the same refuse_overwrite."""
    data = tmp_path / "data.csv"
    data.write_text("text,code\nhello there,a\n", encoding="utf-8")
    assert_located(invoke("init", data, "-o", data), "also an input")
    assert_located(invoke("init", data, "-o", tmp_path / "same.yaml", "--codebook", tmp_path / "same.yaml"), "also an input")
    assert data.read_text(encoding="utf-8") == "text,code\nhello there,a\n"
    project = tmp_path / "p.qdpx"
    project.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    assert_located(invoke("import", project, "-o", project), "not a folder")
    assert_located(invoke("run", experiment, "--out", tiny_corpus / "run"), "inside the input folder")
    ann = tiny_corpus / "annotations.csv"
    assert_located(invoke("evaluate", "--annotations", ann, "--predictions", ann, "--reference", "report", "--out", ann), "not a folder")
    assert_located(invoke("evaluate", "--annotations", ann, "--predictions", ann, "--reference", "report", "--model", tiny_corpus,
                          "--out", tiny_corpus / "ev"), "inside the input folder")
    assert_located(invoke("review", tiny_corpus / "rv", "--corpus", tiny_corpus), "inside the input folder")
    assert_located(invoke("adjudicate", tmp_path, "-o", tmp_path / "adj"), "inside the input folder")
    assert sorted(p.name for p in tiny_corpus.iterdir()) == ["annotations.csv", "codebook.yaml", "quotes.csv"]


def test_refuse_overwrite_passes_standard_output_and_new_files(tmp_path: Path) -> None:
    refuse_overwrite("-", [tmp_path])
    refuse_overwrite(tmp_path / "new.jsonl", [tmp_path / "in.csv"])
    with pytest.raises(InputError, match="also an input"):
        refuse_overwrite(tmp_path / "a" / ".." / "in.csv", [tmp_path / "in.csv"])


# ----- V12: CSV cells that open safely ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://x\",\"y\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "'=x", "''@y"])
def test_formula_cells_are_escaped_and_read_back_exactly(cell: str) -> None:
    escaped = escape_cell(cell)
    assert escaped == "'" + cell and unescape_cell(escaped) == cell


@pytest.mark.parametrize("cell", ["plain", "'quoted", "a=b", "", "q-1", "1.5"])
def test_ordinary_cells_are_left_alone(cell: str) -> None:
    assert escape_cell(cell) == cell and unescape_cell(cell) == cell


def test_csv_for_people_quotes_text_and_keeps_numbers() -> None:
    text = csv_for_people(pd.DataFrame({"quote_id": ["=1"], "text": ["@x"], "n": [2]}))
    assert text.splitlines() == ['"quote_id","text","n"', '"\'=1","\'@x",2']


def _injection_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "rvinj"
    folder.mkdir()
    texts = ["=HYPERLINK(\"http://evil\",\"click\") staff", "+cmd|' /C calc'!A0 staff", "-2+3 waiting list", "@SUM(1) medication",
             "The staff listened", "I waited months", "My medication changed", "Kind staff", "Long waiting", "Tablets helped"]
    ids = ["=q1", "q2", "-3", "q4", "q5", "q6", "q7", "q8", "q9", "q10"]
    pd.DataFrame({"quote_id": ids, "text": texts}).to_csv(folder / "quotes.csv", index=False)
    rows = [("q5", "ana", "staff"), ("q6", "ana", "waiting"), ("q7", "ana", "medication"), ("q8", "ana", "staff"), ("q9", "ana", "waiting"),
            ("q10", "ana", "medication")]
    pd.DataFrame(rows, columns=["quote_id", "coder", "code"]).to_csv(folder / "annotations.csv", index=False)
    (folder / "codebook.yaml").write_text("name: t\nversion: '1'\ncodes:\n" + "".join(f"  - id: {c}\n    label: {c}\n" for c in ["staff", "waiting", "medication"]),
                                          encoding="utf-8")
    return folder


def test_v12_review_batch_escapes_formula_text_and_reads_its_ids_back(tmp_path: Path) -> None:
    corpus = _injection_corpus(tmp_path)
    review = tmp_path / "rv"
    result = invoke("review", review, "--corpus", corpus, "--batch-size", "4", "--strategy", "random")
    assert result.exit_code == 0, result.output
    batch = review / "round-001" / "batch.csv"
    raw = batch.read_text(encoding="utf-8")
    for line in raw.splitlines()[1:]:
        for cell in line.split('","'):
            assert not cell.strip('"').startswith(("=", "+", "-", "@")), line
    frame = pd.read_csv(batch, dtype=str, keep_default_na=False)
    assert set(frame["quote_id"]) == {"'=q1", "q2", "'-3", "q4"}
    frame["staff"] = "1"
    filled = tmp_path / "filled.csv"
    frame.to_csv(filled, index=False)
    result = invoke("review", review, "--codes", filled)
    assert result.exit_code == 0, result.output
    labels = pd.read_json(review / "labels.jsonl", lines=True, dtype=False)
    assert set(labels["quote_id"]) == {"=q1", "q2", "-3", "q4"}


def test_disagreements_csv_is_escaped_and_adjudicate_reads_its_ids_back(tmp_path: Path) -> None:
    from lived_themes.workflows.adjudicate import read_decisions

    queue = pd.DataFrame({"quote_id": ["=q1", "-2", "q3"], "code": ["@mention", "waiting", "waiting"], "vote_entropy": [1.0, 0.9, 0.5],
                          "decision": ["1", "0", ""]})
    path = tmp_path / "disagreements.csv"
    path.write_text(csv_for_people(queue), encoding="utf-8")
    assert "\"'=q1\",\"'@mention\",1.0" in path.read_text(encoding="utf-8")
    decided = read_decisions(path)
    assert list(zip(decided["quote_id"], decided["code"], decided["decision"])) == [("=q1", "@mention", 1.0), ("-2", "waiting", 0.0)]
