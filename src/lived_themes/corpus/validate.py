"""Checks on quotes and annotations tables, raising errors that name the file, row and field.

Rows are numbered as a researcher sees them in a spreadsheet: 1-based, header excluded.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from lived_themes.errors import HEADER_ROW, InputError, column_list, shown

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
            f"missing column(s) {missing}; columns present: {column_list(frame.columns)} "
            "(pass a column mapping to rename them)",
            file=source,
            row=HEADER_ROW,
            field=missing[0],
        )


#: Characters that show nothing: whitespace (NBSP and EM SPACE included, via str.isspace) plus zero-width ones.
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u2061", "\u2062", "\u2063", "\u2064"}


def is_blank(text: str) -> bool:
    """True for text with nothing visible: spaces of any kind and zero-width characters only."""
    return all(ch.isspace() or ch in _INVISIBLE for ch in text)


def has_surrogates(text: str) -> bool:
    """A lone surrogate (a JSON escape such as \\ud800 without its pair) is not text and cannot be written as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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
        elif is_blank(value):
            bad.append((pos, "text is empty (only spaces and invisible characters such as NBSP or zero-width space)"))
        elif has_surrogates(value):
            bad.append((pos, "text holds a lone surrogate (an escape such as \\ud800 without its pair), which is not valid Unicode"))
    return bad


def normalise_id(value: object, *, file: str | Path | None, row: int, field: str) -> str:
    """One id, as text, by one rule applied wherever ids enter the package (quotes, annotations, predict input).

    * text stays as it is (``"007"`` keeps its zeros);
    * an integer, or a float with an integer value, becomes its integer digits: ``1``, ``1.0`` -> ``"1"``
      (a JSONL column with one float makes every number a float, and a CSV id ``1`` must still match);
    * another finite float keeps Python's shortest form: ``4.5`` -> ``"4.5"``;
    * bytes are decoded as UTF-8, or refused;
    * a date or timestamp becomes its ISO 8601 text (``2024-05-01T09:30:00``);
    * a missing or blank id (None, NaN, NA, NaT, ``""``) and anything else (lists, booleans, infinity)
      is a located error: ids are the key every output is joined on.
    """
    import datetime as _dt
    import decimal
    import math

    import numpy as np

    if isinstance(value, (bytes, bytearray, np.bytes_)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("id is bytes that are not UTF-8 text", file=file, row=row, field=field) from None
    if isinstance(value, str):
        if not value.strip():
            raise InputError("id is empty", file=file, row=row, field=field)
        if has_surrogates(value):
            raise InputError("id holds a lone surrogate (an escape such as \\ud800 without its pair), which is not valid Unicode",
                             file=file, row=row, field=field)
        return value
    if _is_missing(value):
        raise InputError("id is empty", file=file, row=row, field=field)
    if isinstance(value, (bool, np.bool_)):
        raise InputError("id is a true/false value, not an identifier", file=file, row=row, field=field)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating, decimal.Decimal)):
        number = float(value)
        if not math.isfinite(number):
            raise InputError("id is not a finite number", file=file, row=row, field=field)
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    raise InputError(f"id must be text or a number, got {type(value).__name__}", file=file, row=row, field=field)


def normalise_ids(values: Iterable[object], *, file: str | Path | None, field: str) -> list[str]:
    """:func:`normalise_id` over a column; rows are numbered from 1."""
    return [normalise_id(v, file=file, row=pos, field=field) for pos, v in enumerate(values, start=1)]


def id_key(value: str) -> str:
    """What two ids are compared by when looking for look-alikes: NFC-normalised, edge whitespace removed."""
    return unicodedata.normalize("NFC", value).strip()


def twin_reason(value: str, other: str) -> str:
    """Why two different ids with the same :func:`id_key` look the same: normalisation or stray spaces."""
    if value.strip() != other.strip():
        return ("they differ only in Unicode normalisation (NFC vs NFD: the same letters written with different "
                "code points, e.g. 'é' as one character or as 'e' plus a combining accent); save both the same way")
    return "they differ only by leading or trailing whitespace; remove the stray spaces"


def check_quote_ids(frame: pd.DataFrame, *, source: str | Path | None) -> None:
    """Quote ids must be present and unique: they are the key every output is joined on.

    Ids that print alike but differ in bytes (NFC vs NFD, a trailing space) are refused as look-alike
    twins rather than kept as two quotes nobody can tell apart in a CSV or report.
    """
    ids = frame[QUOTE_ID].tolist()
    seen: dict[str, int] = {}
    alike: dict[str, int] = {}
    for pos, value in enumerate(ids):
        if _is_missing(value) or str(value).strip() == "":
            raise InputError("quote id is empty", file=source, row=pos + 1, field=QUOTE_ID)
        key = str(value)
        if key in seen:
            raise InputError(
                f"duplicate quote id {shown(key)} (first seen at row {seen[key] + 1})",
                file=source,
                row=pos + 1,
                field=QUOTE_ID,
            )
        twin = alike.get(id_key(key))
        if twin is not None:
            raise InputError(
                f"quote id {shown(key)} looks the same as the id at row {twin + 1} but is not: {twin_reason(key, str(ids[twin]))}",
                file=source,
                row=pos + 1,
                field=QUOTE_ID,
            )
        seen[key] = pos
        alike[id_key(key)] = pos


def _twin_hint(value: object, known: set[str], *, what: str) -> str:
    """For an unknown id or code that a known one matches once normalised: which one, and why they differ."""
    if not isinstance(value, str):
        return ""
    key = id_key(value)
    match = next((k for k in known if id_key(k) == key), None)
    if match is None:
        return ""
    return f"; it matches the {what} {shown(match)} except that {twin_reason(value, match)}"


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
            hint = _twin_hint(qid, known_quotes, what="quote id")
            raise InputError(f"annotation for unknown quote id {shown(qid)}{hint}", file=source, row=pos + 1, field=QUOTE_ID)
        if _is_missing(coder) or str(coder).strip() == "":
            raise InputError("coder is empty", file=source, row=pos + 1, field=CODER)
        if codes is not None and not _is_missing(code) and str(code) not in codes:
            hint = _twin_hint(code, codes, what="code")
            raise InputError(
                f"code {shown(code)} is not in the codebook{hint} (known codes: {sorted(codes)})",
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


#: how ids are made when the data has none; recorded in the load report (and so in run.json)
ROW_ID_RULE = "row-<n>, n = the data row (1 = the first row after the header)"


def add_row_ids(frame: pd.DataFrame) -> bool:
    """Give a table without a ``quote_id`` column ids from its row numbers, in place; True when it did."""
    if QUOTE_ID in frame.columns:
        return False
    frame.insert(0, QUOTE_ID, [f"row-{i + 1}" for i in range(len(frame))])
    return True
