"""Distributed coding: a saved model applied partition by partition on Dask or Spark, against one process.

Codes ``--rows`` rows (NSUN quotes repeated, each with a unique id, plus an empty-text row every
50th, so set-aside rows are exercised too) three ways on this machine: ``predict_records`` in one
process (what ``lived-themes predict`` does), and ``lived_themes.predict.distributed`` on the engines asked for.
Prints rows per second for each and checks that every engine gives one row per input row with the
same ids, codes and errors, and scores within 1e-9 of the single-process run.

    python benchmarks/distributed_predict.py --engines dask                # pip install 'lived-themes[distributed]'
    PYSPARK_PYTHON=$PWD/.venv/bin/python python benchmarks/distributed_predict.py --engines dask spark
                                                                          # spark: pip install pyspark, and Java

The model is ``tfidf-logreg.v2`` trained on the bundled corpus unless ``--model-dir`` names another
saved model (any coder: a transformer folder works the same way, more slowly).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
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
    p.add_argument("--engines", nargs="+", choices=["dask", "spark"], default=["dask"])
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


def check(name: str, got: pd.DataFrame, want: dict[str, dict]) -> float:
    """Same rows, ids, codes and errors as the single-process run; returns the largest score difference."""
    if len(got) != len(want) or set(got["id"]) != set(want):
        raise SystemExit(f"{name}: {len(got)} rows / {got['id'].nunique()} ids, expected {len(want)}")
    worst = 0.0
    for row in got.itertuples():
        w = want[row.id]
        error = None if row.error is None or (isinstance(row.error, float) and np.isnan(row.error)) else row.error
        if list(row.codes) != w["codes"] or error != w.get("error"):
            raise SystemExit(f"{name}: row {row.id} differs from the single-process run")
        scores = dict(row.scores) if row.scores is not None else {}
        worst = max([worst, *(abs(scores[k] - v) for k, v in w["scores"].items())])
    return worst


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from lived_themes.predict import predict_records

    with tempfile.TemporaryDirectory() as tmp:
        model = str(args.model_dir or train_default(Path(tmp)))
        table = make_table(args.rows)
        start = time.perf_counter()
        want = {str(r["id"]): r for r in predict_records(model, table)}
        single = time.perf_counter() - start
        coder = json.loads((Path(model) / "coder.json").read_text(encoding="utf-8"))["coder"]
        print(f"{args.rows} rows ({sum('error' in r for r in want.values())} with empty text), "
              f"model {coder}, {os.cpu_count()} CPU cores, {args.workers} workers, {args.partitions} partitions")
        print("| engine | seconds | rows/s | max score diff vs one process |\n|---|---|---|---|")
        print(f"| one process (lived-themes predict) | {single:.1f} | {args.rows / single:,.0f} | – |")
        for engine in args.engines:
            start = time.perf_counter()
            got = (run_dask if engine == "dask" else run_spark)(table, model, args.partitions, args.workers)
            seconds = time.perf_counter() - start
            diff = check(engine, got, want)
            print(f"| {engine} (local, {args.workers} workers) | {seconds:.1f} | {args.rows / seconds:,.0f} | {diff:.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
