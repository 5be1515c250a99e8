"""Reading an input table a chunk at a time, so ``predict``'s memory stays flat whatever the file's size.

CSV/TSV go through pandas' ``chunksize`` reader (cells as text, as :func:`corpus.tables.read_table`
reads them), Parquet through pyarrow's record batches, JSONL line by line with the same strict
line parser (a repeated key is a located error). The checks of the whole-file reader are kept:
a missing or empty file, a repeated header, bytes that are not UTF-8 (located by the whole-file
reader when met). Each chunk carries the 1-based row number of its first row, for located errors.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from lived_themes.corpus.tables import (
    _parse_json_line,
    _raw_header,
    _read_text,
    check_unique_columns,
    existing_file,
    read_table,
    table_format,
)
from lived_themes.errors import InputError

#: (first row number, frame) pairs.
Chunks = Iterator[tuple[int, pd.DataFrame]]


def iter_chunks(source: Any, chunk_size: int) -> tuple[str, Chunks]:
    """(name for messages, chunks) for a path, a DataFrame or a datasets.Dataset."""
    if not isinstance(source, (str, Path)):
        frame, name = read_table(source)
        return name, ((start + 1, frame.iloc[start:start + chunk_size]) for start in range(0, max(len(frame), 1), chunk_size))
    path = existing_file(source)
    fmt = table_format(path)
    if fmt == "parquet":
        return str(path), _parquet(path, chunk_size)
    if path.stat().st_size == 0 or not _head(path).strip():
        raise InputError("the file is empty (no header row and no data)", file=path)
    if fmt == "jsonl":
        return str(path), _jsonl(path, chunk_size)
    check_unique_columns(_raw_header(_head(path), fmt), source=path)
    return str(path), _csv(path, fmt, chunk_size)


def _head(path: Path, size: int = 1 << 16) -> str:
    """The first bytes as text (enough for a header row), undecodable bytes left to the located check."""
    with open(path, "rb") as handle:
        data = handle.read(size)
    text = data.decode("utf-8-sig", errors="ignore")
    if len(data) == size and "\n" not in text:  # a header longer than the sample: read on to its end
        with open(path, encoding="utf-8-sig", errors="ignore", newline="") as handle:
            text = handle.readline()
    return text


def _parquet(path: Path, chunk_size: int) -> Chunks:
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputError(f"cannot read Parquet: {exc}", file=path) from None
    check_unique_columns(list(file.schema_arrow.names), source=path)
    start = 1
    empty = True
    for batch in file.iter_batches(batch_size=chunk_size):
        frame = batch.to_pandas()
        empty = False
        yield start, frame
        start += len(frame)
    if empty:
        yield 1, file.schema_arrow.empty_table().to_pandas()


def _jsonl(path: Path, chunk_size: int) -> Chunks:
    start, records, columns = 1, [], {}
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            numbered = ((number, line) for number, line in enumerate(handle, start=1) if line.strip())
            for number, line in numbered:
                record = _parse_json_line(path, line, number)
                columns.update(dict.fromkeys(record))
                records.append(record)
                if len(records) == chunk_size:
                    yield start, pd.DataFrame.from_records(records, columns=list(columns))
                    start, records = start + len(records), []
    except UnicodeDecodeError:
        _read_text(path, "jsonl")  # raises the located error (file, line, row, field)
        raise
    if records or start == 1:
        yield start, pd.DataFrame.from_records(records, columns=list(columns))


def _csv(path: Path, fmt: str, chunk_size: int) -> Chunks:
    start = 1
    try:
        reader = pd.read_csv(path, sep="\t" if fmt == "tsv" else ",", dtype=str, keep_default_na=False, na_values=[""],
                             encoding="utf-8-sig", chunksize=chunk_size)
        with reader:
            first = True
            for frame in reader:
                first = False
                yield start, frame
                start += len(frame)
            if first:  # a header and no rows
                yield 1, pd.read_csv(io.StringIO(_head(path)), sep="\t" if fmt == "tsv" else ",", dtype=str, nrows=0)
    except UnicodeDecodeError:
        _read_text(path, fmt)  # raises the located error
        raise
    except pd.errors.ParserError as exc:
        raise InputError(f"cannot parse {fmt.upper()}: {exc}", file=path) from None


def peek(chunks: Chunks) -> tuple[tuple[int, pd.DataFrame], Chunks]:
    """The first chunk (read, so the input is checked before any output opens) and all chunks again."""
    first = next(chunks)
    return first, itertools.chain([first], chunks)


__all__ = ["iter_chunks", "peek"]
