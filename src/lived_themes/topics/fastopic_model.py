"""FASTopic (``fastopic.v1``, Wu et al., 2024) as a comparator to ``bertopic.v2``.

FASTopic learns topic and word embeddings in the space of the quote embeddings, linked by optimal
transport (Sinkhorn), so that topics reconstruct each quote's lemma counts. Here it reads the run's
embeddings and the package's lemma vocabulary (its own ``topmost`` preprocessing is not used), and
a quote is assigned its most probable topic (FASTopic's ``transform``), so there are no outliers.
Training is seeded (torch and numpy, without touching the caller's random state).

Needs ``pip install 'lived-themes[topics-extra]'`` to fit; the fitted state is plain arrays, so
``transform`` (FASTopic's ``get_theta`` in numpy) and loading a saved model do not.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lived_themes.encoders.sentence import pick_device
from lived_themes.topics.contextual import ContextualTopicModel, check_whole, quiet, require
from lived_themes.topics.vectorizer import BLANK


class _Preprocess:
    """What FASTopic asks of a preprocessor: ``preprocess(docs)`` -> bag of words and vocabulary."""

    def __init__(self, vectorizer: Any) -> None:
        self.vectorizer = vectorizer

    def preprocess(self, docs: list[str]) -> dict[str, Any]:
        bow = self.vectorizer.fit_transform(docs).astype(np.float32)
        return {"train_bow": bow, "vocab": self.vectorizer.get_feature_names_out().tolist()}


class FASTopicModel(ContextualTopicModel):
    """FASTopic with the package's encoder and lemma vocabulary (module docstring)."""

    name = "fastopic.v1"

    def __init__(
        self,
        n_topics: int = 10,
        *,
        epochs: int = 200,
        learning_rate: float = 0.002,
        dt_alpha: float = 3.0,
        tw_alpha: float = 2.0,
        theta_temp: float = 1.0,
        encoder: str | None = None,
        min_df: int | float | None = None,
        max_df: int | float = 0.95,
        top_n_words: int = 25,
        spacy_pipeline: str = BLANK,
        seed: int | None = 42,
        device: str | None = None,
    ) -> None:
        super().__init__(n_topics, encoder=encoder, min_df=min_df, max_df=max_df, top_n_words=top_n_words,
                         spacy_pipeline=spacy_pipeline, seed=seed, device=device)
        check_whole(epochs, 1, "epochs")
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.dt_alpha = dt_alpha  # FASTopic's DT_alpha / TW_alpha: Sinkhorn sharpness, quote-topic and topic-word
        self.tw_alpha = tw_alpha
        self.theta_temp = theta_temp

    def _fit_package(self, texts: list[str], embeddings: np.ndarray) -> None:
        require("fastopic", self.name)
        import sys

        import torch
        from fastopic import FASTopic

        package = sys.modules["fastopic.FASTopic"]  # the module (the package's attribute of that name is the class)

        device = pick_device(self.device)
        numpy_state = np.random.get_state()  # FASTopic shuffles with numpy's global generator
        try:
            with torch.random.fork_rng(devices=[] if device == "cpu" else None), quiet(package):
                if self.seed is not None:
                    torch.manual_seed(self.seed)
                    np.random.seed(self.seed)
                model = FASTopic(self.n_topics, preprocess=_Preprocess(self._vectorizer(len(texts))), num_top_words=self.top_n_words,
                                 device=device, doc_embed_model=self._package_encoder(),
                                 DT_alpha=self.dt_alpha, TW_alpha=self.tw_alpha, theta_temp=self.theta_temp)
                _, theta = model.fit_transform(texts, epochs=self.epochs, learning_rate=self.learning_rate,
                                               preset_doc_embeddings=np.asarray(embeddings, dtype=np.float32))
        finally:
            np.random.set_state(numpy_state)
        topic_embeddings = model.model.topic_embeddings.detach().cpu().numpy().astype(np.float64)
        self.vocabulary_ = [str(w) for w in model.vocab]
        self.state_ = {"topic_embeddings": topic_embeddings}
        self.state_["train_norm"] = self._kernel(np.asarray(embeddings, dtype=np.float64)).sum(axis=0)
        self.words_ = self._words_from(model.get_beta(), self.vocabulary_)
        self.topics_, self.doc_scores_ = self._assign(np.asarray(theta))

    def _kernel(self, embeddings: np.ndarray) -> np.ndarray:
        """exp(-squared distance to each topic embedding / theta_temp), as FASTopic's ``get_theta``."""
        topics = self.state_["topic_embeddings"]
        dist = (embeddings**2).sum(axis=1, keepdims=True) + (topics**2).sum(axis=1) - 2 * embeddings @ topics.T
        return np.exp(-dist / self.theta_temp)

    def _topic_weights(self, texts: list[str], embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        theta = self._kernel(np.asarray(embeddings, dtype=np.float64)) / self.state_["train_norm"]
        return theta / theta.sum(axis=1, keepdims=True), None
