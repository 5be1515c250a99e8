"""The topic-model interface shared by BERTopic, LDA and NMF, so alignment, quality and outputs treat them alike.

sklearn style: the constructor stores parameters only (JSON-serialisable, config keys equal
constructor arguments); ``fit`` learns ``topics_`` (one topic id per document, ``-1`` = outlier),
``doc_scores_`` (how strongly each document belongs to its topic, used to pick representative
quotes) and the topic words. A fitted model saves to a folder without pickle: ``topic_model.json``
plus the model's own state files.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from lived_themes.coders._modelfiles import read_component_meta
from lived_themes.errors import ModelFileError
from lived_themes.registry import TOPIC_MODELS, constructor_params, get_topic_model_class

if TYPE_CHECKING:
    from lived_themes.codebook import Codebook

MODEL_FILE = "topic_model.json"
#: Version of topic_model.json's layout, as coder.json has one; files without it are version 1.
FORMAT_VERSION = 1
OUTLIER = -1


def primary_codes(labels: np.ndarray) -> np.ndarray:
    """One code index per quote from a multi-label 0/1 matrix: the first code held, in codebook order.

    ``-1`` marks a quote with no code, ``-2`` a quote the coder did not see (NaN row). Used wherever a
    single class per quote is needed (BERTopic's supervised modes, the ``first`` alignment rule).
    """
    labels = np.asarray(labels, dtype=float)
    unseen = np.isnan(labels).all(axis=1) if labels.shape[1] else np.zeros(len(labels), bool)
    held = np.nan_to_num(labels) > 0.5
    first = np.where(held.any(axis=1), held.argmax(axis=1), -1)
    first[unseen] = -2
    return first.astype(int)


class TopicModel(ABC):
    """Base class: subclasses implement ``_fit``, ``transform``, ``topic_words``, ``_save_state``, ``_load_state``."""

    #: Registered, versioned name (e.g. ``"lda.v1"``).
    name: ClassVar[str] = ""
    #: Whether fitting reads embeddings (so a runner computes them once and shares them).
    uses_embeddings: ClassVar[bool] = False

    topics_: np.ndarray
    doc_scores_: np.ndarray
    #: Code id per topic for topics that came from the codebook (guided / zero-shot modes).
    topic_codes_: dict[int, str]

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in constructor_params(type(self))}

    # ----- fitting ---------------------------------------------------------------------------
    def fit(
        self,
        texts: Sequence[str],
        *,
        embeddings: np.ndarray | None = None,
        codebook: Codebook | None = None,
        labels: np.ndarray | None = None,
    ) -> TopicModel:
        """Learn topics. ``labels`` is an (n, k) 0/1 matrix in codebook order, read only by supervised modes."""
        texts = list(texts)
        if not texts:
            raise ValueError(f"{self.name}: no texts to fit on")
        if embeddings is not None and len(embeddings) != len(texts):
            raise ValueError(f"embeddings have {len(embeddings)} rows for {len(texts)} texts")
        if labels is not None and len(labels) != len(texts):
            raise ValueError(f"labels have {len(labels)} rows for {len(texts)} texts")
        self.topic_codes_ = {}
        self._fit(texts, embeddings=embeddings, codebook=codebook, labels=labels)
        self.topics_ = np.asarray(self.topics_, dtype=int)
        return self

    @abstractmethod
    def _fit(self, texts: list[str], *, embeddings: np.ndarray | None, codebook: Codebook | None, labels: np.ndarray | None) -> None:
        """Set ``topics_``, ``doc_scores_`` and whatever ``transform`` and ``topic_words`` need."""

    @abstractmethod
    def transform(self, texts: Sequence[str], *, embeddings: np.ndarray | None = None) -> np.ndarray:
        """Topic id per new document (``-1`` when it belongs to none)."""

    @abstractmethod
    def topic_words(self, n: int = 10) -> dict[int, list[str]]:
        """Top ``n`` words of each topic (outlier topic excluded), best first."""

    # ----- views shared by every model ---------------------------------------------------------
    @property
    def topic_ids(self) -> list[int]:
        """Topic ids, outlier excluded, in ascending order."""
        return sorted(self.topic_words(1))

    def representative_docs(self, n: int = 3) -> dict[int, list[int]]:
        """Indices of the ``n`` training documents that belong most strongly to each topic."""
        out: dict[int, list[int]] = {}
        for topic in self.topic_ids:
            members = np.flatnonzero(self.topics_ == topic)
            order = members[np.argsort(-self.doc_scores_[members], kind="stable")]
            out[topic] = [int(i) for i in order[:n]]
        return out

    def topic_label(self, topic: int, n_words: int = 4) -> str:
        """A short human label: the codebook code it came from, else its top words."""
        if topic == OUTLIER:
            return "outliers"
        words = "_".join(self.topic_words(n_words).get(topic, []))
        code = self.topic_codes_.get(topic)
        return f"{topic}: {code}" if code else f"{topic}: {words}"

    # ----- persistence -------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": FORMAT_VERSION,
            "topic_model": self.name,
            "params": self.get_params(),
            "topic_codes": {str(k): v for k, v in self.topic_codes_.items()},
        }
        (folder / MODEL_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        self._save_state(folder)
        return folder

    @abstractmethod
    def _save_state(self, folder: Path) -> None:
        """Write what ``transform`` and ``topic_words`` need, in formats that run no code when read."""

    @abstractmethod
    def _load_state(self, folder: Path) -> None:
        """Read back what ``_save_state`` wrote."""


def load_topic_model(directory: str | Path) -> TopicModel:
    """Load any saved topic model by the registered name recorded in its folder.

    Checked as a saved coder is (``coders._modelfiles.read_component_meta``): a missing or corrupt
    file, a newer format version, an unknown name or parameter raises ``ModelFileError`` naming the file.
    """

    folder = Path(directory)
    meta, cls = read_component_meta(folder, MODEL_FILE, name_key="topic_model", table=TOPIC_MODELS, kind="topic model",
                                    format_version=FORMAT_VERSION)
    topic_codes = meta.get("topic_codes", {})
    if not isinstance(topic_codes, dict) or not all(isinstance(v, str) for v in topic_codes.values()):
        raise ModelFileError("expected a JSON object of topic id -> code id", file=folder / MODEL_FILE, field="topic_codes")
    try:
        codes = {int(k): v for k, v in topic_codes.items()}
    except ValueError:
        raise ModelFileError("topic ids must be whole numbers", file=folder / MODEL_FILE, field="topic_codes") from None
    model = cls(**meta["params"])
    model.topic_codes_ = codes
    model._load_state(folder)
    return model


def make_topic_model(name: str, **params: Any) -> TopicModel:
    """Instantiate a registered topic model (config keys equal constructor arguments)."""

    return get_topic_model_class(name)(**params)
