"""Which columns `init` may offer as split groups, report groups, readable code names or context, and why not.

A split by a column that is a function of the labels (a parent category, or the code under another name)
puts codes in each test fold that training never saw: the scores are meaningless, with no error. A column
of junk markers (``-o``, ``SS``, ``A``) is no population to generalise to. Both are tested from the cells,
not the header: a functional dependency code -> column or column -> code across rows (allowing 5% slips
of hand coding), and short or mostly one-off values. Person and site columns are what a split should use.
"""

from __future__ import annotations

import re

import pandas as pd

#: share of rows that must follow the dependency; the rest are taken for coding slips
PURITY = 0.95
SITE_NAME = re.compile(r"site|trust|ward|hospital|clinic|service|team|organi[sz]ation|provider|practice|location|region|"
                       r"area|cent(re|er)|borough|county|department|directorate|school|country|city", re.IGNORECASE)
#: names of columns whose short values are meaningful (M/F, age bands), never taken for noise
MEANINGFUL_SHORT = re.compile(r"gender|sex|age|ethnic|group|arm|wave|year|cohort|condition|role", re.IGNORECASE)
CONTEXT_MIN_LENGTH = 20


def _purity(source: pd.Series, target: pd.Series) -> tuple[float, float]:
    """(share of rows whose target is their source value's most common target, share of the most common target overall)."""
    both = pd.DataFrame({"s": source, "t": target}).dropna()
    if both.empty:
        return 0.0, 1.0
    top = both.groupby("s")["t"].agg(lambda t: t.value_counts().iloc[0]).sum()
    return float(top / len(both)), float(both["t"].value_counts().iloc[0] / len(both))


def dependency(labels: pd.Series, column: pd.Series) -> str | None:
    """Why ``column`` is a function of the labels (or they of it), or None. Both are per-row text keys."""
    labels, column = labels.astype(object), column.astype(object)
    if column.dropna().nunique() < 2:
        return None
    forward, base = _purity(labels, column)
    if forward >= PURITY and forward - base >= 0.1:
        return (f"the code determines it ({forward:.0%} of rows): a parent category or the code under another name; "
                "a split by it would test codes that training never saw")
    repeated = column[column.map(column.value_counts()) >= 2]
    if len(repeated) >= 0.5 * column.notna().sum():
        backward, base = _purity(repeated, labels[repeated.index])
        if backward >= PURITY and backward - base >= 0.1:
            return (f"it determines the code ({backward:.0%} of rows): a sub-category or the code itself; "
                    "a split by it would test codes that training never saw")
    return None


def noise(name: str, cells: pd.Series, n_rows: int) -> str | None:
    """Why the column's values look like junk markers rather than people or sites, or None."""
    if cells.empty or SITE_NAME.search(name) or MEANINGFUL_SHORT.search(name):
        return None
    counts = cells.value_counts()
    rare = max(3, int(0.01 * n_rows))
    if len(counts) >= 4 and (counts < rare).mean() >= 0.5:
        return f"most of its values occur in fewer than {rare} rows: too few to test on"
    lengths = cells.str.len()
    odd = cells.str.contains(r"[^\w\s]", regex=True).mean()
    examples = ", ".join(repr(v) for v in counts.index[:3])
    if lengths.median() <= 2 and (odd > 0 or lengths.mean() <= 2):
        return (f"its values are one or two characters ({examples}, ...): they look like markers, not people or sites")
    return None


def readable_names(labels: pd.Series, column: pd.Series) -> dict[str, str] | None:
    """label value -> the column's value, when the column maps one-to-one to the labels and reads longer."""
    both = pd.DataFrame({"l": labels.astype(object), "c": column.astype(object)}).dropna()
    if both.empty or both["l"].nunique() < 2 or both["c"].nunique() != both["l"].nunique():
        return None
    forward, _ = _purity(both["l"], both["c"])
    backward, _ = _purity(both["c"], both["l"])
    if forward < PURITY or backward < PURITY:
        return None
    if both["c"].astype(str).str.len().mean() <= both["l"].astype(str).str.len().mean():
        return None
    names = both.groupby("l")["c"].agg(lambda c: c.value_counts().index[0])
    return {str(k): str(v) for k, v in names.items()}


def is_context(cells: pd.Series, max_values: int) -> bool:
    """A few distinct, sentence-long values: the question a comment answers, worth reading with it."""
    return bool(len(cells)) and 2 <= cells.nunique() <= max_values and cells.str.len().mean() >= CONTEXT_MIN_LENGTH
