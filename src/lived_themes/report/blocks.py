"""The report's building blocks: tables, figures and the number formatting they share.

A report is a list of blocks, rendered to Markdown and HTML by :mod:`report_render`; the helpers here
read ``metrics.json`` defensively, because a corpus-wide report must not stop on one missing value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

MISSING = "–"


@dataclass
class Table:
    """A rendered-agnostic table; ``kind`` becomes the HTML id (``headline``, ``per-code``...)."""

    kind: str
    columns: list[str]
    rows: list[list[str]]
    caption: str = ""
    bold: set[tuple[int, int]] = field(default_factory=set)


@dataclass
class Figure:
    path: Path
    alt: str


Block = tuple[str, Any] | Table | Figure


def num(x: Any) -> float:
    """Any JSON value as a float; None, strings and non-finite values become NaN."""
    try:
        value = float(x)
    except (TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan


def fmt(x: Any, digits: int = 2) -> str:
    value = num(x)
    return MISSING if math.isnan(value) else f"{value:.{digits}f}"


def fmt_ci(x: Any, ci: Any = None, low: Any = None, high: Any = None) -> str:
    """``0.52 [0.44, 0.60]``; the interval is left out when it is missing."""
    if ci is not None and isinstance(ci, (list, tuple)) and len(ci) == 2:
        low, high = ci
    if math.isnan(num(x)) or (math.isnan(num(low)) and math.isnan(num(high))):
        return fmt(x)
    return f"{fmt(x)} [{fmt(low)}, {fmt(high)}]"


def records(x: Any) -> list[dict]:
    """A metrics field as a list of dicts, whether it is a DataFrame, a list, or missing."""
    if x is None:
        return []
    if hasattr(x, "to_dict"):
        return x.to_dict("records")
    return [r for r in x if isinstance(r, Mapping)]


def value_ci(x: Mapping) -> str:
    """A ``{value, ci_low, ci_high}`` record as ``0.52 [0.44, 0.60]``."""
    return fmt_ci(x.get("value"), low=x.get("ci_low"), high=x.get("ci_high"))


def first_key(record: Mapping, *keys: str, default: Any = None) -> Any:
    """The first of several names a field may go by (``n`` or ``n_units``)."""
    return next((record[k] for k in keys if k in record), default)


def nan_mean(values: Iterable[Any]) -> float:
    arr = np.array([num(v) for v in values], dtype=float)
    return float(np.nanmean(arr)) if np.isfinite(arr).any() else math.nan


def report_codes(metrics: Mapping, results: list[dict]) -> list[str]:
    """The run's codes in codebook order, then any a coder reported that the run did not list."""
    codes = [str(c) for c in metrics.get("codes") or []]
    for r in results:
        codes += [str(p["code"]) for p in records(r.get("per_code")) if str(p.get("code")) not in codes]
    return codes
