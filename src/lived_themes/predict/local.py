"""Apply a saved coder to a table of texts: one output line per input row, in input order.

A row with empty text gets ``"codes": []`` and an ``"error"``, and so does a row a coder reports it could not code
(``llm.v1``: no answer from its model); no row is ever dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lived_themes.coders.base import Coder, load_coder, CODER_FILE
from lived_themes.corpus.tables import read_table
from lived_themes.errors import InputError
from lived_themes.files import atomic_path, is_stdout, refuse_overwrite, text_output
from lived_themes.coders.decision import chosen_names
from lived_themes.coders.evidence import evidence_offsets, find_evidence
from lived_themes.corpus.validate import normalise_id
from lived_themes.predict.stream import iter_chunks, peek


def _text_problem(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "empty text"
    if not isinstance(value, str):
        return f"text is not text (got {type(value).__name__})"
    return None if value.strip() else "empty text"


def model_folder(path: str | Path) -> Path:
    """The saved model in ``path``: the folder itself, or a run folder's ``model/``."""

    folder = Path(path)
    if not (folder / CODER_FILE).exists() and (folder / "model" / CODER_FILE).exists():
        return folder / "model"
    return folder


def _check_columns(frame: pd.DataFrame, name: str, *, text_column: str, id_column: str | None) -> None:
    if text_column not in frame.columns:
        raise InputError(f"no text column {text_column!r}; columns present: {list(frame.columns)} (use --text-column)", file=name, field=text_column)
    if id_column is not None and id_column not in frame.columns:
        raise InputError(f"no id column {id_column!r}; columns present: {list(frame.columns)} (use --id-column)", file=name, field=id_column)


def _prepare(model: str | Path | Coder, source: Any, *, text_column: str, id_column: str | None,
             chunk_size: int, settings: dict[str, Any] | None = None) -> tuple[Coder, str, Iterator[tuple[int, pd.DataFrame]]]:
    """Open the input as chunks, read and check the first one, and load the model, before any output is opened.

    Later chunks are checked as they come (a bad id or undecodable byte further down is still a
    located error; the atomic output then leaves nothing behind).
    """

    name, chunks = iter_chunks(source, chunk_size)
    (_, first), chunks = peek(chunks)
    _check_columns(first, name, text_column=text_column, id_column=id_column)
    coder = load_coder(model_folder(model), settings=settings) if isinstance(model, (str, Path)) else model
    missing = [c for c in coder.input_columns() if c not in first.columns]
    if missing:
        raise InputError(f"the model reads column(s) {missing} with each text (its context_columns), but the input has no such "
                         f"column; columns present: {list(first.columns)}", file=name, field=missing[0])
    return coder, name, chunks


def _evidence(coder: Coder, texts: list[str], scores: np.ndarray, chosen: np.ndarray, meta: pd.DataFrame | None) -> list[dict[str, Any]]:
    """Spans for exactly the codes each quote was given (``chosen``, from the coder's decision)."""
    found = find_evidence(coder, texts, codes=chosen_names(chosen, coder.codes_), quote_scores=scores, metadata=meta)
    return [evidence_offsets(f, with_text=True) for f in found]


def _chunk_ids(frame: pd.DataFrame, first_row: int, name: str, id_column: str | None) -> list[Any]:
    """Ids normalised as everywhere else (1.0 -> "1"), errors numbered by the row in the whole file; else row numbers."""

    if id_column is None:
        return list(range(first_row, first_row + len(frame)))
    return [normalise_id(v, file=name, row=first_row + i, field=id_column) for i, v in enumerate(frame[id_column].tolist())]


def _chunk_records(coder: Coder, frame: pd.DataFrame, ids: list[Any], *, text_column: str, metadata_columns: bool,
                   evidence: bool = False) -> Iterator[dict[str, Any]]:
    """One record per row of one chunk, in order: its codes and scores, or ``codes: []`` and the error."""
    texts = frame[text_column].tolist()
    problems = [_text_problem(v) for v in texts]
    good = [i for i, p in enumerate(problems) if p is None]
    meta = frame.iloc[good].reset_index(drop=True) if metadata_columns else None
    chunk_texts = [texts[i] for i in good]
    scores = coder.predict_proba(chunk_texts, metadata=meta) if good else np.zeros((0, len(coder.codes_)))
    chosen = coder.codes_from_scores(scores) if good else np.zeros((0, len(coder.codes_)))  # thresholds, or top code / none
    spans = _evidence(coder, chunk_texts, scores, chosen, meta) if evidence and good else []
    notes = getattr(coder, "last_notes_", None)  # a coder that reports per-row failures (llm.v1): no codes, an error
    failed = list(notes["errors"]) if good and isinstance(notes, dict) and len(notes.get("errors", ())) == len(good) else [None] * len(good)
    at = {i: k for k, i in enumerate(good)}
    for i, problem in enumerate(problems):
        if problem is not None:
            yield {"id": ids[i], "codes": [], "scores": {}, "error": problem}
            continue
        k = at[i]
        yield {
            "id": ids[i],
            "codes": [c for c, v in zip(coder.codes_, chosen[k]) if v],
            "scores": {c: float(s) for c, s in zip(coder.codes_, scores[k])},
            **({"evidence": spans[k]} if evidence else {}),
            **({"error": failed[k]} if failed[k] else {}),
        }


