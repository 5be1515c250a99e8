"""Reading and writing tables (CSV, TSV, JSONL, Parquet, DataFrame, datasets.Dataset) with located errors."""

from __future__ import annotations

import codecs
import csv
import io
import json
from pathlib import Path
from typing import Any, Union

import pandas as pd

from lived_themes.errors import (
    HEADER_ROW,
    MAX_SHOWN_CHARS,
    InputError,
    column_list,
    shown,
)
from lived_themes.files import atomic_output, atomic_path
from lived_themes.paths import input_file

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


#: Byte-order marks, longest first (a UTF-32-LE mark starts with the UTF-16-LE one): a file that carries one is read by it.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


def byte_order_mark(data: bytes) -> tuple[str, str] | None:
    """(codec, name) of the byte-order mark ``data`` starts with, if any."""
    for mark, codec, label in _BOMS:
        if data.startswith(mark):
            return codec, label
    return None


def _codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return encoding


def _read_text(path: Path, fmt: str, encoding: str = "utf-8") -> tuple[str, int]:
    """The file's text and the number of lines decoded as cp1252 (``encoding="utf-8-or-cp1252"`` only).

    A byte-order mark wins over ``encoding`` (data.encoding applies to every file, and one file of a
    corpus may be UTF-16 while the others are UTF-8); a UTF-16/32 ``encoding`` is refused for a file
    without a mark that plainly is UTF-8, instead of decoding it into one giant "column name".
    """
    data = path.read_bytes()
    bom = byte_order_mark(data)
    if bom is not None and bom[0] != "utf-8-sig":
        try:
            return data.decode(bom[0]), 0
        except UnicodeDecodeError as exc:
            raise InputError(f"file starts with a {bom[1]} byte-order mark but byte {exc.start} is not {bom[1]}; "
                             "re-save the file as UTF-8", file=path) from None
    if bom is not None and encoding != MIXED:
        encoding = "utf-8"
    if encoding == MIXED:
        return decode_mixed(data)
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "utf-8-sig"):
        codec = _codec(encoding)
        if codec.startswith(("utf-16", "utf-32")) and b"\x00" not in data and _is_utf8(data):
            raise InputError(
                f"data.encoding is {encoding!r}, but this file has no byte-order mark and no NUL bytes and reads as UTF-8, "
                "so it is not UTF-16/32; remove data.encoding (it applies to every file; a file with a UTF-16 or UTF-32 "
                "byte-order mark is read by its mark anyway)",
                file=path,
            )
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


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def check_first_line(text: str, *, path: Path) -> None:
    """A first line holding NUL characters is UTF-16/32 read as something else: say so, never echo the line."""
    end = text.find("\n")
    first = text if end < 0 else text[:end]
    if "\x00" in first:
        raise InputError(
            "the first line holds NUL bytes: the file looks like UTF-16 or UTF-32 saved without a byte-order mark; "
            "re-save it as UTF-8 (or set data.encoding to utf-16-le or utf-16-be)",
            file=path,
            row=HEADER_ROW,
        )


def _locate_undecodable(path: Path, data: bytes, fmt: str) -> tuple[int | None, str | None]:
    """Row and column of the first cell holding an undecodable byte, so the cell can be fixed by hand.

    Bad bytes decode to lone surrogates (``surrogateescape``), which valid text never contains.
    """
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")

    def bad(value: object) -> bool:
        return isinstance(value, str) and any("\udc80" <= ch <= "\udcff" for ch in value)

    try:
        if fmt == "jsonl":
            records = [_parse_json_line(path, line, number, surrogates_ok=True) for number, line in enumerate(text.splitlines(), 1)
                       if line.strip()]
            return next(((i, k) for i, r in enumerate(records, 1) for k, v in r.items() if bad(k) or bad(v)), (None, None))
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if fmt == "tsv" else ",")
        rows = [row for row in reader if row]  # pandas skips blank lines too, so row numbers agree
    except (InputError, csv.Error):
        return None, None
    header = rows[0] if rows else []
    for column in header:
        if bad(column):
            name = column.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            return HEADER_ROW, name if len(name) <= MAX_SHOWN_CHARS else None
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


def _parse_json_line(path: Path, line: str, number: int, *, surrogates_ok: bool = False) -> dict:
    try:
        record = json.loads(line, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", file=path, row=number) from None
    except _DuplicateKey as exc:
        raise InputError("the same key appears twice in this line; JSON would keep only the last", file=path, row=number,
                         field=str(exc.args[0])) from None
    if not isinstance(record, dict):
        raise InputError("each line must be a JSON object", file=path, row=number)
    for key, value in ([] if surrogates_ok else record.items()):
        if (isinstance(value, str) and _has_surrogates(value)) or _has_surrogates(key):
            raise InputError("holds a lone surrogate (an escape such as \\ud800 without its pair), which is not valid Unicode "
                             "and cannot be written back; fix or remove that escape", file=path, row=number,
                             field=key if not _has_surrogates(key) and len(key) <= MAX_SHOWN_CHARS else None)
    return record


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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
    """``source`` as a regular file, or a located error (not found, a folder, a symlink loop, a FIFO or device)."""

    return input_file(source)


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
    check_first_line(text, path=path)
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
            f"column mapping names column(s) {missing} that are not in the file; columns present: {column_list(frame.columns)}",
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
