"""Nothing lost (probes P24-P28, B20, X10, E18, E19, I05): outputs never overwrite inputs, writes are atomic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lived_themes.corpus import write_table
from lived_themes.errors import InputError
from lived_themes.files import atomic_output, refuse_overwrite
from lived_themes.predict import predict_file

from .conftest import assert_located, invoke


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".partial")]


def test_p25_predict_onto_its_csv_input_is_refused_and_the_input_kept(tfidf_model: Path, pred_csv: Path) -> None:
    before = pred_csv.read_bytes()
    assert_located(invoke("predict", tfidf_model, pred_csv, "-o", pred_csv), "also an input")
    assert pred_csv.read_bytes() == before


def test_p26_predict_onto_its_jsonl_input_through_another_spelling(tfidf_model: Path, pred_csv: Path, tmp_path: Path) -> None:
    jsonl = tmp_path / "in.jsonl"
    write_table(pd.read_csv(pred_csv), jsonl)
    before = jsonl.read_bytes()
    assert_located(invoke("predict", tfidf_model, jsonl, "-o", tmp_path / "sub" / ".." / "in.jsonl"), "also an input")
    assert jsonl.read_bytes() == before


def test_p27_predict_onto_the_models_own_file_is_refused(model_copy: Path, pred_csv: Path) -> None:
    before = (model_copy / "coder.json").read_bytes()
    assert_located(invoke("predict", model_copy, pred_csv, "-o", model_copy / "coder.json"), "inside the input folder")
    assert_located(invoke("predict", model_copy, pred_csv, "-o", model_copy / "new.jsonl"), "inside the input folder")
    assert (model_copy / "coder.json").read_bytes() == before and not (model_copy / "new.jsonl").exists()


def test_p28_a_failing_predict_leaves_the_existing_output_untouched(tfidf_model: Path, tmp_path: Path) -> None:
    precious = tmp_path / "precious.jsonl"
    precious.write_text('{"id": "1"}\n', encoding="utf-8")
    no_id = tmp_path / "noid.csv"
    pd.DataFrame({"text": ["a b"]}).to_csv(no_id, index=False)
    assert_located(invoke("predict", tfidf_model, no_id, "-o", precious), "no id column")
    assert precious.read_text(encoding="utf-8") == '{"id": "1"}\n'
    assert not _leftovers(tmp_path)


def test_p24_output_that_is_a_folder_is_a_located_error(tfidf_model: Path, pred_csv: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    assert_located(invoke("predict", tfidf_model, pred_csv, "-o", tmp_path / "out"), "is a folder")


@pytest.mark.parametrize("stop", [RuntimeError("chunk failed"), KeyboardInterrupt()])
def test_i05_interrupted_predict_leaves_the_old_output_and_no_partial_file(
    tfidf_model: Path, pred_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: BaseException
) -> None:
    from lived_themes.coders.baselines import TfidfLogRegCoder

    out = tmp_path / "out.jsonl"
    predict_file(tfidf_model, pred_csv, out)
    old = out.read_bytes()
    calls = {"n": 0}
    real = TfidfLogRegCoder.predict_proba

    def second_chunk_fails(self, texts, *, metadata=None):  # noqa: ANN001
        calls["n"] += 1
        if calls["n"] == 2:
            raise stop
        return real(self, texts, metadata=metadata)

    monkeypatch.setattr(TfidfLogRegCoder, "predict_proba", second_chunk_fails)
    with pytest.raises(type(stop)):
        predict_file(tfidf_model, pred_csv, out, chunk_size=2)
    assert calls["n"] == 2  # it was stopped midway, after a first chunk had been written
    assert out.read_bytes() == old
    assert not _leftovers(tmp_path)


def test_predict_writes_a_complete_file_in_input_order(tfidf_model: Path, pred_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "out.jsonl"
    assert predict_file(tfidf_model, pred_csv, out, chunk_size=2) == 5
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["q1", "q2", "q3", "q4", "q5"]


def test_write_table_failing_midway_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write_table(pd.DataFrame({"a": [1, 2]}), path)
    old = path.read_bytes()
    with pytest.raises(ValueError):  # a nested NaN cannot be written as valid JSON
        write_table(pd.DataFrame({"a": [[1.0, 2.0], [1.0, np.nan]]}), path)
    assert path.read_bytes() == old and not _leftovers(tmp_path)


def test_atomic_output_and_refuse_overwrite_directly(tmp_path: Path) -> None:
    target = tmp_path / "x.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(target) as handle:
            handle.write("new but incomplete")
            raise KeyboardInterrupt
    assert target.read_text(encoding="utf-8") == "old" and not _leftovers(tmp_path)
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    with pytest.raises(InputError, match="also an input"):
        refuse_overwrite(link, [target])
    refuse_overwrite(tmp_path / "other.txt", [target, None])


def test_b20_codebook_export_into_a_missing_folder_and_onto_itself(tiny_corpus: Path, tmp_path: Path) -> None:
    book = tiny_corpus / "codebook.yaml"
    out = tmp_path / "nonexist_dir" / "sub" / "table.md"
    result = invoke("codebook", book, "-o", out)
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("**tiny**")
    before = book.read_bytes()
    assert_located(invoke("codebook", book, "-o", book), "also an input")
    assert book.read_bytes() == before
    blocker = tmp_path / "a_file"
    blocker.write_text("x", encoding="utf-8")
    assert_located(invoke("codebook", book, "-o", blocker / "table.md"), "a_file")


def test_x10_extract_refuses_an_unknown_output_format_before_extracting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lived_themes.extract as extract

    report = tmp_path / "report.md"
    report.write_text('# R\n\n"I was not heard."\n', encoding="utf-8")

    def never(*args, **kwargs):  # noqa: ANN002, ANN003
        raise AssertionError("extraction ran before the output was checked")

    monkeypatch.setattr(extract, "extract_quotes", never)
    assert_located(invoke("extract", report, "-o", tmp_path / "out.txt"), "unknown table format")
    assert_located(invoke("extract", report, "-o", report), "unknown table format")
    copy = tmp_path / "report.jsonl"
    copy.write_text("{}\n", encoding="utf-8")
    assert_located(invoke("extract", copy, "-o", copy), "also an input")


def test_e18_e19_run_out_that_is_a_file_or_under_a_file(experiment: Path, tmp_path: Path) -> None:
    existing = tmp_path / "existing_file.txt"
    existing.write_text("keep me", encoding="utf-8")
    assert_located(invoke("run", "-q", experiment, "--out", existing))
    assert existing.read_text(encoding="utf-8") == "keep me"
    assert_located(invoke("run", "-q", experiment, "--out", existing / "x"))
