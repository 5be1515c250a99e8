"""Apply a saved coder to a table of texts: one output line per input row, in input order.

A row with empty text gets ``"codes": []`` and an ``"error"``; no row is ever dropped.
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
from lived_themes.errors import InputError


def _text_problem(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "empty text"
    if not isinstance(value, str):
        return f"text is not text (got {type(value).__name__})"
    return None if value.strip() else "empty text"


def predict_records(model: str | Path | Coder, source: Any, *, text_column: str = "text", id_column: str | None = "quote_id",
                    chunk_size: int = 4096, metadata_columns: bool = True, evidence: bool = False) -> Iterator[dict[str, Any]]:
    """Yield ``{"id", "codes", "scores"}`` per input row, in input order.

    With ``evidence``, each row also gets ``"evidence": {code: {start, end, text}}``: the span of its
    text that most supports each predicted code (``coders.evidence``), for the researcher's own file.

    ``model`` is a saved model folder, or a coder already loaded (a worker coding many partitions
    loads it once).
    """
    frame, name = read_table(source)
    if text_column not in frame.columns:
        raise InputError(f"no text column {text_column!r}; columns present: {list(frame.columns)} (use --text-column)", file=name, field=text_column)
    if id_column is not None and id_column not in frame.columns:
        raise InputError(f"no id column {id_column!r}; columns present: {list(frame.columns)} (use --id-column)", file=name, field=id_column)
    coder = load_coder(model) if isinstance(model, (str, Path)) else model
    ids = frame[id_column].tolist() if id_column else list(range(1, len(frame) + 1))
    problems = [_text_problem(v) for v in frame[text_column].tolist()]
    good = np.array([i for i, p in enumerate(problems) if p is None], dtype=int)
    for start in range(0, len(frame), chunk_size):
        chunk = good[(good >= start) & (good < start + chunk_size)].tolist()
        meta = frame.iloc[chunk].reset_index(drop=True) if metadata_columns else None
        scores = coder.predict_proba([frame[text_column].iloc[i] for i in chunk], metadata=meta) if chunk else np.zeros((0, len(coder.codes_)))
        by_row = dict(zip(chunk, scores))
        spans = _evidence(coder, [frame[text_column].iloc[i] for i in chunk], scores, meta) if evidence and chunk else []
        by_evidence = dict(zip(chunk, spans))
        for i in range(start, min(start + chunk_size, len(frame))):
            identifier = ids[i].item() if hasattr(ids[i], "item") else ids[i]
            if problems[i] is not None:
                yield {"id": identifier, "codes": [], "scores": {}, "error": problems[i]}
                continue
            row = by_row[i]
            yield {
                "id": identifier,
                "codes": [c for c, s, t in zip(coder.codes_, row, coder.thresholds_) if s >= t],
                "scores": {c: float(s) for c, s in zip(coder.codes_, row)},
                **({"evidence": by_evidence[i]} if evidence else {}),
            }


def _evidence(coder: Coder, texts: list[str], scores: np.ndarray, meta: pd.DataFrame | None) -> list[dict[str, Any]]:
    from lived_themes.coders.evidence import evidence_offsets, find_evidence

    return [evidence_offsets(found, with_text=True) for found in find_evidence(coder, texts, quote_scores=scores, metadata=meta)]


def predict_file(model_dir: str | Path, source: Any, output: str | Path, **kwargs: Any) -> int:
    """Write predictions as JSON lines; returns the number of rows written."""
    count = 0
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    with Path(output).open("w", encoding="utf-8") as handle:
        for record in predict_records(model_dir, source, **kwargs):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_predictions(path: str | Path) -> pd.DataFrame:
    """Read a predict output file back as a table (id, codes, scores, error)."""
    frame, _ = read_table(path)
    return frame
