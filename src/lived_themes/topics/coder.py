"""A topic model as one more coder: fit topics, learn P(code | topic) from training labels, predict codes.

This lets BERTopic, LDA and NMF be scored by the same evaluation harness as every other coder
(agreement with humans, metrics by group). A quote's score for a code is the smoothed rate of that
code among the training quotes of its topic (see ``alignment.topic_code_rates``); a topic never seen
in training falls back to the overall rate. Thresholds are tuned on the training quotes with the
shared ``tune_thresholds`` (rates are averages over many quotes, so in-sample tuning overfits little).

Saved as ``coder.json`` + ``topic_model/`` (the topic model's own pickle-free folder) +
``topic_code_map.npz``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lived_themes.coders.base import Coder, tune_thresholds
from lived_themes.topics.alignment import topic_code_rates
from lived_themes.topics.base import make_topic_model, load_topic_model

if TYPE_CHECKING:
    import pandas as pd

    from lived_themes.codebook import Codebook
    from lived_themes.topics.base import TopicModel

MAP_FILE = "topic_code_map.npz"
MODEL_DIR = "topic_model"


class TopicCoder(Coder):
    """Codes quotes through their topic: ``topic_model`` names a registered topic model, ``topic_params`` its arguments."""

    name = "topic-coder.v1"
    zero_shot = False

    def __init__(
        self,
        topic_model: str = "bertopic.v1",
        topic_params: dict[str, Any] | None = None,
        *,
        smoothing: float = 1.0,
        tune: bool = True,
        label_mode: str = "multi",
        top_k: int | None = None,
    ) -> None:
        self._set_decision_params(label_mode, top_k)
        self.topic_model = topic_model
        self.topic_params = topic_params
        self.smoothing = smoothing
        self.tune = tune

    def _fit(self, texts: list[str], labels: np.ndarray | None, *, codebook: Codebook | None, metadata: pd.DataFrame | None) -> None:
        assert labels is not None  # Coder.fit refuses None for a coder that is not zero-shot
        self.model_ = make_topic_model(self.topic_model, **(self.topic_params or {}))
        self.model_.fit(texts, codebook=codebook, labels=labels)
        self._learn_map(self.model_.topics_, labels)

    def fit_on_topics(self, model: TopicModel, topics: Sequence[int], labels: np.ndarray, codes: Sequence[str]) -> TopicCoder:
        """Learn only the topic -> code map, reusing a topic model already fitted (e.g. on all quotes, unsupervised)."""
        self.topic_model, self.topic_params = model.name, model.get_params()
        self.codes_ = list(codes)
        self.thresholds_ = np.full(len(self.codes_), 0.5)
        self.model_ = model
        self._learn_map(np.asarray(topics, dtype=int), np.asarray(labels, dtype=float))
        return self

    def _learn_map(self, topics: np.ndarray, labels: np.ndarray) -> None:
        ids, self.rates_, self.base_rates_ = topic_code_rates(topics, labels, smoothing=self.smoothing)
        self.map_topic_ids_ = np.asarray(ids, dtype=int)
        if self.tune:
            seen = ~np.isnan(labels).all(axis=1)
            self.thresholds_ = tune_thresholds(labels[seen], self._scores(topics[seen]))

    def _scores(self, topics: np.ndarray) -> np.ndarray:
        row = {int(t): i for i, t in enumerate(self.map_topic_ids_)}
        out = np.tile(self.base_rates_, (len(topics), 1))
        for i, topic in enumerate(np.asarray(topics, dtype=int)):
            if int(topic) in row:
                out[i] = self.rates_[row[int(topic)]]
        return out

    def predict_topics(self, texts: Sequence[str], *, embeddings: np.ndarray | None = None) -> np.ndarray:
        """Topic id per quote, from the fitted topic model."""
        return self.model_.transform(list(texts), embeddings=embeddings)

    def predict_proba(self, texts: Sequence[str], *, metadata: pd.DataFrame | None = None, embeddings: np.ndarray | None = None) -> np.ndarray:
        return self._scores(self.predict_topics(texts, embeddings=embeddings))

    def training_text(self) -> str | None:
        return f"each topic's words, learned from the training quotes, and what its topic model keeps of them ({MODEL_DIR}/)"

    def _save_state(self, folder: Path) -> None:
        self.model_.save(folder / MODEL_DIR)
        np.savez(folder / MAP_FILE, topic_ids=self.map_topic_ids_, rates=self.rates_, base_rates=self.base_rates_)

    def _load_state(self, folder: Path) -> None:
        self.model_ = load_topic_model(folder / MODEL_DIR)
        with np.load(folder / MAP_FILE, allow_pickle=False) as data:
            self.map_topic_ids_ = data["topic_ids"].astype(int)
            self.rates_ = data["rates"]
            self.base_rates_ = data["base_rates"]
