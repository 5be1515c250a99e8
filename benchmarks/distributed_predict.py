"""Distributed coding: a saved model applied partition by partition on Dask or Spark, against one process.

Codes ``--rows`` rows (NSUN quotes repeated, each with a unique id, plus an empty-text row every
50th, so set-aside rows are exercised too) on this machine: ``predict_records`` in one process (what
``lived-themes predict`` does), and ``lived_themes.predict.distributed`` on the engines asked for.
Prints rows per second for each and checks that every engine gives one row per input row with the
same ids, codes and errors, and scores within 1e-9 of the single-process run (the largest
difference is printed; 0 means identical).

Engines: ``dask`` and ``spark`` in local mode (one process handing partitions to a local pool), and
``cluster``: a real Dask cluster, a ``dask scheduler`` and ``--workers`` ``dask worker`` processes
started here as separate commands on 127.0.0.1 (as tests/test_dask_cluster.py does), reached with
``Client(address)``. For ``cluster`` the rows are first written as ``--partitions`` Parquet files
that the workers read themselves (the docs' recipe: a path every worker can read); its seconds
cover reading, coding and collecting the rows at the client, not starting the cluster (printed apart).

    python benchmarks/distributed_predict.py --engines dask                # pip install 'lived-themes[distributed]'
    python benchmarks/distributed_predict.py --engines cluster --rows 1000000
    PYSPARK_PYTHON=$PWD/.venv/bin/python python benchmarks/distributed_predict.py --engines dask spark
                                                                          # spark: pip install pyspark, and Java

The model is ``tfidf-logreg.v2`` trained on the bundled corpus unless ``--model-dir`` names another
saved model (any coder: a transformer folder works the same way, more slowly).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--engines", nargs="+", choices=["dask", "spark", "cluster"], default=["dask"])
    p.add_argument("--model-dir", type=Path, default=None)
    return p.parse_args(argv)


def train_default(folder: Path) -> Path:
    from lived_themes.corpus import load_corpus
    from lived_themes.registry import make_coder

    corpus = load_corpus(REPO / "data" / "nsun2014")
    codes = [c for c in corpus.codes if np.nansum(corpus.label_matrix("report", [c])) >= 2]
    labels = corpus.label_matrix("report", codes)
    seen = ~np.isnan(labels).any(axis=1)
    coder = make_coder("tfidf-logreg.v2").fit([t for t, s in zip(corpus.texts, seen) if s], labels[seen], codes)
    return coder.save(folder / "model")


def make_table(rows: int) -> pd.DataFrame:
    from lived_themes.corpus import load_quotes

    quotes, _, _ = load_quotes(REPO / "data" / "nsun2014" / "quotes.jsonl")
    texts = np.resize(np.array(quotes["text"].tolist(), dtype=object), rows)
    texts[::50] = ""
    return pd.DataFrame({"quote_id": [f"r{i:07d}" for i in range(rows)], "text": texts})


def run_dask(table: pd.DataFrame, model: str, partitions: int, workers: int) -> pd.DataFrame:
    import dask
    import dask.dataframe as dd

    from lived_themes.predict.distributed import predict_partition, prediction_meta

    ddf = dd.from_pandas(table, npartitions=partitions)
    with dask.config.set(scheduler="processes", num_workers=workers):
        return ddf.map_partitions(predict_partition, model, meta=prediction_meta()).compute()


def run_spark(table: pd.DataFrame, model: str, partitions: int, workers: int) -> pd.DataFrame:
    from pyspark.sql import SparkSession

    from lived_themes.predict.distributed import SPARK_SCHEMA, predict_batches

    spark = (SparkSession.builder.master(f"local[{workers}]").config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false").config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        sdf = spark.createDataFrame(table).repartition(partitions)
        return sdf.mapInPandas(lambda batches: predict_batches(batches, model), schema=SPARK_SCHEMA).toPandas()
    finally:
        spark.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask(*args: str) -> list[str]:
    """``dask <args>`` with this interpreter (the ``dask`` console script of the same environment)."""
    return [sys.executable, "-c", "import sys; from dask.__main__ import main; sys.argv[0] = 'dask'; sys.exit(main())", *args]


@contextlib.contextmanager
def dask_cluster(workers: int, logs: Path) -> Iterator[str]:
    """A scheduler and ``workers`` single-threaded workers, each its own process on 127.0.0.1; yields the address."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
           "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    handles = [open(logs / f"{name}.log", "w") for name in ["scheduler", *(f"worker{i + 1}" for i in range(workers))]]
    procs = [subprocess.Popen(_dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"), env=env,
                              stdout=handles[0], stderr=subprocess.STDOUT)]
    try:
        for handle in handles[1:]:
            procs.append(subprocess.Popen(_dask("worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                                                "--host", "127.0.0.1", "--memory-limit", "0"), env=env, stdout=handle, stderr=subprocess.STDOUT))
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
        for handle in handles:
            handle.close()


def run_cluster(table: pd.DataFrame, model: str, partitions: int, workers: int) -> tuple[pd.DataFrame, float, float]:
    """Code on a real cluster (see the module docstring); returns the rows, the coding seconds and the start-up seconds."""
    import dask
    import dask.dataframe as dd
    from distributed import Client

    from lived_themes.predict.distributed import predict_partition, prediction_meta

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "responses"
        with dask.config.set(scheduler="synchronous"):
            dd.from_pandas(table, npartitions=partitions).to_parquet(folder, write_index=False)
        start = time.perf_counter()
        with dask_cluster(workers, Path(tmp)) as address, Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
            pids = client.run(os.getpid)
            if len(set(pids.values())) != workers:
                raise SystemExit(f"cluster: expected {workers} worker processes, found {len(set(pids.values()))}")
            startup = time.perf_counter() - start
            start = time.perf_counter()
            coded = dd.read_parquet(folder).map_partitions(predict_partition, model, meta=prediction_meta()).compute()
            return coded, time.perf_counter() - start, startup


def check(name: str, got: pd.DataFrame, want: pd.DataFrame) -> float:
    """Same rows, ids, codes and errors as the single-process run; returns the largest score difference."""
    if len(got) != len(want) or set(got["id"]) != set(want["id"]) or got["id"].nunique() != len(want):
        raise SystemExit(f"{name}: {len(got)} rows / {got['id'].nunique()} ids, expected {len(want)}")
    got = got.set_index("id").loc[want["id"]]
    if [list(c) for c in got["codes"]] != [list(c) for c in want["codes"]]:
        raise SystemExit(f"{name}: codes differ from the single-process run")
    if [e if isinstance(e, str) else None for e in got["error"]] != [e if isinstance(e, str) else None for e in want["error"]]:
        raise SystemExit(f"{name}: errors differ from the single-process run")
    worst = 0.0
    for mine, theirs in zip(got["scores"], want["scores"]):
        mine = dict(mine) if mine is not None else {}
        if set(mine) != set(theirs):
            raise SystemExit(f"{name}: score columns differ from the single-process run")
        worst = max([worst, *(abs(mine[k] - v) for k, v in theirs.items())])
    return worst


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from lived_themes.predict import predict_records
    from lived_themes.predict.distributed import PREDICTION_COLUMNS

    with tempfile.TemporaryDirectory() as tmp:
        model = str(args.model_dir or train_default(Path(tmp)))
        table = make_table(args.rows)
        start = time.perf_counter()
        want = pd.DataFrame(list(predict_records(model, table)), columns=list(PREDICTION_COLUMNS))
        single = time.perf_counter() - start
        want["id"] = want["id"].astype(str)
        coder = json.loads((Path(model) / "coder.json").read_text(encoding="utf-8"))["coder"]
        print(f"{args.rows} rows ({sum(isinstance(e, str) for e in want['error'])} with empty text), "
              f"model {coder}, {os.cpu_count()} CPU cores, {args.workers} workers, {args.partitions} partitions", flush=True)
        print("| engine | seconds | rows/s | max score diff vs one process |\n|---|---|---|---|", flush=True)
        print(f"| one process (lived-themes predict) | {single:.1f} | {args.rows / single:,.0f} | – |", flush=True)
        for engine in args.engines:
            start = time.perf_counter()
            if engine == "cluster":
                got, seconds, startup = run_cluster(table, model, args.partitions, args.workers)
                label = f"dask cluster (scheduler + {args.workers} worker processes, Client(address); started in {startup:.1f} s)"
            else:
                got = (run_dask if engine == "dask" else run_spark)(table, model, args.partitions, args.workers)
                seconds, label = time.perf_counter() - start, f"{engine} (local, {args.workers} workers)"
            diff = check(engine, got, want)
            print(f"| {label} | {seconds:.1f} | {args.rows / seconds:,.0f} | {diff:.1e} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
