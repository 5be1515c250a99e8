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

from lived_themes.coders.base import Coder, load_coder
from lived_themes.corpus.tables import read_table
from lived_themes.corpus.validate import normalise_ids
from lived_themes.errors import InputError
from lived_themes.files import atomic_output, refuse_overwrite


def _text_problem(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "empty text"
    if not isinstance(value, str):
        return f"text is not text (got {type(value).__name__})"
    return None if value.strip() else "empty text"


def model_folder(path: str | Path) -> Path:
    """The saved model in ``path``: the folder itself, or a run folder's ``model/``."""
    from lived_themes.coders.base import CODER_FILE

    folder = Path(path)
    if not (folder / CODER_FILE).exists() and (folder / "model" / CODER_FILE).exists():
        return folder / "model"
    return folder


def _prepare(model: str | Path | Coder, source: Any, *, text_column: str, id_column: str | None) -> tuple[Coder, pd.DataFrame, list[Any]]:
    """Read and check the input and load the model, before any output is opened."""
    frame, name = read_table(source)
    if text_column not in frame.columns:
        raise InputError(f"no text column {text_column!r}; columns present: {list(frame.columns)} (use --text-column)", file=name, field=text_column)
    if id_column is not None and id_column not in frame.columns:
        raise InputError(f"no id column {id_column!r}; columns present: {list(frame.columns)} (use --id-column)", file=name, field=id_column)
    ids: list[Any] = normalise_ids(frame[id_column].tolist(), file=name, field=id_column) if id_column else list(range(1, len(frame) + 1))
    coder = load_coder(model_folder(model)) if isinstance(model, (str, Path)) else model
    return coder, frame, ids


def _evidence(coder: Coder, texts: list[str], scores: np.ndarray, meta: pd.DataFrame | None) -> list[dict[str, Any]]:
    from lived_themes.coders.evidence import evidence_offsets, find_evidence

    return [evidence_offsets(found, with_text=True) for found in find_evidence(coder, texts, quote_scores=scores, metadata=meta)]


def _records(coder: Coder, frame: pd.DataFrame, ids: list[Any], *, text_column: str, chunk_size: int,
             metadata_columns: bool, evidence: bool = False) -> Iterator[dict[str, Any]]:
    problems = [_text_problem(v) for v in frame[text_column].tolist()]
    good = np.array([i for i, p in enumerate(problems) if p is None], dtype=int)
    for start in range(0, len(frame), chunk_size):
        chunk = good[(good >= start) & (good < start + chunk_size)].tolist()
        meta = frame.iloc[chunk].reset_index(drop=True) if metadata_columns else None
        scores = coder.predict_proba([frame[text_column].iloc[i] for i in chunk], metadata=meta) if chunk else np.zeros((0, len(coder.codes_)))
        by_row = dict(zip(chunk, scores))
        notes = getattr(coder, "last_notes_", None)  # a coder that reports per-row failures (llm.v1): no codes, an error
        failed = dict(zip(chunk, notes["errors"])) if isinstance(notes, dict) and len(notes.get("errors", ())) == len(chunk) else {}
        chosen = dict(zip(chunk, coder.codes_from_scores(scores))) if chunk else {}  # thresholds, or top code / none in single-label mode
        spans = _evidence(coder, [frame[text_column].iloc[i] for i in chunk], scores, meta) if evidence and chunk else []
        by_evidence = dict(zip(chunk, spans))
        for i in range(start, min(start + chunk_size, len(frame))):
            if problems[i] is not None:
                yield {"id": ids[i], "codes": [], "scores": {}, "error": problems[i]}
                continue
            row = by_row[i]
            yield {
                "id": ids[i],
                "codes": [c for c, v in zip(coder.codes_, chosen[i]) if v],
                "scores": {c: float(s) for c, s in zip(coder.codes_, row)},
                **({"evidence": by_evidence[i]} if evidence else {}),
                **({"error": failed[i]} if failed.get(i) else {}),
            }


def predict_records(model: str | Path | Coder, source: Any, *, text_column: str = "text", id_column: str | None = "quote_id",
                    chunk_size: int = 4096, metadata_columns: bool = True, evidence: bool = False) -> Iterator[dict[str, Any]]:
    """Yield ``{"id", "codes", "scores"}`` per input row, in input order.

    With ``evidence``, each row also gets ``"evidence": {code: {start, end, text}}``: the span of its
    text that most supports each predicted code (``coders.evidence``), for the researcher's own file.

    ``model`` is a saved model folder (or a run folder holding ``model/``), or a coder already loaded (a worker coding many partitions
    loads it once). Ids are normalised as everywhere else (:func:`normalise_id`: ``1.0`` -> ``"1"``);
    without an id column they are the row numbers 1..n.
    """
    coder, frame, ids = _prepare(model, source, text_column=text_column, id_column=id_column)
    yield from _records(coder, frame, ids, text_column=text_column, chunk_size=chunk_size, metadata_columns=metadata_columns,
                        evidence=evidence)


def predict_file(model_dir: str | Path, source: Any, output: str | Path, *, text_column: str = "text",
                 id_column: str | None = "quote_id", chunk_size: int = 4096, metadata_columns: bool = True,
                 evidence: bool = False) -> int:
    """Write predictions as JSON lines; returns the number of rows written.

    The output may not be the input or lie in the model folder; the input is read and the model
    loaded before the output is opened; lines go to a temporary file renamed into place at the end,
    so a failure or Ctrl-C midway leaves the previous file untouched and no partial output.
    """
    if isinstance(model_dir, (str, Path)):
        model_dir = model_folder(model_dir)
    refuse_overwrite(output, [source, model_dir] if isinstance(model_dir, (str, Path)) else [source])
    coder, frame, ids = _prepare(model_dir, source, text_column=text_column, id_column=id_column)
    count = 0
    with atomic_output(output) as handle:
        for record in _records(coder, frame, ids, text_column=text_column, chunk_size=chunk_size, metadata_columns=metadata_columns,
                               evidence=evidence):
            handle.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
            count += 1
    return count


def read_predictions(path: str | Path) -> pd.DataFrame:
    """Read a predict output file back as a table (id, codes, scores, error)."""
    frame, _ = read_table(path)
    return frame
