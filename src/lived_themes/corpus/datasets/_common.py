"""Shared plumbing for the corpus adapters: where files are, how to read them, how to build a Corpus.

The public corpora are never bundled: each adapter reads from a path the user gives, defaulting to
``../shared/datasets/<folder>/<file>`` relative to the current directory (see ``data/README.md``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from lived_themes.codebook import Code, Codebook
from lived_themes.corpus import Corpus, LoadReport
from lived_themes.corpus.validate import CODE, CODER, QUOTE_ID, TEXT
from lived_themes.corpus.tables import decode_mixed  # noqa: F401  (re-exported: the adapters decode with it)
from lived_themes.errors import InputError

#: Root of the shared copies, relative to the current directory.
SHARED_ROOT = Path("..") / "shared" / "datasets"
#: Extra annotations column naming each coder's group (e.g. Expert / Layperson).
CODER_GROUP = "coder_group"


class DatasetNotFound(InputError):
    """The corpus file is not where we looked; the message says where to get it and where to put it."""


def default_path(folder: str, file: str) -> Path:
    return SHARED_ROOT / folder / file


def resolve_path(path: str | Path | None, *, folder: str, file: str, dataset: str) -> Path:
    """The user's path, or the documented default; a clear error when the file is absent."""
    chosen = Path(path) if path is not None else default_path(folder, file)
    if chosen.is_dir():
        chosen = chosen / file
    if not chosen.exists():
        raise DatasetNotFound(
            f"{dataset}: file not found (expected {folder}/{file}); it is not bundled with lived-themes: "
            f"see data/README.md for where to download it, then pass path=... or place it at {default_path(folder, file)}",
            file=chosen,
        )
    return chosen


def read_csv_text(path: Path) -> tuple[pd.DataFrame, int]:
    """All cells as text (empty -> missing), so ids keep their form; returns the frame and repaired lines."""
    text, repaired = decode_mixed(path.read_bytes())
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    return frame, repaired


def slug(label: str) -> str:
    """A stable code id from a label: 'Health, Fatigue, or Physical Pain' -> 'health_fatigue_or_physical_pain'."""
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def make_codebook(name: str, codes: Sequence[tuple[str, str, str]], *, source: str) -> Codebook:
    """Codebook from (id, label, definition) triples taken from the corpus' own documentation."""
    return Codebook(
        name=name,
        version="1",
        source=source,
        codes=[Code(id=cid, label=label, definition=definition) for cid, label, definition in codes],
    )


def split_empty_text(quotes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows whose text is missing or blank go to set_aside with a reason, never silently dropped."""
    empty = quotes[TEXT].isna() | quotes[TEXT].astype(str).str.strip().eq("")
    aside = quotes[empty].copy()
    aside.insert(0, "reason", "text is empty")
    return quotes[~empty].reset_index(drop=True), aside.reset_index(drop=True)


def build_corpus(
    quotes: pd.DataFrame,
    records: Iterable[dict[str, Any]],
    *,
    codebook: Codebook,
    name: str,
    source: Path,
    n_read: int,
    notes: Sequence[str] = (),
) -> Corpus:
    """Set aside empty quotes (with their annotations), then validate everything through Corpus."""
    kept, aside = split_empty_text(quotes)
    annotations = pd.DataFrame.from_records(list(records))
    for column in (QUOTE_ID, CODER, CODE):
        if column not in annotations.columns:
            annotations[column] = pd.Series(dtype=object)
    annotations = annotations[annotations[QUOTE_ID].isin(set(kept[QUOTE_ID]))].reset_index(drop=True)
    report = LoadReport(source=str(source), n_read=n_read, n_kept=len(kept), notes=list(notes))
    report.set_aside = [{QUOTE_ID: q, "field": TEXT, "reason": "text is empty"} for q in aside[QUOTE_ID]]
    return Corpus(quotes=kept, annotations=annotations, codebook=codebook, name=name, set_aside=aside, reports=[report])


def coder_groups(corpus: Corpus) -> dict[str, str]:
    """coder -> group, from the annotations' ``coder_group`` column (empty when the data has none)."""
    ann = corpus.annotations
    if CODER_GROUP not in ann.columns:
        return {}
    pairs = ann[[CODER, CODER_GROUP]].dropna().drop_duplicates()
    return dict(zip(pairs[CODER].astype(str), pairs[CODER_GROUP].astype(str)))
