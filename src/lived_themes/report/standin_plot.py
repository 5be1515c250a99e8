"""The stand-in figure: one line per human coder, model minus coder, with its interval.

A forest plot reads at a glance: points left of zero are coders the model would replace at a
loss, the dashed line is the non-inferiority margin, and the bold row is the mean over coders.
matplotlib loads only when a figure is drawn; the figure is a stand-alone ``Figure`` (no pyplot),
so drawing never changes the caller's backend and works on servers without a display.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lived_themes.evaluation.standin import ALL_CODERS, MACRO, OVERALL


def select_rows(table: pd.DataFrame, *, code: str = MACRO, group_column: str = OVERALL, group: str = OVERALL, others: str = "all") -> pd.DataFrame:
    """The rows one figure shows, the mean over coders last (it is drawn at the bottom)."""
    sel = table[(table["code"] == code) & (table["group_column"] == group_column) & (table["group"] == group) & (table["others"] == others)]
    if sel.empty:
        raise ValueError(f"no stand-in rows for code={code!r}, {group_column}={group!r}, others={others!r}")
    coders = sel[sel["coder"] != ALL_CODERS].sort_values(["coder_group", "coder"])
    return pd.concat([sel[sel["coder"] == ALL_CODERS], coders], ignore_index=True)


def plot_standin(
    table: pd.DataFrame,
    *,
    code: str = MACRO,
    group_column: str = OVERALL,
    group: str = OVERALL,
    others: str = "all",
    margin: float | None = 0.1,
    path: str | Path | None = None,
    title: str | None = None,
) -> Any:
    """Forest plot of ``difference`` with its interval per coder; returns the matplotlib Figure.

    With ``path`` the figure is also written (format from the suffix: .png, .svg, .pdf).
    """
    from matplotlib.figure import Figure

    rows = select_rows(table, code=code, group_column=group_column, group=group, others=others)
    y = np.arange(len(rows))
    fig = Figure(figsize=(6.5, 1.2 + 0.28 * len(rows)))  # no pyplot: the caller's backend stays as it is
    ax = fig.subplots()
    diff = rows["difference"].to_numpy(float)
    low = rows["ci_low"].to_numpy(float)
    high = rows["ci_high"].to_numpy(float)
    # a percentile interval need not contain its point estimate; draw the whole interval either way
    err = np.clip(np.vstack([np.nan_to_num(diff - low), np.nan_to_num(high - diff)]), 0, None)
    colours = ["black" if c == ALL_CODERS else ("tab:red" if h < 0 else "tab:blue") for c, h in zip(rows["coder"], high)]
    for i in range(len(rows)):
        ax.errorbar(diff[i], y[i], xerr=err[:, i : i + 1], fmt="s" if i == 0 else "o", color=colours[i], capsize=2, ms=6 if i == 0 else 4)
    ax.axvline(0.0, color="grey", lw=1)
    if margin is not None:
        ax.axvline(-margin, color="grey", lw=1, ls="--", label=f"margin -{margin:g}")
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    labels = [f"{c} ({g})" if g else str(c) for c, g in zip(rows["coder"], rows["coder_group"])]
    ax.set_yticks(y, labels, fontsize=8)
    ax.get_yticklabels()[0].set_fontweight("bold")
    ax.invert_yaxis()
    statistic = rows["statistic"].iloc[0].replace("_", " ")
    ax.set_xlabel(f"model minus coder: agreement with the other coders ({statistic})")
    where = "" if group_column == OVERALL else f", {group_column} = {group}"
    ax.set_title(title or f"Can the model stand in for a coder? code: {code}{where}; others: {others}", fontsize=9)
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150)
    return fig
