"""A real Dask cluster started here: one ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1,
connected with ``Client(address)``; coding through ``predict.distributed`` gives what one process gives.

The same three commands, on three machines, are the multi-machine recipe in docs/scaling.md.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow  # starts three processes: about 25 s on a busy 2-core machine

from lived_themes.predict import predict_records  # noqa: E402
from lived_themes.predict.distributed import PREDICTION_COLUMNS, predict_partition, prediction_meta  # noqa: E402
from lived_themes.registry import make_coder  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _cluster_starter():  # noqa: ANN202 - benchmarks/distributed_predict.py's dask_cluster, the one way the project starts a cluster
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        return importlib.import_module("distributed_predict").dask_cluster
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


@pytest.fixture()
def cluster(tmp_path: Path):
    with _cluster_starter()(2, tmp_path) as address:
        yield address


def test_two_worker_cluster_codes_like_one_process(cluster: str, tmp_path: Path) -> None:
    import dask.dataframe as dd
    from distributed import Client

    train = ["waited months", "long waiting list", "kind staff listened", "nurse explained", "lost referral", "respectful staff"]
    coder = make_coder("tfidf-logreg.v1").fit(train, np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 0], [0, 1]], float), ["access", "staff"])
    model_dir = coder.save(tmp_path / "model")
    texts = [train[i % len(train)] + f" {i}" if i % 9 else "" for i in range(400)]
    table = pd.DataFrame({"quote_id": [f"r{i}" for i in range(400)], "text": texts})

    with Client(cluster, timeout=60) as client:
        client.wait_for_workers(2, timeout=120)
        assert len(client.scheduler_info()["workers"]) == 2
        coded = (dd.from_pandas(table, npartitions=8)
                 .map_partitions(predict_partition, str(model_dir), meta=prediction_meta())
                 .compute())
        where = client.run(lambda: os.getpid())
        assert len(set(where.values())) == 2  # two separate worker processes
    one = pd.DataFrame(list(predict_records(model_dir, table)), columns=list(PREDICTION_COLUMNS))
    assert coded["id"].tolist() == one["id"].tolist()
    assert coded["codes"].tolist() == one["codes"].tolist()
    assert coded["scores"].tolist() == one["scores"].tolist()  # identical, not merely close
    assert [e if isinstance(e, str) else None for e in coded["error"]] == [e if isinstance(e, str) else None for e in one["error"]]
    assert sum(isinstance(e, str) for e in coded["error"]) == 45  # every empty text reported, none dropped