def _stream(coder: Coder, name: str, chunks: Iterator[tuple[int, pd.DataFrame]], *, text_column: str, id_column: str | None,
            metadata_columns: bool, evidence: bool) -> Iterator[list[dict[str, Any]]]:
    """Records chunk by chunk: only one chunk of input and output is held at a time."""
    for first_row, frame in chunks:
        if not len(frame):
            continue
        frame = frame.reset_index(drop=True)
        for column in (text_column, id_column):
            if column is not None and column not in frame.columns:  # a JSONL chunk where no line has the key
                frame[column] = None
        ids = _chunk_ids(frame, first_row, name, id_column)
        yield list(_chunk_records(coder, frame, ids, text_column=text_column, metadata_columns=metadata_columns, evidence=evidence))


def predict_records(model: str | Path | Coder, source: Any, *, text_column: str = "text", id_column: str | None = "quote_id",
                    chunk_size: int = 4096, metadata_columns: bool = True, evidence: bool = False,
                    settings: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Yield ``{"id", "codes", "scores"}`` per input row, in input order, reading the input a chunk at a time.

    With ``evidence``, each row also gets ``"evidence": {code: {start, end, text}}``: the span of its
    text that most supports each predicted code (``coders.evidence``), for the researcher's own file.

    ``model`` is a saved model folder (or a run folder holding ``model/``), or a coder already loaded (a worker coding many partitions
    loads it once). Ids are normalised as everywhere else (:func:`normalise_id`: ``1.0`` -> ``"1"``);
    without an id column they are the row numbers 1..n. ``settings``: the user's run-time settings for a model that sends
    text (``llm.v1``: ``base_url``, ``allow_remote``, ``cache_dir``, ``api_key_env``), see :func:`load_coder`.
    """
    coder, name, chunks = _prepare(model, source, text_column=text_column, id_column=id_column, chunk_size=chunk_size, settings=settings)
    for records in _stream(coder, name, chunks, text_column=text_column, id_column=id_column, metadata_columns=metadata_columns,
                           evidence=evidence):
        yield from records


def output_format(output: str | Path) -> str:
    """``parquet`` for a .parquet/.pq output, else JSON lines (the default, whatever the suffix; ``-`` is standard output)."""
    if is_stdout(output):
        return "jsonl"
    return "parquet" if Path(output).suffix.lower() in (".parquet", ".pq") else "jsonl"


def predict_file(model_dir: str | Path, source: Any, output: str | Path, *, text_column: str = "text",
                 id_column: str | None = "quote_id", chunk_size: int = 4096, metadata_columns: bool = True,
                 evidence: bool = False, settings: dict[str, Any] | None = None) -> int:
    """Write predictions as JSON lines, or Parquet when ``output`` ends in .parquet; returns the number of rows written.

    The input is read and coded a chunk at a time, so memory stays flat whatever its size. The output
    may not be the input or lie in the model folder; the first chunk is read and checked and the model
    loaded before the output is opened; rows go to a temporary file renamed into place at the end, so
    a failure or Ctrl-C midway (a bad id in the last chunk included) leaves the previous file untouched
    and no partial output. ``settings``: the run-time settings of a model that sends text (see :func:`predict_records`).
    """
    if isinstance(model_dir, (str, Path)):
        model_dir = model_folder(model_dir)
    refuse_overwrite(output, [source, model_dir] if isinstance(model_dir, (str, Path)) else [source])
    coder, name, chunks = _prepare(model_dir, source, text_column=text_column, id_column=id_column, chunk_size=chunk_size,
                                   settings=settings)
    batches = _stream(coder, name, chunks, text_column=text_column, id_column=id_column, metadata_columns=metadata_columns,
                      evidence=evidence)
    if output_format(output) == "parquet":
        return _write_parquet(batches, output, list(coder.codes_), evidence=evidence)
    count = 0
    with text_output(output) as handle:  # "-": standard output, as JSON lines
        for records in batches:
            handle.write("".join(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n" for record in records))
            count += len(records)
    return count


def _write_parquet(batches: Iterator[list[dict[str, Any]]], output: str | Path, codes: list[str], *, evidence: bool) -> int:
    """One row group per chunk: ``id`` (string), ``codes`` (list), one ``score_<code>`` column per code, ``error``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = [pa.field("id", pa.string()), pa.field("codes", pa.list_(pa.string())),
              *[pa.field(f"score_{c}", pa.float64()) for c in codes], pa.field("error", pa.string())]
    if evidence:
        fields.append(pa.field("evidence", pa.string()))  # JSON text: spans per code
    schema = pa.schema(fields)
    count = 0
    with atomic_path(output) as temp:
        with pq.ParquetWriter(temp, schema) as writer:
            for records in batches:
                columns: dict[str, list[Any]] = {
                    "id": [str(r["id"]) for r in records],
                    "codes": [r["codes"] for r in records],
                    **{f"score_{c}": [r["scores"].get(c) for r in records] for c in codes},
                    "error": [r.get("error") for r in records],
                }
                if evidence:
                    columns["evidence"] = [json.dumps(r["evidence"], ensure_ascii=False) if "evidence" in r else None for r in records]
                writer.write_table(pa.table(columns, schema=schema))
                count += len(records)
    return count


def read_predictions(path: str | Path) -> pd.DataFrame:
    """Read a predict output file back as a table (id, codes, scores, error); a Parquet output's
    ``score_<code>`` columns are gathered back into the ``scores`` mapping."""
    frame, _ = read_table(path)
    score_columns = [c for c in frame.columns if str(c).startswith("score_")]
    if "scores" not in frame.columns and score_columns:
        names = [str(c)[len("score_"):] for c in score_columns]
        values = frame[score_columns].to_numpy(dtype=float)
        frame = frame.drop(columns=score_columns)
        frame.insert(2, "scores", [{} if np.isnan(row).all() else dict(zip(names, row.tolist())) for row in values])
        frame["codes"] = [list(v) for v in frame["codes"]]
    return frame
