"""A real Dask cluster started here: one ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1,
connected with ``Client(address)``; coding through ``predict.distributed`` gives what one process gives.

The same three commands, on three machines, are the multi-machine recipe in docs/scaling.md.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow  # starts three processes: about 25 s on a busy 2-core machine

from lived_themes.predict import predict_records  # noqa: E402
from lived_themes.predict.distributed import PREDICTION_COLUMNS, predict_partition, prediction_meta  # noqa: E402
from lived_themes.registry import make_coder  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask(*args: str) -> list[str]:
    """``dask <args>`` with this interpreter (the ``dask`` console script of the same environment)."""
    return [sys.executable, "-c", "import sys; from dask.__main__ import main; sys.argv[0] = 'dask'; sys.exit(main())", *args]


@pytest.fixture()
def cluster(tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]), "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = [open(tmp_path / f"{name}.log", "w") for name in ("scheduler", "worker1", "worker2")]
    procs = [subprocess.Popen(_dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"), env=env,
                              stdout=logs[0], stderr=subprocess.STDOUT)]
    try:
        for log in logs[1:]:
            procs.append(subprocess.Popen(_dask("worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                                                "--host", "127.0.0.1", "--memory-limit", "0"),
                                          env=env, stdout=log, stderr=subprocess.STDOUT))
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        deadline = time.monotonic() + 20
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for log in logs:
            log.close()


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
