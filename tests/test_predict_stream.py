"""Streaming predict: the input read a chunk at a time gives the same rows as one read, in CSV, JSONL and
Parquet, out to JSON lines or Parquet; a bad id in a later chunk is located by its row in the whole file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lived_themes.errors import InputError
from lived_themes.predict import predict_file, predict_records, read_predictions

TEXTS = ["staff were kind", "no medication", "long wait", "kind staff, long wait", "tablets again", "waiting room"]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lived_themes.coders.baselines import TfidfLogRegCoder

    labels = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [0, 1, 0], [0, 0, 1]], float)
    folder = tmp_path_factory.mktemp("m") / "model"
    TfidfLogRegCoder(tune=False).fit(TEXTS, labels, ["staff", "meds", "wait"]).save(folder)
    return folder


def _table(n: int = 23) -> pd.DataFrame:
    texts = [TEXTS[i % len(TEXTS)] if i % 7 != 3 else "" for i in range(n)]  # an empty text every 7 rows
    return pd.DataFrame({"quote_id": [f"id{i}" for i in range(n)], "text": texts, "site": ["a", "b"] * (n // 2) + ["a"] * (n % 2)})


def _write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in frame.to_dict("records")), encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_chunked_reading_gives_the_same_rows_as_one_chunk(model: Path, tmp_path: Path, suffix: str) -> None:
    path = _write(_table(), tmp_path / f"in{suffix}")
    whole = list(predict_records(model, path, chunk_size=4096))
    chunked = list(predict_records(model, path, chunk_size=4))
    assert whole == chunked and len(whole) == 23
    assert [r["id"] for r in whole] == [f"id{i}" for i in range(23)]
    assert [r["error"] for r in whole if "error" in r] == ["empty text"] * 3  # rows 4, 11, 18: reported, not dropped


def test_parquet_output_holds_the_same_rows_as_json_lines(model: Path, tmp_path: Path) -> None:
    path = _write(_table(), tmp_path / "in.csv")
    assert predict_file(model, path, tmp_path / "out.jsonl", chunk_size=5) == 23
    assert predict_file(model, path, tmp_path / "out.parquet", chunk_size=5) == 23
    lines = read_predictions(tmp_path / "out.jsonl")
    table = read_predictions(tmp_path / "out.parquet")
    assert table["id"].tolist() == lines["id"].tolist()
    assert [list(c) for c in table["codes"]] == [list(c) for c in lines["codes"]]
    for a, b in zip(table["scores"], lines["scores"]):
        assert a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-12 for k in a)
    assert [e if isinstance(e, str) else None for e in table["error"]] == [e if isinstance(e, str) else None for e in lines["error"]]


def test_a_bad_id_in_a_later_chunk_names_its_row_and_leaves_no_output(model: Path, tmp_path: Path) -> None:
    frame = _table()
    frame.loc[17, "quote_id"] = None
    path = _write(frame, tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    with pytest.raises(InputError, match=r"row 18, field 'quote_id'"):
        predict_file(model, path, out, chunk_size=4)
    assert not out.exists() and not list(tmp_path.glob(".out.jsonl.*"))


def test_without_an_id_column_rows_are_numbered_across_chunks(model: Path, tmp_path: Path) -> None:
    path = _write(_table().drop(columns=["quote_id"]), tmp_path / "in.csv")
    assert [r["id"] for r in predict_records(model, path, id_column=None, chunk_size=4)] == list(range(1, 24))


def test_evidence_is_kept_per_chunk(model: Path, tmp_path: Path) -> None:
    path = _write(_table(), tmp_path / "in.csv")
    whole = list(predict_records(model, path, evidence=True))
    chunked = list(predict_records(model, path, evidence=True, chunk_size=3))
    assert whole == chunked and any(r.get("evidence") for r in whole)


def test_a_model_that_reads_a_context_column_names_it_when_the_input_lacks_it(tmp_path: Path) -> None:
    from lived_themes.coders.baselines import TfidfLogRegCoder
    from lived_themes.coders.ensemble import EnsembleCoder

    labels = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [0, 1, 0], [0, 0, 1]], float)
    meta = pd.DataFrame({"site": ["a", "b"] * 3})
    single = TfidfLogRegCoder(tune=False, context_columns=["site"]).fit(TEXTS, labels, ["staff", "meds", "wait"], metadata=meta)
    ensemble = EnsembleCoder(members=[{"name": "tfidf-logreg.v2", "params": {"tune": False, "context_columns": ["site"]}},
                                      {"name": "majority.v1"}], inner_folds=2).fit(TEXTS, labels, ["staff", "meds", "wait"], metadata=meta)
    assert single.input_columns() == ["site"] and ensemble.input_columns() == ["site"]
    path = _write(_table().drop(columns=["site"]), tmp_path / "in.csv")
    for coder in (single, ensemble):
        folder = coder.save(tmp_path / f"m-{coder.name}")
        out = tmp_path / "out.jsonl"
        with pytest.raises(InputError, match=r"field 'site': the model reads column\(s\) \['site'\]"):
            predict_file(folder, path, out)
        assert not out.exists()
        assert predict_file(folder, _write(_table(), tmp_path / "with_site.csv"), out) == 23
        out.unlink()
