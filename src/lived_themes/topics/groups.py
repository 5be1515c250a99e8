"""Topic share per group (focus group, trust, gender) and over time, so a theme's prevalence is shown for whom and when.

Shares are within group: of a group's quotes, what share fell in each topic. Outliers (``-1``)
are kept as a topic so shares sum to one per group; quotes with a missing group value form the
group ``"(missing)"`` rather than silently dropping out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

MISSING = "(missing)"


def topic_share_by_group(topics: Sequence[int] | np.ndarray, groups: Sequence[object] | pd.Series, *, name: str = "group") -> pd.DataFrame:
    """Long table: group, topic, n (quotes of the group in the topic), group_size, share (= n / group_size)."""
    topics = np.asarray(topics, dtype=int)
    values = pd.Series(list(groups), dtype=object)
    if len(values) != len(topics):
        raise ValueError(f"{len(values)} group values for {len(topics)} topic ids")
    values = values.map(lambda v: MISSING if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == "" else str(v))
    frame = pd.DataFrame({name: values, "topic": topics})
    counts = frame.groupby([name, "topic"]).size().rename("n").reset_index()
    sizes = frame.groupby(name).size().rename("group_size")
    counts = counts.join(sizes, on=name)
    counts["share"] = counts["n"] / counts["group_size"]
    return counts.sort_values([name, "topic"]).reset_index(drop=True)


def share_matrix(long: pd.DataFrame, *, by: str = "group") -> pd.DataFrame:
    """Wide view of a share table: one row per group (or period), one column per topic, zeros filled in."""
    return long.pivot_table(index=by, columns="topic", values="share", fill_value=0.0)


def share_gap(long: pd.DataFrame, *, by: str = "group", min_group_size: int = 1) -> pd.DataFrame:
    """Per topic: highest and lowest group share and their difference (groups smaller than ``min_group_size`` left out)."""
    kept = long[long["group_size"] >= min_group_size]
    wide = share_matrix(kept, by=by)
    if wide.empty:
        return pd.DataFrame(columns=["topic", "max_group", "max_share", "min_group", "min_share", "gap"])
    return pd.DataFrame(
        {
            "topic": wide.columns,
            "max_group": wide.idxmax(axis=0).to_numpy(),
            "max_share": wide.max(axis=0).to_numpy(),
            "min_group": wide.idxmin(axis=0).to_numpy(),
            "min_share": wide.min(axis=0).to_numpy(),
            "gap": (wide.max(axis=0) - wide.min(axis=0)).to_numpy(),
        }
    ).sort_values("gap", ascending=False, ignore_index=True)


def auto_frequency(dates: pd.Series) -> str:
    """Period length from the span of the dates: months up to three years, quarters up to ten, else years."""
    span = (dates.max() - dates.min()).days if dates.notna().any() else 0
    return "M" if span <= 3 * 366 else "Q" if span <= 10 * 366 else "Y"


def topics_over_time(
    topics: Sequence[int] | np.ndarray,
    dates: Sequence[object] | pd.Series,
    *,
    freq: str | None = None,
    dayfirst: bool = False,
) -> pd.DataFrame:
    """Long table: period, topic, n, group_size (quotes in the period), share. Unparseable dates -> "(missing)".

    ``freq`` is a pandas period alias ("M", "Q", "Y"); None picks one from the span of the dates.
    """
    parsed = pd.to_datetime(pd.Series(list(dates), dtype=object), errors="coerce", dayfirst=dayfirst, format="mixed")
    freq = freq or auto_frequency(parsed)
    periods = parsed.dt.to_period(freq).astype(str).where(parsed.notna(), MISSING)
    return topic_share_by_group(topics, periods, name="period")
