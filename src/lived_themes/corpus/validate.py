"""Checks on quotes and annotations tables, raising errors that name the file, row and field.

Rows are numbered as a researcher sees them in a spreadsheet: 1-based, header excluded.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from lived_themes.errors import HEADER_ROW, InputError

QUOTE_ID = "quote_id"
TEXT = "text"
CODER = "coder"
CODE = "code"


def _is_missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def require_columns(frame: pd.DataFrame, columns: Iterable[str], *, source: str | Path | None) -> None:
    """Fail with the list of columns that are there, so a wrong column mapping is obvious."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"missing column(s) {missing}; columns present: {list(frame.columns)} "
            "(pass a column mapping to rename them)",
            file=source,
            row=HEADER_ROW,
            field=missing[0],
        )


def invalid_text_rows(frame: pd.DataFrame) -> list[tuple[int, str]]:
    """Positions (0-based) of rows whose text is missing, not a string, or blank, with the reason."""
    bad: list[tuple[int, str]] = []
    for pos, value in enumerate(frame[TEXT].tolist()):
        if _is_missing(value):
            bad.append((pos, "text is empty"))
        elif not isinstance(value, str):
            bad.append((pos, f"text is not text (got {type(value).__name__})"))
        elif not value.strip():
            bad.append((pos, "text is empty"))
    return bad


def check_quote_ids(frame: pd.DataFrame, *, source: str | Path | None) -> None:
    """Quote ids must be present and unique: they are the key every output is joined on."""
    ids = frame[QUOTE_ID].tolist()
    seen: dict[str, int] = {}
    for pos, value in enumerate(ids):
        if _is_missing(value) or str(value).strip() == "":
            raise InputError("quote id is empty", file=source, row=pos + 1, field=QUOTE_ID)
        key = str(value)
        if key in seen:
            raise InputError(
                f"duplicate quote id {key!r} (first seen at row {seen[key] + 1})",
                file=source,
                row=pos + 1,
                field=QUOTE_ID,
            )
        seen[key] = pos


def check_annotations(
    annotations: pd.DataFrame,
    *,
    quote_ids: Iterable[str],
    known_codes: Iterable[str] | None,
    source: str | Path | None,
) -> None:
    """Every annotation must point at a known quote, name a coder, and use a codebook code."""
    require_columns(annotations, [QUOTE_ID, CODER, CODE], source=source)
    known_quotes = set(quote_ids)
    codes = set(known_codes) if known_codes is not None else None
    for pos, (qid, coder, code) in enumerate(
        zip(annotations[QUOTE_ID].tolist(), annotations[CODER].tolist(), annotations[CODE].tolist())
    ):
        if _is_missing(qid) or str(qid) not in known_quotes:
            raise InputError(f"annotation for unknown quote id {qid!r}", file=source, row=pos + 1, field=QUOTE_ID)
        if _is_missing(coder) or str(coder).strip() == "":
            raise InputError("coder is empty", file=source, row=pos + 1, field=CODER)
        if codes is not None and not _is_missing(code) and str(code) not in codes:
            raise InputError(
                f"code {code!r} is not in the codebook (known codes: {sorted(codes)})",
                file=source,
                row=pos + 1,
                field=CODE,
            )
    dupes = annotations.duplicated(subset=[QUOTE_ID, CODER, CODE], keep="first")
    if dupes.any():
        pos = int(dupes.to_numpy().nonzero()[0][0])
        raise InputError(
            "the same coder gave the same code to the same quote twice",
            file=source,
            row=pos + 1,
            field=CODE,
        )
