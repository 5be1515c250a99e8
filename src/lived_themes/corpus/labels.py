"""One row per quote with its codes in one label column: ``Stigma type`` = ``Fear``, or ``Fear; Pity`` with a separator.

Raw label values become code ids through ``label_map`` (``{"No stigma": None}``: that value means the
coder saw the quote and gave it no code). Without a map each value is its own code id. A value the
map does not name is an error with its row, never a silent drop. A blank label cell means the coder
did not see the quote, like an all-blank row of a wide file; ``blank="zero"`` reads it as "no code".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lived_themes.codebook import Codebook, load_codebook
from lived_themes.corpus.model import NO_CODE, Corpus
from lived_themes.corpus.tables import TableSource, apply_mapping, read_table
from lived_themes.corpus.io import load_quotes
from lived_themes.corpus.validate import CODE, CODER, QUOTE_ID, ROW_ID_RULE, add_row_ids, check_annotations
from lived_themes.errors import HEADER_ROW, InputError, column_list
from lived_themes.corpus.free_text import TEXT_COLUMN, check_not_free_text

__all__ = ["add_row_ids", "label_codes", "load_labelled", "ROW_ID_RULE"]

def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or (isinstance(value, str) and not value.strip())


def label_codes(values: list[object], *, label_map: dict[str, str | None] | None, separator: str | None,
                source: str, field: str, blank: str = "error") -> list[list[str] | None]:
    """Per row: its code ids ([] = seen, no code) or None (blank cell: not seen, unless ``blank="zero"``)."""
    lookup = None if label_map is None else {str(k).strip(): v for k, v in label_map.items()}
    rows: list[list[str] | None] = []
    for pos, value in enumerate(values):
        if _blank(value):
            rows.append([] if blank == "zero" else None)
            continue
        text = str(value).strip()
        parts = [p.strip() for p in text.split(separator)] if separator else [text]
        codes: list[str] = []
        for part in [p for p in parts if p]:
            if lookup is None:
                code = part
            elif part in lookup:
                code = lookup[part]
            else:
                known = sorted(lookup)
                raise InputError(f"label value not in data.label_map (values mapped: {known}); add it, mapped to a code or to null",
                                 file=source, row=pos + 1, field=field)
            if code is not None and str(code).strip() and code not in codes:
                codes.append(str(code).strip())
        rows.append(codes)
    return rows


def load_labelled(
    source: TableSource,
    *,
    label_column: str,
    coder: str = "annotator",
    label_separator: str | None = None,
    label_map: dict[str, str | None] | None = None,
    blank: str = "error",
    column_mapping: dict[str, str] | None = None,
    codebook: Codebook | str | Path | None = None,
    on_invalid: str = "raise",
    generate_ids: bool = True,
    encoding: str = "utf-8",
    name: str | None = None,
    allow_free_text: Sequence[str] = (),
) -> Corpus:
    """Load a one-row-per-quote table whose codes sit in ``label_column`` as quotes plus one coder's long annotations.

    ``generate_ids``: when the table has no ``quote_id`` column (after ``column_mapping``), ids are
    ``row-1``, ``row-2``, ... in file order (the same file always gets the same ids); the load report says so.
    Without a ``label_map`` each value becomes a code id, printed in every report: a label column that is the
    text column, or whose values look like free text and is not in ``allow_free_text``, is refused
    (:mod:`lived_themes.corpus.free_text`).
    """
    if blank not in ("error", "zero"):
        raise ValueError("blank must be 'error' or 'zero'")
    frame, source_name = read_table(source, encoding=encoding)
    frame = apply_mapping(frame, column_mapping, source=source_name)
    if label_column not in frame.columns:
        raise InputError(f"label column {label_column!r} not found; columns present: {column_list(frame.columns)}",
                         file=source_name, row=HEADER_ROW, field=label_column)
    generated = generate_ids and add_row_ids(frame)
    per_row = label_codes(frame[label_column].tolist(), label_map=label_map, separator=label_separator,
                          source=source_name, field=label_column, blank=blank)
    _check_label_values(per_row, label_column=label_column, mapped=label_map is not None, source=source_name, allowed=allow_free_text)
    quotes, set_aside, report = load_quotes(frame.drop(columns=[label_column]), on_invalid=on_invalid, source_name=source_name)
    if generated:
        report.notes.append(f"no quote_id column: ids generated from row numbers ({ROW_ID_RULE})")
    by_id = dict(zip(frame[QUOTE_ID].astype(str) if generated else _ids(frame, quotes, set_aside), per_row))
    if len(set_aside):
        set_aside["codes"] = [by_id.get(str(q)) or [] for q in set_aside[QUOTE_ID]]
        report.notes.append("codes of set-aside rows are kept in set_aside['codes']")
    records = []
    for qid in quotes[QUOTE_ID]:
        codes = by_id[str(qid)]
        if codes is None:
            continue
        records += [{QUOTE_ID: qid, CODER: coder, CODE: c} for c in codes] or [{QUOTE_ID: qid, CODER: coder, CODE: NO_CODE}]
    annotations = pd.DataFrame.from_records(records, columns=[QUOTE_ID, CODER, CODE])
    if isinstance(codebook, (str, Path)):
        codebook = load_codebook(codebook)
    used = list(dict.fromkeys(c for codes in per_row if codes for c in codes))
    if codebook is None:
        mapped = [v for v in (label_map or {}).values() if v is not None]
        codebook = Codebook.from_codes(list(dict.fromkeys([*mapped, *used])), name=name or Path(str(source_name)).stem)
    check_annotations(annotations, quote_ids=quotes[QUOTE_ID], known_codes=codebook.code_ids, source=source_name)
    return Corpus(quotes=quotes, annotations=annotations, codebook=codebook, name=name or Path(str(source_name)).stem,
                  set_aside=set_aside, reports=[report])


def _check_label_values(per_row: list[list[str] | None], *, label_column: str, mapped: bool, source: str,
                        allowed: Sequence[str]) -> None:
    """The codes a label column yields must not be quote text: the text column never, free text only when allowed."""

    role = "the label column without a label_map (each value becomes a code id)"
    if label_column == TEXT_COLUMN or not mapped:  # with a label_map, every code id was written by the user
        codes = [c for codes in per_row if codes for c in codes]
        check_not_free_text(codes, column=label_column, role=role, file=source, allowed=allowed)


def _ids(frame: pd.DataFrame, quotes: pd.DataFrame, set_aside: pd.DataFrame) -> list[str]:
    """The file's ids as load_quotes normalised them (1.0 -> "1"), in file order (set-aside rows included)."""
    if not len(set_aside):
        return quotes[QUOTE_ID].astype(str).tolist()
    kept = iter(quotes[QUOTE_ID].astype(str))
    aside = dict(zip(set_aside["row"].astype(int), set_aside[QUOTE_ID].astype(str)))
    return [aside[i + 1] if (i + 1) in aside else next(kept) for i in range(len(frame))]
