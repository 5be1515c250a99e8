"""``lived-themes describe``: what is in a corpus, counted per code, per coder and per group value."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lived_themes.corpus import Corpus
from lived_themes.errors import HEADER_ROW, InputError
from lived_themes.evaluation.disclosure import suppress_small_groups
from lived_themes.corpus.free_text import looks_like_free_text
from lived_themes.corpus.free_text import check_group_columns

MAX_GROUP_VALUES = 20
NOT_GROUPS = {"quote_id", "text", "line", "speaker_notation"}


def group_columns(corpus: Corpus) -> list[str]:
    """Metadata columns that look like groups: few distinct values, not one per quote, not free text."""

    columns = []
    for column in corpus.quotes.columns:
        if column in NOT_GROUPS or looks_like_free_text(corpus.quotes[column].tolist()):
            continue
        distinct = corpus.quotes[column].astype(str).nunique(dropna=False)
        if 1 < distinct <= MAX_GROUP_VALUES and distinct < len(corpus):
            columns.append(column)
    return columns


def code_counts(corpus: Corpus) -> pd.DataFrame:
    """Rows: codes, then 'no code' and 'not seen'; columns: coders. Counts of quotes."""
    table = {}
    for coder in corpus.coders:
        matrix = corpus.label_matrix(coder)
        seen = ~pd.isna(matrix).all(axis=1) if matrix.shape[1] else corpus.seen_by(coder)
        counts = {code: int(pd.Series(matrix[:, j]).sum()) for j, code in enumerate(corpus.codes)}
        counts["(no code)"] = int(((matrix.sum(axis=1) == 0) & seen).sum()) if matrix.shape[1] else int(seen.sum())
        counts["(not seen)"] = int((~seen).sum())
        table[coder] = counts
    return pd.DataFrame(table)


def group_code_counts(corpus: Corpus, column: str, coder: str, *, min_group_size: int = 1) -> pd.DataFrame:
    """Rows: values of one group column; columns: number of quotes, then quotes per code for one coder.

    Values with fewer than ``min_group_size`` quotes are counted together as
    ``suppressed (n < min_group_size)`` and never shown by name (the privacy floor).
    """

    values = suppress_small_groups(corpus.quotes[[column]].reset_index(drop=True), min_group_size)[0][column]
    frame = pd.DataFrame({"quotes": values.value_counts()})
    if coder:
        matrix = pd.DataFrame(corpus.label_matrix(coder), columns=corpus.codes)
        matrix[column] = values.to_numpy()
        frame = frame.join(matrix.groupby(column).sum().astype(int))
    return frame.sort_index()


def _rich_table(frame: pd.DataFrame, title: str, index_name: str) -> Any:
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    table.add_column(index_name, style="bold")
    for column in frame.columns:
        table.add_column(str(column), justify="right")
    for index, row in frame.iterrows():
        table.add_row(str(index), *[str(v) for v in row.tolist()])
    return table


def render_description(corpus: Corpus, *, by: list[str] | None = None, console: Any, min_group_size: int = 5,
                       allow_free_text: list[str] | None = None) -> None:
    """Counts in the terminal; group values below ``min_group_size`` quotes are shown as suppressed.

    A ``by`` column that is the text column, or looks like free text and is not in ``allow_free_text``, is refused
    (:mod:`lived_themes.corpus.free_text`): its values would be printed as column headers.
    """

    columns = by or group_columns(corpus)
    source = corpus.reports[0].source if corpus.reports else corpus.name
    for column in columns:  # checked before anything is printed
        if column not in corpus.quotes.columns:
            raise InputError(f"no such column to group by (--by); columns present: {list(corpus.quotes.columns)}",
                             file=source, row=HEADER_ROW, field=column)
    if by:
        check_group_columns(corpus.quotes, by, role="a group (--by)", file=source,
                            allowed=allow_free_text or [])
    # Plain lines soft-wrap: rich would otherwise break a long file path with a hard newline,
    # and the path could no longer be copied or searched for.
    console.print(corpus.describe(), soft_wrap=True)
    for report in corpus.reports:
        console.print(f"  {report.summary()}", soft_wrap=True)
    if corpus.codebook is not None:
        book = corpus.codebook
        console.print(f"codebook {book.name} {book.version} (hash {book.content_hash()[:12]})", soft_wrap=True)
    labels = {c.id: c.label for c in corpus.codebook.codes} if corpus.codebook else {}
    if corpus.coders:
        counts = code_counts(corpus)
        counts.index = [labels.get(i, i) for i in counts.index]
        console.print(_rich_table(counts, "Quotes per code and coder", "code"))
    for column in columns:
        for coder in corpus.coders or [""]:
            # Codes as rows, group values as columns: there are few group values, and code labels
            # as column headers are cut to one letter in an 80-column terminal.
            frame = group_code_counts(corpus, column, coder, min_group_size=min_group_size).T
            frame.index = [labels.get(i, i) for i in frame.index]
            title = f"Quotes per {column}" + (f" and code (coder {coder})" if coder else "")
            console.print(_rich_table(frame, title, "code" if coder else ""))
