"""Adapters for the public annotated corpora: each returns a Corpus with its coders, codes and groups.

None of these files is bundled (licences); every loader takes a ``path`` and defaults to
``../shared/datasets/<folder>/<file>`` relative to the current directory (see ``data/README.md``).
Coder groups (e.g. Expert / Layperson) sit in the annotations' ``coder_group`` column; read them
with :func:`coder_groups`. SAD's vote shares stay soft in ``share:<code>`` quote columns.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lived_themes.corpus import Corpus
from lived_themes.corpus.datasets._common import CODER_GROUP, SHARED_ROOT, DatasetNotFound, coder_groups, default_path
from lived_themes.corpus.datasets.cams import load_cams
from lived_themes.corpus.datasets.crows_pairs import load_crows_pairs
from lived_themes.corpus.datasets.mhstigma import load_mhstigma
from lived_themes.corpus.datasets.nhs import load_nhs
from lived_themes.corpus.datasets.reflections import load_reflections
from lived_themes.corpus.datasets.sad import load_sad

#: dataset name -> loader(path=None, **options) -> Corpus
DATASETS: dict[str, Callable[..., Corpus]] = {
    "crows_pairs": load_crows_pairs,
    "reflections": load_reflections,
    "mhstigma": load_mhstigma,
    "sad": load_sad,
    "cams": load_cams,
    "nhs": load_nhs,
}

#: dataset name -> quote columns worth breaking results down by, and the cluster column (or None)
GROUPS: dict[str, dict[str, Any]] = {
    "crows_pairs": {"groups": ["bias_type", "stereo_antistereo"], "cluster": "writer"},
    "reflections": {"groups": ["reflection_source", "stage"], "cluster": "annomi_dialogue_id"},
    "mhstigma": {"groups": ["question_type"], "cluster": "participant_id"},
    "sad": {"groups": ["source"], "cluster": None},
    "cams": {"groups": [], "cluster": None},
    "nhs": {"groups": ["trust", "service_type_1", "fft_question"], "cluster": "respondent_id"},
}


def load_dataset(name: str, path: str | Path | None = None, **options: Any) -> Corpus:
    """Load a public corpus by name from ``path`` (default: the shared copy, see ``data/README.md``)."""
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}")
    return DATASETS[name](path, **options)


__all__ = [
    "CODER_GROUP",
    "DATASETS",
    "GROUPS",
    "SHARED_ROOT",
    "DatasetNotFound",
    "coder_groups",
    "default_path",
    "load_cams",
    "load_crows_pairs",
    "load_dataset",
    "load_mhstigma",
    "load_nhs",
    "load_reflections",
    "load_sad",
]
