"""Columns that hold participants' words must not become codes, groups or ids.

A code id, a group name or a quote id is printed in reports, ``metrics.json``, ``disagreements.csv``
and the terminal; none of those may carry quote text. So a column used in one of those roles is
refused, with one located line naming it, when it is the quote text column itself or when its values
look like free text (:func:`looks_like_free_text`). A column that really is meant that way (long
category names, say) is accepted once the user lists it in ``data.allow_free_text_columns`` (or
``--allow-free-text-column`` on ``evaluate`` and ``describe``). The text column is never accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from lived_themes.errors import HEADER_ROW, MAX_SHOWN_CHARS, InputError

#: the package's name for the quote text column (after column_mapping)
TEXT_COLUMN = "text"
#: a value with at least this many words (tokens of letters only) reads as a sentence
MIN_WORDS = 5
#: ... and so does a value longer than MAX_SHOWN_CHARS with at least this many words
MIN_LONG_WORDS = 3
#: share of non-blank values that must read as sentences
MIN_SENTENCE_SHARE = 0.5
#: share of those sentence-like values that must be distinct ("mostly unique")
MIN_DISTINCT_SHARE = 0.8
#: the config key and the CLI flag that say a free-text-looking column is intended
ALLOW_KEY = "data.allow_free_text_columns"
ALLOW_FLAG = "--allow-free-text-column"


#: a word of a sentence: letters only (inner apostrophes and hyphens allowed), once surrounding punctuation is stripped
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
_PUNCT = "\"'()[]{},.;:!?\u201c\u201d\u2018\u2019"


def _n_words(text: str) -> int:
    return sum(1 for token in text.split() if _WORD.fullmatch(token.strip(_PUNCT)))


def _sentence_like(text: str) -> bool:
    words = _n_words(text)
    return words >= MIN_WORDS or (len(text) > MAX_SHOWN_CHARS and words >= MIN_LONG_WORDS)


def looks_like_free_text(values: Iterable[object]) -> bool:
    """True when a column's values look like free text rather than labels or ids.

    The rule, over the column's non-blank values (each as stripped text):

    - a *word* is a whitespace-separated token made of letters only (inner ``'`` and ``-`` allowed, surrounding
      punctuation ignored): ``medication,`` is a word, ``528``, ``-`` and ``Q1`` are not;
    - a value is *sentence-like* when it has at least ``MIN_WORDS`` (5) words, or is longer than
      ``MAX_SHOWN_CHARS`` (40) characters with at least ``MIN_LONG_WORDS`` (3) words;
    - the column looks like free text when at least ``MIN_SENTENCE_SHARE`` (half) of its values are
      sentence-like and at least ``MIN_DISTINCT_SHARE`` (80%) of those sentence-like values are
      distinct (mostly unique).

    Labels repeat (``"Black, African, Caribbean or Black British"`` is long but shared by many rows)
    and ids are codes and numbers (``"NEAS PTS 528 - Q1"`` has two words), so neither matches; answers
    to an open question do.
    """
    cells = [str(v).strip() for v in values if v is not None and not (isinstance(v, float) and pd.isna(v))]
    cells = [c for c in cells if c]
    if not cells:
        return False
    sentences = [c for c in cells if _sentence_like(c)]
    if len(sentences) < MIN_SENTENCE_SHARE * len(cells):
        return False
    return len(set(sentences)) >= MIN_DISTINCT_SHARE * len(sentences)


def check_not_free_text(values: Iterable[object], *, column: str, role: str, file: str | None = None,
                        allowed: Iterable[str] = (), is_text: bool = False) -> None:
    """Refuse a column used as ``role`` (e.g. "a group (evaluation.groups)") when it is or looks like quote text.

    ``is_text`` (or the name ``text``) marks the quote text column itself, refused whatever its values and
    whatever ``allowed`` says; other columns are refused when :func:`looks_like_free_text` and not in ``allowed``.
    """
    where = dict(file=file, row=HEADER_ROW, field=column)
    if is_text or column == TEXT_COLUMN:
        raise InputError(f"the quote text column cannot be used as {role}: its values would be printed in reports and "
                         "output files; choose a column of short labels", **where)
    if column in set(allowed):
        return
    if looks_like_free_text(values):
        raise InputError(f"used as {role}, but its values look like free text (mostly unique sentences) and would be printed "
                         f"in reports and output files; choose a column of short labels, or list it in {ALLOW_KEY} ({ALLOW_FLAG}) "
                         "if it is meant that way", **where)


def check_group_columns(frame: pd.DataFrame, columns: Iterable[str], *, role: str, file: str | None = None,
                        allowed: Iterable[str] = ()) -> None:
    """:func:`check_not_free_text` for each group column of ``frame`` that exists (a missing one is reported elsewhere)."""
    allowed = list(allowed)
    for column in columns:
        if column in frame.columns:
            check_not_free_text(frame[column].tolist(), column=column, role=role, file=file, allowed=allowed)


def check_corpus_groups(corpus: Any, columns: Iterable[str], *, role: str, allowed: Iterable[str] = ()) -> None:
    """:func:`check_group_columns` on a corpus's quotes, located in the file they were read from."""
    source = corpus.reports[0].source if getattr(corpus, "reports", None) else None
    check_group_columns(corpus.quotes, columns, role=role, file=source, allowed=allowed)
