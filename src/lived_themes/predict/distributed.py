"""Coding a consortium-scale table on a distributed engine (Dask, Spark), one partition at a time.

The engine splits the table and ships these functions to its workers; each worker process loads the
saved model once and codes its partitions with the same code path as ``lived-themes predict``, so the
scores equal a single-machine run's. Nothing here imports an engine: the functions take and return
pandas DataFrames, which is what Dask's ``map_partitions`` and Spark's ``mapInPandas`` exchange.

Every input row gives one output row (``id, codes, scores, error``), in order and with the
partition's index, so a row with empty text is reported, never dropped. Ids are strings, so the
output schema is the same whatever the input's id type.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from lived_themes.coders.base import load_coder
from lived_themes.predict import predict_records
from lived_themes.predict.local import model_folder

#: The output columns, as in ``lived-themes predict``'s JSON lines.
PREDICTION_COLUMNS = ("id", "codes", "scores", "error")
#: The output schema in Spark's DDL, for ``DataFrame.mapInPandas(..., schema=SPARK_SCHEMA)``.
SPARK_SCHEMA = "id string, codes array<string>, scores map<string,double>, error string"


@lru_cache(maxsize=4)
def _coder_for(model_dir: str, settings: tuple[tuple[str, Any], ...] = ()) -> Any:
    """One load per worker process, model and run-time settings, however many partitions it codes."""

    return load_coder(model_folder(model_dir), settings=dict(settings))


def prediction_meta() -> pd.DataFrame:
    """An empty frame with the output's columns and dtypes (Dask's ``meta=``)."""
    return pd.DataFrame({column: pd.Series(dtype=object) for column in PREDICTION_COLUMNS})


def predict_partition(
    frame: pd.DataFrame,
    model_dir: str | Path,
    *,
    text_column: str = "text",
    id_column: str = "quote_id",
    metadata_columns: bool = True,
    settings: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Code one partition: ``ddf.map_partitions(predict_partition, MODEL_DIR, meta=prediction_meta())``.

    ``settings``: the run-time settings of a model that sends text (``llm.v1``'s ``base_url``...), as for ``predict``.
    """

    if id_column is None:
        raise ValueError("a distributed run needs id_column: row numbers restart in every partition")
    coder = _coder_for(str(Path(model_dir).resolve()), tuple(sorted((settings or {}).items())))
    rows = list(predict_records(coder, frame, text_column=text_column, id_column=id_column, metadata_columns=metadata_columns))
    out = pd.DataFrame(rows, columns=list(PREDICTION_COLUMNS), index=frame.index).astype(object)
    # object Series: pandas would otherwise infer a string dtype and turn None into NaN
    out["id"] = pd.Series([str(v) for v in out["id"]], index=out.index, dtype=object)
    out["error"] = pd.Series([v if isinstance(v, str) else None for v in out["error"]], index=out.index, dtype=object)
    return out


def predict_batches(batches: Iterable[pd.DataFrame], model_dir: str | Path, **options: Any) -> Iterator[pd.DataFrame]:
    """Code a stream of batches: ``sdf.mapInPandas(lambda it: predict_batches(it, MODEL_DIR), SPARK_SCHEMA)``."""
    for batch in batches:
        yield predict_partition(batch, model_dir, **options)
