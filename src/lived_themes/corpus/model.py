"""The corpus data model: quotes, long annotations, and the views the rest of the package needs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lived_themes.corpus.validate import CODE, CODER, QUOTE_ID, TEXT, check_annotations, check_quote_ids, invalid_text_rows
from lived_themes.errors import InputError

if TYPE_CHECKING:
    from lived_themes.codebook import Codebook

#: The value of ``code`` meaning "this coder saw the quote and assigned no code".
NO_CODE = None
MODEL_PREFIX = "model:"
CONSENSUS_PREFIX = "consensus:"
#: The coder ``adjudicate`` writes by default; with ``DERIVED`` it marks a coder made from other coders' codes.
ADJUDICATED = "adjudicated"
#: Annotation column: a non-empty value marks the coder of that row as derived from other coders (an adjudicated
#: reference), never an independent human, so it cannot lift the human-human ceiling whatever its name.
DERIVED = "derived"


@dataclass
class LoadReport:
    """What one load read, kept, and set aside (with reasons), so nothing disappears silently."""

    source: str
    n_read: int
    n_kept: int
    set_aside: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.source}: read {self.n_read} rows, kept {self.n_kept}, set aside {len(self.set_aside)}"
        return text + ("".join(f"; {n}" for n in self.notes))


@dataclass
class Corpus:
    """Quotes with metadata plus annotations in a long table (quote_id, coder, code).

    ``quotes`` has one row per quote: ``quote_id`` (str, unique), ``text`` and any metadata columns.
    ``annotations`` has one row per (quote, coder, code); ``code`` is missing when the coder saw the
    quote and assigned nothing. Extra annotation columns (e.g. ``evidence``) are kept.
    ``set_aside`` holds input rows that were not usable, with the reason, so every input is accounted for.
    """

    quotes: pd.DataFrame
    annotations: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=[QUOTE_ID, CODER, CODE]))
    codebook: Codebook | None = None
    name: str = "corpus"
    set_aside: pd.DataFrame = field(default_factory=pd.DataFrame)
    reports: list[LoadReport] = field(default_factory=list)

    def __post_init__(self) -> None:
        quotes = self.quotes.reset_index(drop=True).copy()
        for column in (QUOTE_ID, TEXT):
            if column not in quotes.columns:
                raise InputError(f"quotes table has no {column!r} column", field=column)
        quotes[QUOTE_ID] = quotes[QUOTE_ID].astype(object).map(lambda v: v if pd.isna(v) else str(v))
        check_quote_ids(quotes, source=None)
        bad = invalid_text_rows(quotes)
        if bad:
            pos, reason = bad[0]
            raise InputError(reason, row=pos + 1, field=TEXT)
        annotations = self.annotations.reset_index(drop=True).copy()
        for column in (QUOTE_ID, CODER, CODE):
            if column not in annotations.columns:
                annotations[column] = pd.Series(dtype=object)
        annotations[QUOTE_ID] = annotations[QUOTE_ID].astype(object).map(lambda v: v if pd.isna(v) else str(v))
        annotations[CODE] = annotations[CODE].astype(object).map(_clean_code)
        annotations[CODER] = annotations[CODER].astype(object)
        known = self.codebook.code_ids if self.codebook is not None else None
        check_annotations(annotations, quote_ids=quotes[QUOTE_ID], known_codes=known, source=None)
        self.quotes = quotes
        self.annotations = annotations

    # ----- basic views -------------------------------------------------------------------------
    @property
    def quote_ids(self) -> list[str]:
        return self.quotes[QUOTE_ID].tolist()

    @property
    def texts(self) -> list[str]:
        return self.quotes[TEXT].tolist()

    @property
    def coders(self) -> list[str]:
        """Coders in order of first appearance."""
        return list(dict.fromkeys(self.annotations[CODER].tolist()))

    @property
    def human_coders(self) -> list[str]:
        """Coders that are independent people: not models, not a consensus and not an adjudication derived from them."""
        derived = self.derived_coders
        return [c for c in self.coders if c not in derived]

    @property
    def derived_coders(self) -> set[str]:
        """Coders that are not independent humans: models, consensus coders and adjudicated references
        (named ``adjudicated`` / ``adjudicated:...``, or flagged in the ``derived`` annotation column)."""
        out = {c for c in self.coders if str(c).startswith((MODEL_PREFIX, CONSENSUS_PREFIX, ADJUDICATED + ":"))
               or str(c) == ADJUDICATED}
        if DERIVED in self.annotations.columns:
            flag = self.annotations[DERIVED].astype(object)
            marked = flag.notna() & (flag.astype(str).str.strip() != "")
            out |= set(self.annotations.loc[marked, CODER].tolist())
        return out

    @property
    def codes(self) -> list[str]:
        """Codebook order when there is a codebook, else the codes observed, sorted."""
        if self.codebook is not None:
            return list(self.codebook.code_ids)
        return sorted({str(c) for c in self.annotations[CODE].tolist() if _clean_code(c) is not None})

    def __len__(self) -> int:
        return len(self.quotes)

    def seen_by(self, coder: str) -> np.ndarray:
        """Boolean mask over quotes: did this coder see the quote (with or without assigning a code)?"""
        seen = set(self.annotations.loc[self.annotations[CODER] == coder, QUOTE_ID])
        return self.quotes[QUOTE_ID].isin(seen).to_numpy()

    # ----- matrices ----------------------------------------------------------------------------
    def label_matrix(self, coder: str, codes: Sequence[str] | None = None, *, dtype: Any = np.float64) -> np.ndarray:
        """(n_quotes, n_codes) float matrix: 1/0, and a NaN row where the coder did not see the quote.

        ``dtype=np.float32`` holds the same values (0, 1, NaN are exact) in half the memory, for scorers that
        widen a slice at a time."""
        codes = list(codes) if codes is not None else self.codes
        col = {c: j for j, c in enumerate(codes)}
        matrix = np.full((len(self), len(codes)), np.nan, dtype=dtype)
        rows = self.annotations[self.annotations[CODER] == coder]
        # vectorised (a million annotation rows in about a second): positions by lookup, not a Python loop
        position = pd.Series(np.arange(len(self)), index=pd.Index(self.quotes[QUOTE_ID].to_numpy(dtype=object)))
        at = rows[QUOTE_ID].map(position)
        if at.isna().any():
            raise KeyError(rows[QUOTE_ID][at.isna()].iloc[0])
        at = at.to_numpy(dtype=int)
        matrix[np.unique(at), :] = 0.0
        code_at = rows[CODE].map(col).fillna(-1).to_numpy(dtype=int)  # codes are cleaned on construction; missing -> -1
        hit = code_at >= 0
        matrix[at[hit], code_at[hit]] = 1.0
        return matrix

    def label_matrices(self, coders: Iterable[str] | None = None, codes: Sequence[str] | None = None, *,
                       dtype: Any = np.float64) -> dict[str, np.ndarray]:
        return {c: self.label_matrix(c, codes, dtype=dtype) for c in (coders if coders is not None else self.coders)}

    def to_wide(self, coder: str, codes: Sequence[str] | None = None, *, include_unseen: bool = False) -> pd.DataFrame:
        """One-hot table for one coder: quote_id plus one 0/1 column per code.

        Quotes the coder did not see are left out unless ``include_unseen``, where their codes are empty.
        """
        codes = list(codes) if codes is not None else self.codes
        matrix = self.label_matrix(coder, codes)
        wide = pd.DataFrame(matrix, columns=codes)
        seen = ~np.isnan(matrix).all(axis=1) if codes else self.seen_by(coder)
        wide = wide.astype("Int64") if len(codes) else wide
        wide.insert(0, QUOTE_ID, self.quote_ids)
        return wide if include_unseen else wide[seen].reset_index(drop=True)

    # ----- derived corpora ---------------------------------------------------------------------
    def with_coder(self, coder: str, matrix: np.ndarray, codes: Sequence[str], *, quote_ids: Sequence[str] | None = None) -> Corpus:
        """A copy with one more coder (e.g. a model) whose 0/1 matrix covers ``quote_ids`` (default: all)."""
        quote_ids = list(quote_ids) if quote_ids is not None else self.quote_ids
        new = annotations_from_matrix(np.asarray(matrix), quote_ids, list(codes), coder)
        kept = self.annotations[self.annotations[CODER] != coder]
        return replace(self, annotations=pd.concat([kept, new], ignore_index=True))

    def subset(self, quote_ids: Iterable[str]) -> Corpus:
        wanted = set(quote_ids)
        quotes = self.quotes[self.quotes[QUOTE_ID].isin(wanted)]
        annotations = self.annotations[self.annotations[QUOTE_ID].isin(wanted)]
        return replace(self, quotes=quotes, annotations=annotations)

    def describe(self) -> str:
        return (
            f"{self.name}: {len(self)} quotes, {len(self.coders)} coder(s), {len(self.codes)} code(s), "
            f"{len(self.annotations)} annotation rows, {len(self.set_aside)} input row(s) set aside"
        )


def _clean_code(value: object) -> str | None:
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    text = str(value).strip()
    return text or None


def annotations_from_matrix(matrix: np.ndarray, quote_ids: Sequence[str], codes: Sequence[str], coder: str) -> pd.DataFrame:
    """Long annotations from a 0/1 matrix; an all-zero row becomes one 'no code' row, a NaN row nothing."""
    records: list[dict[str, Any]] = []
    for qid, row in zip(quote_ids, matrix):
        if np.isnan(row).all() and len(row):
            continue
        hits = [codes[j] for j in np.flatnonzero(np.nan_to_num(row) > 0)]
        if hits:
            records.extend({QUOTE_ID: qid, CODER: coder, CODE: code} for code in hits)
        else:
            records.append({QUOTE_ID: qid, CODER: coder, CODE: NO_CODE})
    return pd.DataFrame.from_records(records, columns=[QUOTE_ID, CODER, CODE])


def agreement_codes(corpus: Corpus, humans: list[str], codes: list[str]) -> list[str]:
    """Every code any of ``humans`` used, the model's ``codes`` first: human agreement, disagreements and adjudication
    cover them all, whatever ``min_code_count`` or ``exclude_codes`` kept out of the model's training and scoring."""
    ann = corpus.annotations
    used = set(ann.loc[ann["coder"].isin(list(humans)) & ann["code"].notna(), "code"].astype(str))
    extra = [c for c in corpus.codes if c in used and c not in codes]
    extra += sorted(used - set(codes) - set(extra))
    return list(codes) + extra
