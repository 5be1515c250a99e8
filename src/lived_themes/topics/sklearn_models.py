"""LDA and NMF (scikit-learn) behind the topic-model interface: the bag-of-words baselines BERTopic must beat.

Both read spaCy lemmas through the shared vectorizer. A document is assigned its highest-weight
topic; a document with no in-vocabulary word is an outlier (``-1``), as in BERTopic. Saved state is
the fitted matrices in ``.npz`` (read with ``allow_pickle=False``) plus the vocabulary as JSON.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lived_themes.topics.base import OUTLIER, TopicModel
from lived_themes.topics.vectorizer import BLANK, auto_min_df, make_vectorizer

if TYPE_CHECKING:
    from lived_themes.codebook import Codebook

STATE_FILE = "matrices.npz"
VOCAB_FILE = "vocabulary.json"


class _SklearnTopicModel(TopicModel):
    """Shared fit / transform / save for matrix-factorisation topic models."""

    vectorizer_kind = "count"

    def __init__(
        self,
        n_topics: int = 10,
        *,
        max_iter: int = 200,
        min_df: int | float | None = None,
        max_df: int | float = 0.95,
        spacy_pipeline: str = BLANK,
        seed: int | None = 42,
    ) -> None:
        if isinstance(n_topics, bool) or not isinstance(n_topics, numbers.Integral) or n_topics < 2:
            raise ValueError(f"n_topics must be a whole number of at least 2, got {n_topics!r}")  # one topic separates nothing
        self.n_topics = n_topics
        self.max_iter = max_iter
        self.min_df = min_df
        self.max_df = max_df
        self.spacy_pipeline = spacy_pipeline
        self.seed = seed

    def _estimator(self, n_components: int, n_docs: int) -> Any:
        raise NotImplementedError

    def _fit(self, texts: list[str], *, embeddings: np.ndarray | None, codebook: Codebook | None, labels: np.ndarray | None) -> None:
        min_df = self.min_df if self.min_df is not None else auto_min_df(len(texts))
        max_df = self.max_df if len(texts) >= 20 else 1.0  # on a handful of quotes every word is "frequent"
        self.vectorizer_ = make_vectorizer(pipeline=self.spacy_pipeline, kind=self.vectorizer_kind, min_df=min_df, max_df=max_df)
        try:
            matrix = self.vectorizer_.fit_transform(texts)
        except ValueError as exc:  # empty vocabulary
            raise ValueError(f"{self.name}: no words left after removing stop words (min_df={min_df}, max_df={max_df})") from exc
        n_components = max(1, min(int(self.n_topics), len(texts), matrix.shape[1]))
        self.estimator_ = self._estimator(n_components, len(texts))
        weights = self.estimator_.fit_transform(matrix)
        self.vocabulary_ = self.vectorizer_.get_feature_names_out().tolist()
        self.topics_, self.doc_scores_ = self._assign(weights, matrix)

    @staticmethod
    def _assign(weights: np.ndarray, matrix: Any) -> tuple[np.ndarray, np.ndarray]:
        empty = np.asarray(matrix.sum(axis=1)).ravel() == 0
        topics = np.where(empty, OUTLIER, weights.argmax(axis=1)).astype(int)
        return topics, np.where(empty, 0.0, weights.max(axis=1))

    def topic_distribution(self, texts: Sequence[str]) -> np.ndarray:
        """(n, n_topics) topic weights of new documents."""
        return self.estimator_.transform(self.vectorizer_.transform(list(texts)))

    def transform(self, texts: Sequence[str], *, embeddings: np.ndarray | None = None) -> np.ndarray:
        matrix = self.vectorizer_.transform(list(texts))
        return self._assign(self.estimator_.transform(matrix), matrix)[0]

    def topic_words(self, n: int = 10) -> dict[int, list[str]]:
        vocab = np.asarray(self.vocabulary_)
        return {t: vocab[np.argsort(-row, kind="stable")[:n]].tolist() for t, row in enumerate(self.estimator_.components_)}

    # ----- persistence -------------------------------------------------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        return {"components": self.estimator_.components_}

    def _save_state(self, folder: Path) -> None:
        arrays = self._arrays()
        if self.vectorizer_kind == "tfidf":
            arrays["idf"] = self.vectorizer_.idf_
        np.savez(folder / STATE_FILE, **arrays)
        (folder / VOCAB_FILE).write_text(json.dumps(self.vocabulary_, ensure_ascii=False), encoding="utf-8")

    def _load_state(self, folder: Path) -> None:
        with np.load(folder / STATE_FILE, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        self.vocabulary_ = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))
        self.vectorizer_ = make_vectorizer(pipeline=self.spacy_pipeline, kind=self.vectorizer_kind, vocabulary=self.vocabulary_)
        if self.vectorizer_kind == "tfidf":
            self.vectorizer_.fit([" ".join(self.vocabulary_)])  # sets the vocabulary; idf_ is replaced below
            self.vectorizer_.idf_ = arrays["idf"]
        else:
            self.vectorizer_.fit([])
        components = arrays["components"]
        self.estimator_ = self._estimator(components.shape[0], 0)
        self._restore(arrays)


class LDATopicModel(_SklearnTopicModel):
    """Latent Dirichlet allocation on lemma counts (batch variational Bayes below 20,000 quotes, online above)."""

    name = "lda.v1"

    def _estimator(self, n_components: int, n_docs: int) -> Any:
        from sklearn.decomposition import LatentDirichletAllocation

        method = "online" if n_docs > 20_000 else "batch"
        return LatentDirichletAllocation(
            n_components=n_components, max_iter=min(self.max_iter, 100), learning_method=method, random_state=self.seed
        )

    def _arrays(self) -> dict[str, np.ndarray]:
        est = self.estimator_
        return {"components": est.components_, "priors": np.array([est.doc_topic_prior_, est.topic_word_prior_])}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        from scipy.special import psi

        est = self.estimator_
        est.components_ = arrays["components"]
        est.doc_topic_prior_, est.topic_word_prior_ = (float(v) for v in arrays["priors"])
        comp = est.components_
        est.exp_dirichlet_component_ = np.exp(psi(comp) - psi(comp.sum(axis=1))[:, np.newaxis])
        est.n_features_in_ = comp.shape[1]
        est.random_state_ = np.random.RandomState(self.seed)
        est.n_batch_iter_ = 1
        est.n_iter_ = 1


class NMFTopicModel(_SklearnTopicModel):
    """Non-negative matrix factorisation of TF-IDF-weighted lemmas (NNDSVDa start, so it is deterministic)."""

    name = "nmf.v1"
    vectorizer_kind = "tfidf"

    def _estimator(self, n_components: int, n_docs: int) -> Any:
        from sklearn.decomposition import NMF

        return NMF(n_components=n_components, init="nndsvda", max_iter=self.max_iter, random_state=self.seed)

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        est = self.estimator_
        est.components_ = arrays["components"]
        est.n_components_ = est.components_.shape[0]
        est.n_features_in_ = est.components_.shape[1]
        est.n_iter_ = 1
        est.reconstruction_err_ = float("nan")
