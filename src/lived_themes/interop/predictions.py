"""A model's codes as one more coder, from any of the files the package writes.

Accepted: ``predict`` output (``id``, ``codes``), a run's ``predictions.jsonl`` (``quote_id``,
``models``: scheme -> coder -> codes), or a long table (``quote_id``, ``code``[, ``coder``]).
Each model becomes coder ``model:<name>``, so it arrives in a QDA program as its own user.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from lived_themes.corpus.model import MODEL_PREFIX, NO_CODE, Corpus
from lived_themes.corpus.tables import read_table
from lived_themes.corpus.validate import CODE, CODER, QUOTE_ID
from lived_themes.errors import InputError


def _as_model(name: str) -> str:
    return name if name.startswith(MODEL_PREFIX) else f"{MODEL_PREFIX}{name}"


def read_model_codes(path: str | Path, *, model_name: str = "model") -> pd.DataFrame:
    """Long (quote_id, coder, code) rows for the model(s) in ``path``; a quote with no code gets a 'no code' row."""
    path = Path(path)
    if path.is_dir():
        path = path / "predictions.jsonl"
    frame, name = read_table(path)
    rows: list[dict[str, Any]] = []
    if {"id", "codes"} <= set(frame.columns):
        for row, (qid, codes) in enumerate(zip(frame["id"], frame["codes"]), start=1):
            if "error" in frame.columns and isinstance(frame["error"].iloc[row - 1], str):
                continue  # predict could not code this row; it has no codes to show
            rows += _rows(qid, codes, _as_model(model_name), file=name, row=row, field="codes")
    elif {"quote_id", "models"} <= set(frame.columns):
        for row, (qid, models) in enumerate(zip(frame["quote_id"], frame["models"]), start=1):
            if not isinstance(models, dict):
                continue  # not evaluated: the record says why
            schemes = list(models)
            for scheme, coders in models.items():
                for coder, out in (coders or {}).items():
                    if not isinstance(out, dict) or out.get("codes") is None:
                        continue
                    label = coder if len(schemes) == 1 else f"{coder}@{scheme}"
                    rows += _rows(qid, out["codes"], _as_model(label), file=name, row=row, field="models")
    elif {QUOTE_ID, CODE} <= set(frame.columns):
        coders = frame[CODER] if CODER in frame.columns else [model_name] * len(frame)
        for qid, coder, code in zip(frame[QUOTE_ID], coders, frame[CODE]):
            rows.append({QUOTE_ID: str(qid), CODER: _as_model(str(coder)), CODE: code if isinstance(code, str) and code else NO_CODE})
    else:
        raise InputError(f"expected predict output (id, codes), a run's predictions.jsonl (quote_id, models) or a long table "
                         f"(quote_id, code); found columns {list(frame.columns)}", file=name)
    return pd.DataFrame.from_records(rows, columns=[QUOTE_ID, CODER, CODE])


def read_model_spans(path: str | Path, *, model_name: str = "model") -> dict[tuple[str, str, str], tuple[int, int]]:
    """(quote_id, model coder, code) -> (start, end) of the evidence span inside the quote, where the file gives one.

    ``predict`` writes ``evidence`` per row, a run's predictions.jsonl per scheme and coder; files
    without evidence give an empty mapping, and the whole quote stays the coded segment.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "predictions.jsonl"
    frame, name = read_table(path)
    spans: dict[tuple[str, str, str], tuple[int, int]] = {}

    def add(qid: object, coder: str, evidence: object, row: int) -> None:
        if not isinstance(evidence, dict):
            return
        for code, where in evidence.items():
            try:
                start, end = int(where["start"]), int(where["end"])
            except (TypeError, KeyError, ValueError):
                raise InputError("evidence must give an integer start and end per code", file=name, row=row, field="evidence") from None
            if not 0 <= start < end:
                raise InputError("evidence start must be >= 0 and before its end", file=name, row=row, field="evidence")
            spans[(str(qid), coder, str(code))] = (start, end)

    if {"id", "evidence"} <= set(frame.columns):
        for row, (qid, evidence) in enumerate(zip(frame["id"], frame["evidence"]), start=1):
            add(qid, _as_model(model_name), evidence, row)
    elif {"quote_id", "models"} <= set(frame.columns):
        for row, (qid, models) in enumerate(zip(frame["quote_id"], frame["models"]), start=1):
            if not isinstance(models, dict):
                continue
            for scheme, coders in models.items():
                for coder, out in (coders or {}).items():
                    if isinstance(out, dict):
                        add(qid, _as_model(coder if len(models) == 1 else f"{coder}@{scheme}"), out.get("evidence"), row)
    return spans


def _rows(qid: object, codes: object, coder: str, *, file: str, row: int, field: str) -> list[dict[str, Any]]:
    if codes is None or (isinstance(codes, float) and pd.isna(codes)):
        return []
    if isinstance(codes, str) or not hasattr(codes, "__iter__"):
        raise InputError("expected a list of codes", file=file, row=row, field=field)
    found = [str(c) for c in codes]
    return [{QUOTE_ID: str(qid), CODER: coder, CODE: c} for c in found] or [{QUOTE_ID: str(qid), CODER: coder, CODE: NO_CODE}]


def with_model_codes(corpus: Corpus, path: str | Path, *, model_name: str = "model") -> Corpus:
    """The corpus plus the model's codes; unknown quotes or codes are errors naming the file."""
    rows = read_model_codes(path, model_name=model_name)
    known = set(corpus.quote_ids)
    unknown = sorted(set(rows[QUOTE_ID]) - known)
    if unknown:
        raise InputError(f"{len(unknown)} prediction(s) for quote ids not in the corpus (first: {unknown[0]!r})", file=path, field="quote_id")
    if corpus.codebook is not None:
        bad = sorted(set(rows[CODE].dropna()) - set(corpus.codebook.code_ids))
        if bad:
            raise InputError(f"code(s) {bad[:5]} are not in the corpus's codebook", file=path, field="code")
    models = set(rows[CODER])
    kept = corpus.annotations[~corpus.annotations[CODER].isin(models)]
    return replace(corpus, annotations=pd.concat([kept, rows], ignore_index=True))
