"""Loaders and savers for the corpus: long annotations, wide one-hot files, and whole corpus folders."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lived_themes.codebook import Codebook, load_codebook
from lived_themes.corpus.model import Corpus, LoadReport, annotations_from_matrix
from lived_themes.corpus.tables import REPAIRED_LINES, TableSource, apply_mapping, read_table, write_table
from lived_themes.corpus.validate import (
    CODE, CODER, QUOTE_ID, ROW_ID_RULE, TEXT, add_row_ids, check_annotations, check_quote_ids, invalid_text_rows, normalise_ids,
    require_columns,
)
from lived_themes.errors import HEADER_ROW, InputError, column_list, shown
from lived_themes.paths import input_folder, present

log = logging.getLogger(__name__)

__all__ = ["load_annotations", "load_corpus", "load_quotes", "load_wide", "read_table", "save_corpus", "write_table"]


def load_quotes(
    source: TableSource,
    *,
    column_mapping: dict[str, str] | None = None,
    on_invalid: str = "raise",
    generate_ids: bool = False,
    source_name: str | None = None,
    encoding: str = "utf-8",
) -> tuple[pd.DataFrame, pd.DataFrame, LoadReport]:
    """Read a quotes table -> (quotes, set_aside, report).

    ``on_invalid="raise"`` stops at the first empty or non-text quote; ``"set_aside"`` moves such
    rows to the returned ``set_aside`` table with their row number and reason. ``source_name`` names
    an in-memory table in errors (e.g. the file a wide table was read from).
    """
    if on_invalid not in ("raise", "set_aside"):
        raise ValueError("on_invalid must be 'raise' or 'set_aside'")
    frame, name = read_table(source, name=source_name, encoding=encoding)
    frame = apply_mapping(frame, column_mapping, source=name)
    report = LoadReport(source=name, n_read=len(frame), n_kept=0)
    _note_repaired(frame, report)
    if generate_ids and add_row_ids(frame):
        report.notes.append(f"no quote_id column: ids generated from row numbers ({ROW_ID_RULE})")
    require_columns(frame, [QUOTE_ID, TEXT], source=name)
    frame[QUOTE_ID] = pd.Series(normalise_ids(frame[QUOTE_ID].tolist(), file=name, field=QUOTE_ID), index=frame.index, dtype=object)
    check_quote_ids(frame, source=name)
    bad = invalid_text_rows(frame)
    if bad and on_invalid == "raise":
        pos, reason = bad[0]
        raise InputError(f"{reason} ({len(bad)} such row(s); pass on_invalid='set_aside' to set them aside)", file=name, row=pos + 1, field=TEXT)
    positions = [pos for pos, _ in bad]
    set_aside = frame.iloc[positions].copy()
    set_aside.insert(0, "reason", [reason for _, reason in bad])
    set_aside.insert(0, "row", [pos + 1 for pos in positions])
    quotes = frame.drop(index=frame.index[positions]).reset_index(drop=True)
    report.n_kept = len(quotes)
    report.set_aside = [{"row": pos + 1, "field": TEXT, "reason": reason, QUOTE_ID: frame[QUOTE_ID].iloc[pos]} for pos, reason in bad]
    log.info(report.summary())
    return quotes, set_aside.reset_index(drop=True), report


def _note_repaired(frame: pd.DataFrame, report: LoadReport) -> None:
    repaired = int(frame.attrs.get(REPAIRED_LINES, 0) or 0)
    if repaired:
        report.notes.append(f"{repaired} line(s) not valid UTF-8, decoded as cp1252")


def load_annotations(source: TableSource, *, column_mapping: dict[str, str] | None = None,
                     encoding: str = "utf-8") -> tuple[pd.DataFrame, LoadReport]:
    """Read a long annotations table (quote_id, coder, code[, extra columns])."""
    frame, name = read_table(source, encoding=encoding)
    frame = apply_mapping(frame, column_mapping, source=name)
    require_columns(frame, [QUOTE_ID, CODER, CODE], source=name)
    frame[QUOTE_ID] = pd.Series(normalise_ids(frame[QUOTE_ID].tolist(), file=name, field=QUOTE_ID), index=frame.index, dtype=object)
    report = LoadReport(source=name, n_read=len(frame), n_kept=len(frame))
    return frame, report


def _read_codebook(codebook: Codebook | str | Path | None) -> Codebook | None:
    if codebook is None or isinstance(codebook, Codebook):
        return codebook
    return load_codebook(codebook)


def load_corpus(
    quotes: TableSource,
    annotations: TableSource | None = None,
    *,
    codebook: Codebook | str | Path | None = None,
    column_mapping: dict[str, str] | None = None,
    annotation_mapping: dict[str, str] | None = None,
    on_invalid: str = "raise",
    name: str | None = None,
    encoding: str = "utf-8",
) -> Corpus:
    """Load quotes and long annotations into a validated Corpus.

    ``quotes`` may be a folder written by :func:`save_corpus` (quotes.*, annotations.*, codebook.yaml);
    ``annotations``, when given, is read instead of the folder's ``annotations.*``.
    """
    earlier_aside = None
    if isinstance(quotes, (str, Path)) and Path(quotes).is_dir():
        folder = Path(quotes)
        input_folder(folder)  # an unreadable folder is named as such, not as a missing file inside it
        earlier_aside = _read_set_aside(folder)
        quotes = _find(folder, "quotes")
        annotations = annotations if annotations is not None else _find(folder, "annotations", required=False)
        if codebook is None and present(folder / "codebook.yaml"):
            codebook = folder / "codebook.yaml"
        name = name or folder.name
    book = _read_codebook(codebook)
    quote_table, set_aside, quote_report = load_quotes(quotes, column_mapping=column_mapping, on_invalid=on_invalid, encoding=encoding)
    reports = [quote_report]
    if annotations is not None:
        ann, ann_report = load_annotations(annotations, column_mapping=annotation_mapping, encoding=encoding)
        aside_ids = set(set_aside[QUOTE_ID]) if len(set_aside) else set()
        # Checked before set-aside quotes' rows are moved out, so the row numbers are the file's.
        all_ids = [*quote_table[QUOTE_ID], *aside_ids]
        check_annotations(ann, quote_ids=all_ids, known_codes=book.code_ids if book else None, source=ann_report.source)
        orphan = ann[QUOTE_ID].isin(aside_ids)
        if orphan.any():
            ann_report.notes.append(f"{int(orphan.sum())} annotation row(s) belong to set-aside quotes and are kept with them (set_aside['annotation_rows'])")
            set_aside = set_aside.assign(annotations=set_aside[QUOTE_ID].map(ann[orphan].groupby(QUOTE_ID)[CODE].apply(lambda s: [c for c in s if pd.notna(c)])))
            rows = ann[orphan].groupby(QUOTE_ID).apply(lambda g: [[str(k), c if isinstance(c, str) else None] for k, c in zip(g[CODER], g[CODE])])
            set_aside = set_aside.assign(annotation_rows=set_aside[QUOTE_ID].map(rows))
            ann = ann[~orphan]
            ann_report.n_kept = len(ann)
        reports.append(ann_report)
    else:
        ann = pd.DataFrame(columns=[QUOTE_ID, CODER, CODE])
    if earlier_aside is not None:
        set_aside = pd.concat([earlier_aside, set_aside], ignore_index=True) if len(set_aside) else earlier_aside
        quote_report.n_read += len(earlier_aside)
        quote_report.set_aside = [
            {"row": r.get("row"), "field": TEXT, "reason": r.get("reason"), QUOTE_ID: r.get(QUOTE_ID)} for r in earlier_aside.to_dict("records")
        ] + quote_report.set_aside
        quote_report.notes.append(f"{len(earlier_aside)} row(s) set aside when first loaded, read back from the set_aside file")
    return Corpus(quotes=quote_table, annotations=ann, codebook=book, name=name or "corpus", set_aside=set_aside, reports=reports)


def _find(folder: Path, stem: str, *, required: bool = True) -> Path | None:
    for suffix in (".jsonl", ".parquet", ".csv", ".tsv"):
        if present(folder / f"{stem}{suffix}"):  # a symlink loop or a FIFO is found here and refused by name when read
            return folder / f"{stem}{suffix}"
    if required:
        raise InputError(f"no {stem}.jsonl/.parquet/.csv/.tsv in the folder", file=folder)
    return None


LIST_COLUMNS = ("annotations", "codes", "annotation_rows")  # set-aside rows keep the codes they had (and who gave them), as lists


def _read_set_aside(folder: Path) -> pd.DataFrame | None:
    """Rows a save_corpus folder recorded as set aside, so a save -> load round trip loses none."""
    path = _find(folder, "set_aside", required=False)
    if path is None:
        return None
    frame, name = read_table(path)
    if "row" in frame.columns:
        frame["row"] = frame["row"].astype(int)
    for column in [c for c in LIST_COLUMNS if c in frame.columns]:
        frame[column] = [_as_list(v, file=name, row=i + 1, field=column) for i, v in enumerate(frame[column])]
    return frame


def _as_list(value: object, *, file: str, row: int, field: str) -> list:
    """A list cell: native in JSONL/Parquet, JSON text in CSV/TSV, missing for none."""
    if isinstance(value, str):
        try:
            return list(json.loads(value))
        except (json.JSONDecodeError, TypeError):
            raise InputError("expected a JSON list", file=file, row=row, field=field) from None
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return list(value)


def _binary_matrix(frame: pd.DataFrame, code_columns: Sequence[str], *, source: str, blank: str = "error") -> np.ndarray:
    """0/1 matrix from one-hot columns.

    blank="error": a blank cell is an error, except a row blank in every code column, which means
    the coder did not see the quote (NaN row). blank="zero": blank cells mean 0 (files that mark
    only the 1s), so an all-blank row means "seen, no code".
    """
    if blank not in ("error", "zero"):
        raise ValueError("blank must be 'error' or 'zero'")
    truthy = {"1", "1.0", "true", "True", "TRUE"}
    falsy = {"0", "0.0", "false", "False", "FALSE"}
    matrix = np.zeros((len(frame), len(code_columns)))
    values = frame[list(code_columns)].to_numpy(dtype=object)
    for i, row in enumerate(values):
        empty = [pd.isna(v) if not isinstance(v, str) else not v.strip() for v in row]
        if all(empty) and blank == "error":
            matrix[i, :] = np.nan
            continue
        for j, value in enumerate(row):
            text = str(value).strip() if not empty[j] else ""
            if empty[j] and blank == "zero":
                continue
            if text in truthy:
                matrix[i, j] = 1.0
            elif text in falsy:
                matrix[i, j] = 0.0
            else:
                found = "an empty cell" if empty[j] else shown(value)
                raise InputError(f"code columns must hold 0 or 1, found {found}", file=source, row=i + 1, field=code_columns[j])
    return matrix


def load_wide(
    source: TableSource,
    *,
    coder: str,
    code_columns: Sequence[str] | None = None,
    code_columns_from: str | None = None,
    code_columns_to: str | None = None,
    blank: str = "error",
    column_mapping: dict[str, str] | None = None,
    codebook: Codebook | str | Path | None = None,
    on_invalid: str = "raise",
    generate_ids: bool = False,
    name: str | None = None,
    encoding: str = "utf-8",
) -> Corpus:
    """Load a wide one-hot file (one 0/1 column per code) as quotes plus one coder's long annotations.

    Code columns are named explicitly, or as the span ``code_columns_from`` .. ``code_columns_to``
    (inclusive; to the last column when ``code_columns_to`` is None). ``blank="zero"`` reads blank
    code cells as 0, for files that mark only the 1s (such as the NHS framework file).
    """
    frame, source_name = read_table(source, encoding=encoding)
    frame = apply_mapping(frame, column_mapping, source=source_name)
    if code_columns is None:
        if code_columns_from is None:
            raise ValueError("name the code columns: code_columns=[...] or code_columns_from='first code column'")
        columns = list(frame.columns)
        for col in (code_columns_from, code_columns_to):
            if col is not None and col not in columns:
                raise InputError(f"code column {shown(col)} not found; columns present: {column_list(columns)}", file=source_name,
                                 row=HEADER_ROW, field=col)
        start = columns.index(code_columns_from)
        stop = columns.index(code_columns_to) + 1 if code_columns_to else len(columns)
        code_columns = columns[start:stop]
    require_columns(frame, list(code_columns), source=source_name)
    book = _read_codebook(codebook) or Codebook.from_codes(list(code_columns), name=name or Path(str(source_name)).stem)
    unknown = [c for c in code_columns if c not in set(book.code_ids)]
    if unknown:
        raise InputError(f"code column(s) {unknown} are not in the codebook (known codes: {book.code_ids})", file=source_name, row=HEADER_ROW, field=unknown[0])
    generated = generate_ids and add_row_ids(frame)
    matrix = _binary_matrix(frame, code_columns, source=source_name, blank=blank)
    quotes_frame = frame.drop(columns=list(code_columns))
    quotes, set_aside, report = load_quotes(quotes_frame, on_invalid=on_invalid, source_name=source_name)
    if generated:
        report.notes.append(f"no quote_id column: ids generated from row numbers ({ROW_ID_RULE})")
    kept = np.ones(len(frame), bool)
    if len(set_aside):
        kept[set_aside["row"].to_numpy(dtype=int) - 1] = False
        set_aside["codes"] = [[code_columns[j] for j in np.flatnonzero(np.nan_to_num(r) > 0)] for r in matrix[~kept]]
        set_aside["annotation_rows"] = [[[coder, c] for c in codes] or [[coder, None]] for codes in set_aside["codes"]]
        report.notes.append("codes of set-aside rows are kept in set_aside['codes']")
    annotations = annotations_from_matrix(matrix[kept], quotes[QUOTE_ID].tolist(), list(code_columns), coder)
    check_annotations(annotations, quote_ids=quotes[QUOTE_ID], known_codes=book.code_ids, source=source_name)
    return Corpus(quotes=quotes, annotations=annotations, codebook=book, name=name or Path(str(source_name)).stem, set_aside=set_aside, reports=[report])


def save_corpus(corpus: Corpus, directory: str | Path, *, format: str = "jsonl") -> Path:
    """Write quotes, annotations, set-aside rows and the codebook to a folder that load_corpus reads back."""
    if format not in ("jsonl", "csv", "tsv", "parquet"):
        raise ValueError("format must be jsonl, csv, tsv or parquet")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    write_table(corpus.quotes, folder / f"quotes.{format}")
    write_table(corpus.annotations, folder / f"annotations.{format}")
    if len(corpus.set_aside):
        aside = corpus.set_aside.copy()
        for column in [c for c in LIST_COLUMNS if c in aside.columns]:
            lists = [list(v) if hasattr(v, "__len__") and not isinstance(v, str) else [] for v in aside[column]]
            aside[column] = [json.dumps(v, ensure_ascii=False) for v in lists] if format in ("csv", "tsv") else lists
        write_table(aside, folder / f"set_aside.{format}")
    if corpus.codebook is not None:
        corpus.codebook.to_yaml(folder / "codebook.yaml")
    return folder
