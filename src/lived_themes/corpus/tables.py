"""Reading and writing tables (CSV, TSV, JSONL, Parquet, DataFrame, datasets.Dataset) with located errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Union

import pandas as pd

from lived_themes.errors import HEADER_ROW, InputError, shown
from lived_themes.files import atomic_output, atomic_path

TableSource = Union[str, Path, pd.DataFrame, Any]

SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet"}


def table_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"unknown table format {suffix!r}; use one of {sorted(SUFFIXES)}", file=path)
    return SUFFIXES[suffix]


#: ``encoding`` value for files that mix UTF-8 lines with Windows (cp1252) lines, as scraped corpora often do.
MIXED = "utf-8-or-cp1252"
#: ``frame.attrs`` key: how many lines a ``utf-8-or-cp1252`` read decoded as cp1252 (for the load report).
REPAIRED_LINES = "lines_decoded_as_cp1252"


def decode_mixed(data: bytes) -> tuple[str, int]:
    """Decode UTF-8, falling back to cp1252 line by line; returns the text and the number of lines that needed it."""
    try:
        return data.decode("utf-8-sig"), 0
    except UnicodeDecodeError:
        pass
    lines, repaired = [], 0
    for line in data.split(b"\n"):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(line.decode("cp1252", errors="replace"))
            repaired += 1
    return "\n".join(lines).lstrip("\ufeff"), repaired


def _read_text(path: Path, fmt: str, encoding: str = "utf-8") -> tuple[str, int]:
    """The file's text and the number of lines decoded as cp1252 (``encoding="utf-8-or-cp1252"`` only)."""
    data = path.read_bytes()
    if encoding == MIXED:
        return decode_mixed(data)
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "utf-8-sig"):
        try:
            return data.decode(encoding), 0
        except LookupError:
            raise InputError(f"unknown encoding {encoding!r}; use utf-8, {MIXED} or a Python codec name such as cp1252", file=path) from None
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise InputError(f"file is not {encoding}: byte {exc.start} on line {line} cannot be decoded", file=path) from None
    try:
        return data.decode("utf-8-sig"), 0
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        row, field = _locate_undecodable(path, data, fmt)
        raise InputError(
            f"file is not UTF-8: byte {exc.start} (0x{data[exc.start]:02x}) on line {line} cannot be decoded; "
            f"re-save the file as UTF-8, or read it with encoding {MIXED!r} (data.encoding; lines that are not UTF-8 "
            "are read as Windows cp1252 and counted)",
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


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _DuplicateKey(next(k for k in keys if keys.count(k) > 1))
    return dict(pairs)


def _parse_json_line(path: Path, line: str, number: int) -> dict:
    try:
        record = json.loads(line, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", file=path, row=number) from None
    except _DuplicateKey as exc:
        raise InputError("the same key appears twice in this line; JSON would keep only the last", file=path, row=number,
                         field=str(exc.args[0])) from None
    if not isinstance(record, dict):
        raise InputError("each line must be a JSON object", file=path, row=number)
    return record


def check_unique_columns(columns: list[object], *, source: str | Path) -> None:
    """A repeated column header is an error: pandas would silently rename the copy ``x.1`` and lose or invent a column."""
    seen: dict[str, int] = {}
    for pos, column in enumerate(columns, start=1):
        key = str(column)
        if key in seen:
            raise InputError(f"column {shown(key)} appears twice in the header (columns {seen[key]} and {pos}); rename or remove one",
                             file=source, row=HEADER_ROW, field=key)
        seen[key] = pos


def _raw_header(text: str, fmt: str) -> list[str]:
    for row in csv.reader(io.StringIO(text, newline=""), delimiter="\t" if fmt == "tsv" else ","):
        if row:
            return row
    return []


def _read_jsonl(path: Path, text: str) -> pd.DataFrame:
    records = [_parse_json_line(path, line, number) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    return pd.DataFrame.from_records(records)


def existing_file(source: str | Path) -> Path:
    """``source`` as a path to a file that exists, or a located error (not found, or a folder)."""
    path = Path(source)
    if not path.exists():
        raise InputError("file not found", file=path)
    if path.is_dir():
        raise InputError("expected a table file, found a folder", file=path)
    return path


def read_table(source: TableSource, *, name: str | None = None, encoding: str = "utf-8") -> tuple[pd.DataFrame, str]:
    """Read any supported table; returns the frame and a name for messages.

    CSV/TSV cells are read as text (empty cells as missing) so identifiers such as ``007`` keep
    their zeros and a load -> save -> load round trip is exact. Text files are UTF-8 unless
    ``encoding`` says otherwise (``"utf-8-or-cp1252"``: per line; the count of lines read as cp1252
    is in ``frame.attrs["lines_decoded_as_cp1252"]``).
    """
    if isinstance(source, pd.DataFrame):
        check_unique_columns(list(source.columns), source=name or "<DataFrame>")
        return source.copy(), name or "<DataFrame>"
    if hasattr(source, "to_pandas") and not isinstance(source, (str, Path)):
        return source.to_pandas(), name or "<datasets.Dataset>"
    path = existing_file(source)
    fmt = table_format(path)
    if fmt == "parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise InputError(f"cannot read Parquet: {exc}", file=path) from None
        check_unique_columns(list(frame.columns), source=path)
        return frame, str(path)
    text, repaired = _read_text(path, fmt, encoding)
    if not text.strip():
        raise InputError("the file is empty (no header row and no data)", file=path)
    if fmt == "jsonl":
        frame = _read_jsonl(path, text)
        frame.attrs[REPAIRED_LINES] = repaired
        return frame, str(path)
    check_unique_columns(_raw_header(text, fmt), source=path)
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
    frame.attrs[REPAIRED_LINES] = repaired
    return frame, str(path)


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table in the format its suffix names, atomically (a temporary file renamed into place)."""
    path = Path(path)
    fmt = table_format(path)
    if fmt == "parquet":
        with atomic_path(path) as temp:
            frame.to_parquet(temp, index=False)
    elif fmt == "jsonl":
        with atomic_output(path) as handle:
            for record in frame.to_dict(orient="records"):
                clean = {k: (None if _missing(v) else v) for k, v in record.items()}
                handle.write(json.dumps(clean, ensure_ascii=False, default=_json_default, allow_nan=False) + "\n")
    else:
        with atomic_path(path) as temp:
            frame.to_csv(temp, sep="\t" if fmt == "tsv" else ",", index=False)
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
    renamed = frame.rename(columns=mapping)
    try:
        check_unique_columns(list(renamed.columns), source=source)
    except InputError as exc:
        raise InputError(f"after the column mapping, {exc.reason}", file=source, row=HEADER_ROW, field=exc.field) from None
    return renamed
