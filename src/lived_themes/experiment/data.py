"""Turn the ``data`` section of an experiment config into a validated Corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lived_themes.config.base import DataConfig
from lived_themes.corpus import Corpus, load_corpus, load_labelled, load_wide
from lived_themes.corpus.datasets import load_dataset
from lived_themes.corpus.free_text import check_not_free_text
from lived_themes.corpus.validate import QUOTE_ID
from lived_themes.errors import InputError
from lived_themes.corpus.hierarchy import roll_up


def resolve_path(path: str, base_dir: Path | None) -> Path:
    """Paths in a config are read relative to the working directory, then to the config's own folder."""
    candidate = Path(path)
    if candidate.is_absolute() or candidate.exists() or base_dir is None:
        return candidate
    beside = base_dir / candidate
    return beside if beside.exists() else candidate


def load_from_config(data: DataConfig, *, base_dir: Path | None = None) -> Corpus:
    """One-row-per-quote files (format wide, code columns or a label column) without a quote_id column get row-number ids,
    noted in the load report (and so in run.json)."""
    path = resolve_path(data.path, base_dir)
    codebook = resolve_path(data.codebook, base_dir) if data.codebook else None
    if data.format == "dataset":
        if not data.dataset:
            raise ValueError("data.format 'dataset' needs data.dataset (a registered dataset name)")
        corpus = load_dataset(data.dataset, path=path)
    elif data.format == "wide":  # one row per quote: 0/1 code columns, or one label column
        common = dict(coder=data.coder, blank=data.blank, column_mapping=data.column_mapping or None, codebook=codebook,
                      on_invalid=data.on_invalid, generate_ids=True, encoding=data.encoding)
        if data.label_column:
            corpus = load_labelled(path, label_column=data.label_column, label_separator=data.label_separator,
                                   label_map=data.label_map, allow_free_text=data.allow_free_text_columns, **common)
        else:
            corpus = load_wide(path, code_columns=data.code_columns, code_columns_from=data.code_columns_from,
                               code_columns_to=data.code_columns_to, **common)
    else:
        corpus = load_corpus(
            path,
            resolve_path(data.annotations, base_dir) if data.annotations else None,
            encoding=data.encoding,
            codebook=codebook,
            column_mapping=data.column_mapping or None,
            annotation_mapping=data.annotation_mapping or None,
            on_invalid=data.on_invalid,
        )
    check_ids(corpus, allowed=data.allow_free_text_columns)
    if data.code_level != "as_coded":
        corpus, _ = roll_up(corpus, data.code_level)
    return corpus


def check_ids(corpus: Corpus, *, allowed: list[str]) -> None:
    """Quote ids are printed in every output: refuse ids that look like free text (a text column mapped to quote_id)."""
    source = corpus.reports[0].source if corpus.reports else None
    check_not_free_text(corpus.quotes[QUOTE_ID].tolist(), column=QUOTE_ID, role="the quote id",
                        file=source, allowed=allowed)
def group_columns(config: Any) -> dict[str, str]:
    """Quote columns an experiment uses as groups, each with the config key that names it."""
    used: dict[str, str] = {}
    for i, split in enumerate(getattr(config, "splits", [])):
        if split.group:
            used.setdefault(split.group, f"splits.{i}.group")
    evaluation = getattr(config, "evaluation", None)
    for i, column in enumerate(getattr(evaluation, "groups", []) or []):
        used.setdefault(column, f"evaluation.groups.{i}")
    cluster = getattr(evaluation, "cluster", None)
    if cluster and cluster != "group":
        used.setdefault(cluster, "evaluation.cluster")
    return used


def check_group_columns(corpus: Corpus, config: Any) -> None:
    """A group column must hold one plain value per quote: a list or mapping cell (Parquet and JSONL allow them)
    is refused here, naming the column, instead of failing deep inside the evaluation."""
    source = corpus.reports[0].source if corpus.reports else None
    for column, key in group_columns(config).items():
        if column not in corpus.quotes.columns:
            continue  # reported where the column is used, with the columns present
        for pos, value in enumerate(corpus.quotes[column].tolist()):
            if isinstance(value, (list, tuple, dict, set, np.ndarray)):
                raise InputError(f"group column {column!r} ({key}) holds a {type(value).__name__}, not one value per quote; "
                                 "use a column with one plain value (text or number) per quote", file=source, row=pos + 1, field=column)
