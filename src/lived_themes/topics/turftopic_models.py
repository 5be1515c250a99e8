"""Turftopic's KeyNMF (``keynmf.v1``) and Semantic Signal Separation (``s3.v1``), comparators to ``bertopic.v2``.

- **KeyNMF** (Kardos et al., 2024): each quote's ``top_n`` keywords are its lemmas closest to the
  quote embedding (cosine; computed here, see ``KeyNMFTopicModel._keywords``); turftopic's NMF
  factorises the quote x keyword-similarity matrix. A quote is assigned its highest-weight topic; a
  quote with no keyword (no in-vocabulary lemma) or no weight on any topic is an outlier (``-1``).
- **S³** (Kardos et al., 2025): FastICA splits the quote embeddings into ``n_topics`` independent
  semantic axes; a topic's words are the lemmas furthest along its positive side (turftopic's
  "combined" importance). A quote is assigned the axis it scores highest on, so there are no outliers.

Both need ``pip install 'lived-themes[topics-extra]'`` to fit; the fitted state is plain arrays, so
``transform`` and loading a saved model do not (``transform`` repeats turftopic's own steps in numpy).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np

from lived_themes.topics.contextual import ContextualTopicModel, check_whole, quiet, require
from lived_themes.topics.vectorizer import BLANK


class KeyNMFTopicModel(ContextualTopicModel):
    """KeyNMF with the package's encoder and lemma vocabulary (module docstring)."""

    name = "keynmf.v1"

    def __init__(
        self,
        n_topics: int = 10,
        *,
        top_n: int = 25,
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
        check_whole(top_n, 1, "top_n (keywords per quote)")
        self.top_n = top_n

    def _fit_package(self, texts: list[str], embeddings: np.ndarray) -> None:
        require("turftopic", self.name)
        from turftopic.models.keynmf import KeyNMF

        vectorizer = self._fitted_vectorizer(texts)
        self.vocabulary_ = vectorizer.get_feature_names_out().tolist()  # every lemma a keyword can be
        self.state_ = {"term_embeddings": self._package_encoder().encode(self.vocabulary_).astype(np.float32)}
        keywords = self._keywords(texts, embeddings)
        model = KeyNMF(self.n_topics, encoder=self._package_encoder(), vectorizer=vectorizer,
                       top_n=self.top_n, random_state=self.seed)
        with no_convergence_notes(), quiet():
            weights = np.asarray(model.fit_transform(texts, keywords=keywords))
        index = {w: i for i, w in enumerate(self.vocabulary_)}
        columns = [str(w) for w in model.get_vocab()]  # NMF's columns: lemmas that were some quote's keyword
        self.state_["keyword_index"] = np.asarray([index[w] for w in columns], dtype=np.int64)
        self.state_["components"] = np.asarray(model.components_, dtype=np.float32)
        self.words_ = self._words_from(model.components_, columns)
        self.topics_, self.doc_scores_ = self._assign(weights, weights.sum(axis=1) <= 0)

    def _keywords(self, texts: list[str], embeddings: np.ndarray) -> list[dict[str, float]]:
        """Each quote's ``top_n`` lemmas by cosine to the quote, those above 0 (turftopic's keyword step).

        Computed here rather than by turftopic 0.28's extractor, which keeps one word fewer than a
        short quote has (a one-lemma quote gets no keyword, so it would be an outlier) and pairs the
        kept words with the similarities left after dropping negative ones, which can misalign them.
        """
        vectorizer = self._vectorizer(0, vocabulary=self.vocabulary_)
        vectorizer.fit([])
        counts = vectorizer.transform(texts).tocsr()
        terms = _unit(self.state_["term_embeddings"])
        docs = _unit(embeddings)
        out: list[dict[str, float]] = []
        for i in range(len(texts)):
            present = np.sort(counts.indices[counts.indptr[i]: counts.indptr[i + 1]])
            sim = terms[present] @ docs[i]
            top = np.argsort(-sim, kind="stable")[: self.top_n]
            out.append({self.vocabulary_[int(present[j])]: float(sim[j]) for j in top if sim[j] > 0})
        return out

    def _topic_weights(self, texts: list[str], embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Turftopic's ``KeywordNMF.transform``: the keyword matrix factorised with the topics held fixed."""
        from scipy import sparse
        from sklearn.decomposition import non_negative_factorization

        column = {int(v): j for j, v in enumerate(self.state_["keyword_index"])}
        index = {w: column[i] for i, w in enumerate(self.vocabulary_) if i in column}
        rows, cols, values = [], [], []
        for i, keywords in enumerate(self._keywords(texts, embeddings)):
            for word, value in keywords.items():
                if word in index:
                    rows.append(i), cols.append(index[word]), values.append(value)
        matrix = sparse.csr_matrix((np.asarray(values, dtype=np.float32), (rows, cols)), shape=(len(texts), len(column)))
        components = self.state_["components"]
        with no_convergence_notes():
            weights, _, _ = non_negative_factorization(matrix, H=components.astype(matrix.dtype), n_components=components.shape[0],
                                                       init="custom", update_H=False, random_state=self.seed)
        return weights, np.asarray(matrix.sum(axis=1)).ravel() <= 0


@contextlib.contextmanager
def no_convergence_notes() -> Iterator[None]:
    """Hide scikit-learn's iteration-cap notes (NMF, FastICA): the comparators are used as their packages set them."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


class S3TopicModel(ContextualTopicModel):
    """Semantic Signal Separation with the package's encoder and lemma vocabulary (module docstring)."""

    name = "s3.v1"

    def __init__(
        self,
        n_topics: int = 10,
        *,
        feature_importance: str = "combined",
        max_iter: int = 200,
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
        allowed = ("axial", "angular", "combined")
        if feature_importance not in allowed:
            raise ValueError(f"feature_importance must be one of {allowed}, got {feature_importance!r}")
        self.feature_importance = feature_importance
        self.max_iter = max_iter

    def _fit_package(self, texts: list[str], embeddings: np.ndarray) -> None:
        require("turftopic", self.name)
        from turftopic.models.decomp import SemanticSignalSeparation

        model = SemanticSignalSeparation(self.n_topics, encoder=self._package_encoder(), vectorizer=self._vectorizer(len(texts)),
                                         max_iter=self.max_iter, feature_importance=self.feature_importance, random_state=self.seed)
        with no_convergence_notes(), quiet():
            weights = np.asarray(model.fit_transform(texts, embeddings=embeddings))
        ica = model.decomposition
        self.vocabulary_ = [str(w) for w in model.get_vocab()]
        self.state_ = {"mean": np.asarray(ica.mean_, dtype=np.float64), "unmixing": np.asarray(ica.components_, dtype=np.float64)}
        self.words_ = self._words_from(model.components_, self.vocabulary_)
        self.topics_, self.doc_scores_ = self._assign(weights)

    def _topic_weights(self, texts: list[str], embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """FastICA's ``transform``: centred embeddings times the unmixing matrix."""
        return (np.asarray(embeddings, dtype=np.float64) - self.state_["mean"]) @ self.state_["unmixing"].T, None
