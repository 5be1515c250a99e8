"""Own data without hand work: label columns with a value -> code map, generated ids, a separate annotations file,
mixed encodings, the same mapping on describe / evaluate / predict, and `lived-themes init`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from lived_themes.cli import app
from lived_themes.corpus import load_labelled
from lived_themes.errors import InputError
from lived_themes.config.base import DataConfig
from lived_themes.config.load import load_config
from lived_themes.experiment.data import load_from_config

WORDS = {"fear": "scared afraid frightened", "pity": "sorry pity poor thing", "none": "fine okay normal day"}


def stigma_frame(n: int = 24) -> pd.DataFrame:
    """A MHStigma-like file: no id column, one label column whose 'No stigma' means no code, a group column."""
    labels = ["Fear", "Pity", "No stigma"]
    rows = []
    for i in range(n):
        label = labels[i % 3]
        rows.append({"Response": f"{WORDS[label.split()[-1].lower() if label != 'No stigma' else 'none']} reply {i}",
                     "Stigma type": label, "site": "north" if i % 2 else "south"})
    return pd.DataFrame(rows)


MAP = {"Fear": "fear", "Pity": "pity", "No stigma": None}


def test_label_column_maps_values_and_no_code() -> None:
    corpus = load_labelled(stigma_frame(), label_column="Stigma type", label_map=MAP, column_mapping={"Response": "text"}, coder="rater")
    assert corpus.quote_ids[:3] == ["row-1", "row-2", "row-3"]  # no id column: row numbers, in file order
    assert any("ids generated from row numbers" in n for n in corpus.reports[0].notes)
    matrix = corpus.label_matrix("rater", ["fear", "pity"])
    np.testing.assert_array_equal(matrix[:3], [[1, 0], [0, 1], [0, 0]])  # "No stigma": seen, no code
    assert "Stigma type" not in corpus.quotes.columns and "site" in corpus.quotes.columns


def test_multi_label_cells_and_unmapped_value_is_located() -> None:
    frame = pd.DataFrame({"quote_id": ["a", "b", "c"], "text": ["x y", "y z", "z w"], "labels": ["Fear; Pity", "Pity", None]})
    corpus = load_labelled(frame, label_column="labels", label_separator=";", label_map=MAP, coder="r")
    np.testing.assert_array_equal(corpus.label_matrix("r", ["fear", "pity"])[:2], [[1, 1], [0, 1]])
    assert not corpus.seen_by("r")[2]  # a blank label cell: the coder did not see it
    frame.loc[1, "labels"] = "Anger"
    with pytest.raises(InputError) as err:
        load_labelled(frame, label_column="labels", label_separator=";", label_map=MAP, coder="r")
    assert err.value.row == 2 and err.value.field == "labels" and "Anger" not in str(err.value)  # never prints a cell


def test_without_a_map_each_value_is_a_code_and_blank_zero_means_no_code() -> None:
    frame = pd.DataFrame({"text": ["a b", "c d", "e f"], "label": ["x", "y", None]})
    corpus = load_labelled(frame, label_column="label", blank="zero", coder="r")
    assert corpus.codebook.code_ids == ["x", "y"]
    assert corpus.seen_by("r").all()


def test_mixed_encoding_is_read_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_bytes("text,cause\n".encode() + "caf\xe9 day,1\n".encode("cp1252") + "ok day,0\n".encode())
    with pytest.raises(InputError, match="utf-8-or-cp1252"):
        load_labelled(path, label_column="cause")
    corpus = load_labelled(path, label_column="cause", label_map={"0": None, "1": "one"}, encoding="utf-8-or-cp1252")
    assert corpus.quotes["text"][0] == "café day"
    assert any("1 line(s) not valid UTF-8" in n for n in corpus.reports[0].notes)


def test_config_keys_and_their_checks(tmp_path: Path) -> None:
    stigma_frame().to_csv(tmp_path / "stigma.csv", index=False)
    data = DataConfig(path=str(tmp_path / "stigma.csv"), format="wide", label_column="Stigma type",
                      label_map={"Fear": "fear", "Pity": "pity", "No stigma": None}, column_mapping={"Response": "text"})
    corpus = load_from_config(data)
    assert len(corpus) == 24 and corpus.codebook.code_ids == ["fear", "pity"]
    assert DataConfig(label_column="c", format="wide", label_map={0: None}).label_map == {"0": None}  # YAML's unquoted 0
    with pytest.raises(ValueError, match="format: wide"):
        DataConfig(label_column="c")
    with pytest.raises(ValueError, match="need data.label_column"):
        DataConfig(format="wide", label_map={"a": "b"})
    with pytest.raises(ValueError, match="not both"):
        DataConfig(format="wide", label_column="c", code_columns=["x"])
    with pytest.raises(ValueError, match="format: corpus"):
        DataConfig(format="wide", annotations="a.csv")


def test_annotations_file_anywhere(tmp_path: Path) -> None:
    pd.DataFrame({"ID": ["q1", "q2"], "text": ["a b", "c d"]}).to_csv(tmp_path / "my_quotes.csv", index=False)
    (tmp_path / "codes").mkdir()
    pd.DataFrame({"Item": ["q1", "q2"], "Rater": ["ana", "ana"], "Theme": ["x", None]}).to_csv(tmp_path / "codes" / "ana.csv", index=False)
    data = DataConfig(path="my_quotes.csv", annotations="codes/ana.csv", column_mapping={"ID": "quote_id"},
                      annotation_mapping={"Item": "quote_id", "Rater": "coder", "Theme": "code"})
    corpus = load_from_config(data, base_dir=tmp_path)  # paths beside the experiment file
    assert corpus.coders == ["ana"] and corpus.label_matrix("ana", ["x"]).tolist() == [[1.0], [0.0]]


def test_wide_file_without_ids_gets_row_ids_recorded(tmp_path: Path) -> None:
    pd.DataFrame({"text": ["a b", "c d"], "x": ["1", "0"]}).to_csv(tmp_path / "w.csv", index=False)
    corpus = load_from_config(DataConfig(path=str(tmp_path / "w.csv"), format="wide", code_columns=["x"]))
    assert corpus.quote_ids == ["row-1", "row-2"]
    assert "row numbers" in corpus.reports[0].summary()


# ----- the CLI ---------------------------------------------------------------------------------------------


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def test_init_writes_a_runnable_starter_and_never_overwrites(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    stigma_frame(30).to_csv("stigma.csv", index=False)
    result = runner.invoke(app, ["init", "stigma.csv"])
    assert result.exit_code == 0, result.output
    text = Path("stigma.yaml").read_text(encoding="utf-8")
    assert "# " in text and "label_column: Stigma type" in text
    raw = yaml.safe_load(text)
    assert raw["data"]["column_mapping"] == {"Response": "text"}
    assert raw["data"]["label_map"] == {"Fear": "fear", "No stigma": None, "Pity": "pity"}
    assert raw["evaluation"]["groups"] == ["site"] and raw["splits"][1] == {"kind": "leave_one_group_out", "group": "site"}
    book = yaml.safe_load(Path("stigma.codebook.yaml").read_text(encoding="utf-8"))
    assert [c["id"] for c in book["codes"]] == ["fear", "pity"]
    load_config(Path("stigma.yaml"))  # valid as written
    again = runner.invoke(app, ["init", "stigma.csv"])
    assert again.exit_code == 2 and "never overwrites" in again.output
    out = runner.invoke(app, ["run", "stigma.yaml", "--set", "evaluation.n_boot=20", "--out", "runs/s", "-q"])
    assert out.exit_code == 0, out.output
    info = json.loads(Path("runs/s/run.json").read_text(encoding="utf-8"))
    assert any("row numbers" in r for r in info["load_reports"])
    assert Path("runs/s/report.html").exists()


def test_init_finds_code_columns_and_an_id(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"Resp ID": ["r1", "r2", "r3", "r4"], "Comment": ["long answer one", "long answer two", "long three", "long four"],
                  "waiting": ["1", "0", "0", "1"], "staff": ["0", "1", "0", "0"]}).to_csv("s.csv", index=False)
    result = runner.invoke(app, ["init", "s.csv", "--experiment", "exp.yaml", "--codebook", "book.yaml"])
    assert result.exit_code == 0, result.output
    raw = yaml.safe_load(Path("exp.yaml").read_text(encoding="utf-8"))
    assert raw["data"]["column_mapping"] == {"Comment": "text", "Resp ID": "quote_id"}
    assert raw["data"]["code_columns"] == ["waiting", "staff"] and "label_column" not in raw["data"]


def test_describe_evaluate_predict_take_the_mapping(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    stigma_frame(30).to_csv("stigma.csv", index=False)
    assert runner.invoke(app, ["init", "stigma.csv"]).exit_code == 0
    described = runner.invoke(app, ["describe", "--experiment", "stigma.yaml", "--min-report-group-size", "1"])
    assert described.exit_code == 0, described.output
    assert "Fear" in described.output and "read 30 rows" in described.output
    # evaluate: renamed columns on both tables, and --cluster resampling participants
    pd.DataFrame({"Item": [f"q{i}" for i in range(12)], "Said": ["t"] * 12, "person": [f"p{i // 3}" for i in range(12)]}).to_csv("q.csv", index=False)
    pd.DataFrame({"Item": [f"q{i}" for i in range(12)], "Rater": ["ana"] * 12, "Theme": ["x" if i % 2 else None for i in range(12)]}).to_csv("a.csv", index=False)
    pd.DataFrame({"quote_id": [f"q{i}" for i in range(12)], "code": ["x" if i % 3 else None for i in range(12)]}).to_csv("p.csv", index=False)
    evaluated = runner.invoke(app, ["evaluate", "--annotations", "a.csv", "--predictions", "p.csv", "--reference", "ana", "--quotes", "q.csv",
                                    "--column-mapping", "Item=quote_id", "--column-mapping", "Said=text", "--annotation-mapping", "Item=quote_id",
                                    "--annotation-mapping", "Rater=coder", "--annotation-mapping", "Theme=code", "--cluster", "person",
                                    "--n-boot", "20", "--out", "ev"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(Path("ev/metrics.json").read_text(encoding="utf-8"))["n_quotes"] == 12
    missing = runner.invoke(app, ["evaluate", "--annotations", "a.csv", "--predictions", "p.csv", "--reference", "ana", "--quotes", "q.csv",
                                  "--column-mapping", "Item=quote_id", "--annotation-mapping", "Item=quote_id", "--annotation-mapping", "Rater=coder",
                                  "--annotation-mapping", "Theme=code", "--cluster", "nobody", "--out", "ev2"])
    assert missing.exit_code == 2 and "nobody" in missing.output
    # predict: the experiment's mapping names the text column; no id column -> row numbers
    assert runner.invoke(app, ["run", "stigma.yaml", "--set", "evaluation.n_boot=0", "--out", "runs/s", "-q"]).exit_code == 0
    pd.DataFrame({"Response": ["so scared and afraid", "poor thing, pity"]}).to_csv("new.csv", index=False)
    predicted = runner.invoke(app, ["predict", "runs/s", "new.csv", "-o", "coded.jsonl", "--experiment", "stigma.yaml"])
    assert predicted.exit_code == 0, predicted.output
    lines = [json.loads(line) for line in Path("coded.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in lines] == [1, 2]
