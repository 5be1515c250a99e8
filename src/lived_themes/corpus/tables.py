"""Reading and writing tables (CSV, TSV, JSONL, Parquet, DataFrame, datasets.Dataset) with located errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Union

import pandas as pd

from lived_themes.errors import HEADER_ROW, InputError

TableSource = Union[str, Path, pd.DataFrame, Any]

SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet"}


def table_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"unknown table format {suffix!r}; use one of {sorted(SUFFIXES)}", file=path)
    return SUFFIXES[suffix]


def _read_utf8(path: Path, fmt: str) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        row, field = _locate_undecodable(path, data, fmt)
        raise InputError(
            f"file is not UTF-8: byte {exc.start} (0x{data[exc.start]:02x}) on line {line} cannot be decoded; "
            "re-save the file as UTF-8",
            file=path,
            row=row,
            field=field,
        ) from None


def _locate_undecodable(path: Path, data: bytes, fmt: str) -> tuple[int | None, str | None]:
    """Row and column of the first cell holding an undecodable byte, so the cell can be fixed by hand.

    Bad bytes decode to lone surrogates (``surrogateescape``), which valid text never contains.
    """
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")

    def bad(value: object) -> bool:
        return isinstance(value, str) and any("\udc80" <= ch <= "\udcff" for ch in value)

    try:
        if fmt == "jsonl":
            records = [_parse_json_line(path, line, number) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
            return next(((i, k) for i, r in enumerate(records, 1) for k, v in r.items() if bad(k) or bad(v)), (None, None))
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if fmt == "tsv" else ",")
        rows = [row for row in reader if row]  # pandas skips blank lines too, so row numbers agree
    except (InputError, csv.Error):
        return None, None
    header = rows[0] if rows else []
    for column in header:
        if bad(column):
            return HEADER_ROW, column.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    for i, row in enumerate(rows[1:], start=1):
        for column, value in zip(header, row):
            if bad(value):
                return i, column
    return None, None


def _parse_json_line(path: Path, line: str, number: int) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", file=path, row=number) from None
    if not isinstance(record, dict):
        raise InputError("each line must be a JSON object", file=path, row=number)
    return record


def _read_jsonl(path: Path, text: str) -> pd.DataFrame:
    records = [_parse_json_line(path, line, number) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    return pd.DataFrame.from_records(records)


def read_table(source: TableSource, *, name: str | None = None) -> tuple[pd.DataFrame, str]:
    """Read any supported table; returns the frame and a name for messages.

    CSV/TSV cells are read as text (empty cells as missing) so identifiers such as ``007`` keep
    their zeros and a load -> save -> load round trip is exact.
    """
    if isinstance(source, pd.DataFrame):
        return source.copy(), name or "<DataFrame>"
    if hasattr(source, "to_pandas") and not isinstance(source, (str, Path)):
        return source.to_pandas(), name or "<datasets.Dataset>"
    path = Path(source)
    if not path.exists():
        raise InputError("file not found", file=path)
    fmt = table_format(path)
    if fmt == "parquet":
        try:
            return pd.read_parquet(path), str(path)
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise InputError(f"cannot read Parquet: {exc}", file=path) from None
    text = _read_utf8(path, fmt)
    if fmt == "jsonl":
        return _read_jsonl(path, text), str(path)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep="\t" if fmt == "tsv" else ",",
            dtype=str,
            keep_default_na=False,
            na_values=[""],
        )
    except pd.errors.ParserError as exc:
        raise InputError(f"cannot parse {fmt.upper()}: {exc}", file=path) from None
    return frame, str(path)


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table in the format its suffix names."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = table_format(path)
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "jsonl":
        with path.open("w", encoding="utf-8") as handle:
            for record in frame.to_dict(orient="records"):
                clean = {k: (None if _missing(v) else v) for k, v in record.items()}
                handle.write(json.dumps(clean, ensure_ascii=False, default=_json_default) + "\n")
    else:
        frame.to_csv(path, sep="\t" if fmt == "tsv" else ",", index=False)
    return path


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _json_default(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def apply_mapping(frame: pd.DataFrame, mapping: dict[str, str] | None, *, source: str) -> pd.DataFrame:
    """Rename user columns to the canonical ones once, at the boundary."""
    if not mapping:
        return frame
    missing = [col for col in mapping if col not in frame.columns]
    if missing:
        raise InputError(
            f"column mapping names column(s) {missing} that are not in the file; columns present: {list(frame.columns)}",
            file=source,
            row=HEADER_ROW,
            field=missing[0],
        )
    return frame.rename(columns=mapping)
