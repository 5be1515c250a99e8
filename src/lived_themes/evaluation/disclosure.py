"""The privacy floor: groups too small to publish are relabelled before anything is computed.

A per-group figure names its group. In a corpus about a minority, a group of one or two people
("transgender woman", n = 1) identifies them, so a group below ``min_report_group_size`` is
never reported by name: its value is replaced, before any metric is computed, by the label
``suppressed (n < 5)``. All suppressed values of one column pool into that one group, so the
report, the figures and ``metrics.json`` cannot name them, and no figure is shown for a single
small group that could be matched back to it by elimination of the others. A floor of 1 turns
suppression off; the researcher has to lower it explicitly.

Size is the number of quotes in the group or, where the data says which person said each
quote (``clusters``), the number of distinct people, whichever is smaller: six quotes from one
participant are still one participant.
"""

from __future__ import annotations

import pandas as pd

from lived_themes.evaluation._bootstrap import as_labels, label_codes

DEFAULT_MIN_REPORT_GROUP_SIZE = 5


def suppressed_label(floor: int) -> str:
    """The one label every group below the floor is reported under."""
    return f"suppressed (n < {floor})"


def group_sizes(values: pd.Series, clusters: pd.Series | None = None) -> pd.Series:
    """Size per group value: quotes, or distinct people when ``clusters`` gives one id per quote."""
    labels = _labels(values)
    quotes = labels.value_counts()
    if clusters is None:
        return quotes
    people = pd.Series(label_codes(clusters, len(labels), name="cluster"), index=labels.index)  # equal where the ids' strings are
    distinct = people.groupby(labels).nunique()
    return pd.concat([quotes, distinct.reindex(quotes.index)], axis=1).min(axis=1).astype(int)


def _labels(values: pd.Series) -> pd.Series:
    """Values as strings, missing as "unknown", one string object per distinct value (a million rows stay small)."""
    return pd.Series(as_labels(values, len(values), name=str(values.name)).to_numpy(), index=values.index, dtype=object)


def suppress_small_groups(
    groups: pd.DataFrame, floor: int, *, clusters: pd.Series | None = None
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Group columns with every value below ``floor`` relabelled ``suppressed (n < floor)``.

    Returns the relabelled frame (values as strings, missing as "unknown") and, per column, how
    many distinct values were suppressed; that count, never the names, may be reported.
    """
    if floor < 1:
        raise ValueError(f"min_report_group_size must be at least 1, got {floor}")
    out = pd.DataFrame(index=groups.index)
    hidden: dict[str, int] = {}
    label = suppressed_label(floor)
    for column in groups.columns:
        labels = _labels(groups[column])
        sizes = group_sizes(groups[column], clusters)
        small = set(sizes.index[sizes < floor])
        out[column] = labels.where(~labels.isin(small), label)
        hidden[str(column)] = len(small)
    return out, hidden


def suppression_notes(hidden: dict[str, int], floor: int) -> list[str]:
    """One line per column with suppressed groups, counting them without naming them."""
    return [
        f"{column}: {n} group(s) with fewer than {floor} people or quotes reported together as "
        f"'{suppressed_label(floor)}' (evaluation.min_report_group_size={floor})"
        for column, n in hidden.items()
        if n
    ]
