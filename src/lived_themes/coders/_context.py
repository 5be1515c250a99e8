"""Optional context for a quote: named metadata columns (e.g. the question it answers) prepended to its text.

The same quote can mean different things as an answer to "what went well?" and to "what could be
better?", so a coder may read the question too. Shared by every coder that reads text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

SEPARATOR = " | "


def with_context(texts: Sequence[str], metadata: pd.DataFrame | None, columns: Sequence[str] | None) -> list[str]:
    """``"col: value | other: value | text"``; blank values are left out; no columns means the texts unchanged."""
    texts = list(texts)
    if not columns:
        return texts
    if metadata is None:
        raise ValueError(f"context_columns {list(columns)} need metadata, but none was given")
    missing = [c for c in columns if c not in metadata.columns]
    if missing:
        raise ValueError(f"context column(s) {missing} not in metadata; columns present: {list(metadata.columns)}")
    if len(metadata) != len(texts):
        raise ValueError(f"metadata has {len(metadata)} rows for {len(texts)} texts")
    # rows of the frame's values, as iterrows gave them (the same strings, so saved models read the same text), without
    # a pandas Series per quote: that cost 0.14 s of the int8 encoder's 1.7 s on 1,208 NHS comments
    names = list(columns)
    block = metadata[names].values
    # object, numeric and bool values print as iterrows' row Series gave them; others (dates: Timestamps there, numpy
    # datetimes here) go through a Series per row, as before
    rows = block if block.dtype.kind in "Oifub" else (row.to_numpy(dtype=object) for _, row in metadata[names].iterrows())
    out = []
    for text, row in zip(texts, rows):
        parts = [f"{c}: {str(v).strip()}" for c, v in zip(names, row) if _present(v)]
        out.append(SEPARATOR.join([*parts, text]))
    return out


def _present(value: object) -> bool:
    if value is None:
        return False
    try:
        import pandas as pd

        if pd.isna(value):
            return False
    except (TypeError, ValueError):
        pass
    return bool(str(value).strip())
