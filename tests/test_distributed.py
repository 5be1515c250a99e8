"""Partition-wise coding (the distributed path) gives exactly what one ``predict`` over the whole table gives."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lived_themes.predict.distributed import PREDICTION_COLUMNS, predict_batches, predict_partition, prediction_meta
from lived_themes.predict import predict_records
from lived_themes.registry import make_coder

TEXTS = [
    "I waited months for a therapy appointment", "The nurse listened to me", "", "The crisis team never came",
    "Referral letters got lost", "Staff treated me with respect", "   ", "I called the crisis line at night",
    "The waiting list was a year long", "My support worker understood me",
]
TRAIN = [
    ("I waited months for an appointment", [1, 0]), ("The waiting list was two years", [1, 0]),
    ("Nobody called back about my referral", [1, 0]), ("She listened and I felt understood", [0, 1]),
    ("Staff were kind and respectful", [0, 1]), ("My nurse took time to explain", [0, 1]),
    ("I like walking my dog", [0, 0]), ("Appointments were cancelled and staff did not listen", [1, 1]),
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    coder = make_coder("tfidf-logreg.v1")
    coder.fit([t for t, _ in TRAIN], np.array([y for _, y in TRAIN], float), ["access", "listening"])
    return coder.save(tmp_path_factory.mktemp("model") / "model")


@pytest.fixture()
def table() -> pd.DataFrame:
    ids = [f"r{i:03d}" for i in range(len(TEXTS))]
    return pd.DataFrame({"quote_id": ids, "text": TEXTS}, index=pd.RangeIndex(100, 100 + len(TEXTS)))


def _single_machine(model_dir: Path, table: pd.DataFrame) -> pd.DataFrame:
    records = list(predict_records(model_dir, table))
    out = pd.DataFrame(records, columns=list(PREDICTION_COLUMNS))
    out["error"] = pd.Series([v if isinstance(v, str) else None for v in out["error"]], dtype=object)
    return out


def test_partitions_match_one_pass(model_dir: Path, table: pd.DataFrame) -> None:
    parts = [table.iloc[:3], table.iloc[3:4], table.iloc[4:]]
    coded = pd.concat(list(predict_batches(parts, model_dir)))
    expected = _single_machine(model_dir, table)
    assert list(coded.columns) == list(PREDICTION_COLUMNS) and len(coded) == len(table)
    assert coded.index.tolist() == table.index.tolist()  # the partition's index is kept: rows line up
    assert coded["id"].tolist() == expected["id"].tolist()
    assert coded["codes"].tolist() == expected["codes"].tolist()
    for got, want in zip(coded["scores"], expected["scores"]):
        assert got.keys() == want.keys() and all(got[k] == pytest.approx(want[k], abs=1e-12) for k in want)
    assert coded["error"].tolist() == [None, None, "empty text", None, None, None, "empty text", None, None, None]


def test_ids_become_strings_and_row_numbers_are_refused(model_dir: Path) -> None:
    frame = pd.DataFrame({"quote_id": [7, 8], "text": ["The nurse listened", "I waited months"]})
    assert predict_partition(frame, model_dir)["id"].tolist() == ["7", "8"]
    with pytest.raises(ValueError, match="needs id_column"):
        predict_partition(frame, model_dir, id_column=None)


def test_an_empty_partition_gives_an_empty_frame(model_dir: Path, table: pd.DataFrame) -> None:
    out = predict_partition(table.iloc[:0], model_dir)
    assert out.empty and list(out.columns) == list(prediction_meta().columns)


@pytest.mark.skipif(importlib.util.find_spec("dask") is None, reason="dask is not installed (pip install 'lived-themes[distributed]')")
def test_dask_map_partitions(model_dir: Path, table: pd.DataFrame) -> None:
    import dask
    import dask.dataframe as dd

    ddf = dd.from_pandas(table, npartitions=3)
    coded = ddf.map_partitions(predict_partition, str(model_dir), meta=prediction_meta())
    with dask.config.set(scheduler="processes", num_workers=2):  # real worker processes, each loading the model
        result = coded.compute()
    expected = _single_machine(model_dir, table)
    assert result["id"].tolist() == expected["id"].tolist() and result["codes"].tolist() == expected["codes"].tolist()
    assert result["error"].tolist() == expected["error"].tolist()
