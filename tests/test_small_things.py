"""Small things from issue 26: --version, predict remembers the training columns, row_index is an id."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lived_themes import __version__
from lived_themes.cli import app
from lived_themes.workflows.starter import detect_layout


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"lived-themes {__version__}"


@pytest.mark.parametrize("name", ["row_index", "Row Index", "index", "record_no", "Unnamed: 0", "comment_id"])
def test_row_index_like_columns_are_ids(name: str) -> None:
    frame = pd.DataFrame({name: [str(i) for i in range(6)], "Comment": [f"a longer comment number {i}" for i in range(6)],
                          "label": ["a", "b"] * 3})
    assert detect_layout(frame).id_column == name


def test_predict_remembers_the_training_text_and_id_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    words = {"wait": "waited hours for a slot", "staff": "the nurse was kind"}
    rows = [{"row_index": str(i), "Comment": f"{words[c]} {i}", "code": c} for i, c in enumerate(["wait", "staff"] * 8)]
    pd.DataFrame(rows).to_csv("train.csv", index=False)
    Path("exp.yaml").write_text(
        "name: cols\n"
        "data: {path: train.csv, format: wide, label_column: code, column_mapping: {Comment: text, row_index: quote_id}}\n"
        "reference: {coder: annotator}\n"
        "splits: [{kind: kfold, n_splits: 2}]\n"
        "coders: [{name: tfidf-logreg.v1}]\n"
        "evaluation: {n_boot: 0}\n"
        "final_model: {coder: tfidf-logreg.v1}\n"
        "output: {html: false, figures: false}\n", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["run", "exp.yaml", "--out", "runs/c", "-q"]).exit_code == 0
    pd.DataFrame({"row_index": ["n1", "n2"], "Comment": ["waited hours", "kind nurse"]}).to_csv("new.csv", index=False)
    result = runner.invoke(app, ["predict", "runs/c", "new.csv", "-o", "out.jsonl"])  # no --text-column, no --id-column
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in Path("out.jsonl").read_text(encoding="utf-8").splitlines()] == ["n1", "n2"]
    info = runner.invoke(app, ["model-info", "runs/c"])
    assert info.exit_code == 0 and "training columns: text 'Comment', id 'row_index'" in info.output and "checksum: ok" in info.output
