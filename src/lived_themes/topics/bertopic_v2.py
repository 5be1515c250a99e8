"""``bertopic.v2``: BERTopic set up for a few thousand short comments, from the study in benchmarks/topics_study.py.

What changes from v1 (v1 is kept unchanged, so old configs give old results):

- **Topic count.** ``n_topics`` (named as in LDA and NMF, so configs can match them) is met exactly
  with ``clusterer="kmeans"`` (the default) and is the target of BERTopic's topic reduction with
  ``clusterer="hdbscan"`` (which may find fewer). ``n_topics=None`` keeps what HDBSCAN finds, or
  with k-means uses ``clip(round(sqrt(n) / 2), 2, 25)`` (48 quotes -> 3, 2,500 or more -> 25).
- **Clustering.** k-means on the normalised sentence embeddings themselves (``umap=False``): on
  1,500 NHS comments it aligned better with the human codes than k-means on UMAP's 5 dimensions,
  and HDBSCAN found only 8 topics with a catch-all one (docs/topics.md).
- **No outlier pile.** k-means assigns every quote. With HDBSCAN, ``outliers="embeddings"`` (default)
  moves each outlier to its nearest topic and recomputes the topic words; ``None`` keeps them.
- **Topic words that co-occur.** c-TF-IDF counts only lemmas seen in at least ``min_df`` quotes
  (``None`` = :func:`auto_min_df`: 2 below 10,000 quotes) and at most ``max_df`` of them, so a word
  from one or two comments no longer tops a topic; ``reduce_frequent_words`` is off, since
  square-rooting term frequencies favoured rarer words and lowered coherence.
- **Representation** (``representation``): ``"ctfidf"`` (default), ``"mmr"`` (maximal marginal
  relevance with the encoder, ``mmr_diversity``) or ``"keybert"`` (KeyBERTInspired), both offline
  with the packaged MiniLM.

Topic embeddings are the normalised mean of each topic's quote embeddings (after outlier
reduction), so ``transform`` and the representative quotes follow the final assignment.
Modes (guided, zero-shot, supervised, semi-supervised) work as in v1.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lived_themes.topics.base import OUTLIER
from lived_themes.topics.bertopic_model import BERTopicModel, _unit, size_rule
from lived_themes.topics.vectorizer import BLANK, auto_min_df, make_vectorizer

CLUSTERERS = ("kmeans", "hdbscan")
REPRESENTATIONS = ("ctfidf", "mmr", "keybert")
OUTLIER_STRATEGIES = ("embeddings", "c-tf-idf", "distributions")


def auto_topics(n: int) -> int:
    """Topic count when none is given: ``clip(round(sqrt(n) / 2), 2, 25)`` (48 quotes -> 3, 2,500+ -> 25)."""
    return int(min(25, max(2, round(math.sqrt(n) / 2))))


class BERTopicV2Model(BERTopicModel):
    """BERTopic with a matched topic count, no outlier pile and co-occurring topic words (module docstring)."""

    name = "bertopic.v2"

    def __init__(
        self,
        encoder: str | None = None,
        *,
        mode: str = "unsupervised",
        n_topics: int | None = None,
        clusterer: str = "kmeans",
        umap: bool = False,
        n_neighbors: int | None = None,
        n_components: int = 5,
        min_cluster_size: int | None = None,
        min_samples: int | None = None,
        outliers: str | None = "embeddings",
        min_df: int | float | None = None,
        max_df: int | float = 0.95,
        ngram_range: tuple[int, int] | list[int] = (1, 1),
        reduce_frequent_words: bool = False,
        representation: str = "ctfidf",
        mmr_diversity: float = 0.3,
        top_n_words: int = 25,
        zeroshot_min_similarity: float = 0.4,
        spacy_pipeline: str = BLANK,
        seed: int | None = 42,
        device: str | None = None,
    ) -> None:
        super().__init__(
            encoder,
            mode=mode,
            n_neighbors=n_neighbors,
            n_components=n_components,
            min_cluster_size=min_cluster_size,
            min_samples=min_samples,
            top_n_words=top_n_words,
            zeroshot_min_similarity=zeroshot_min_similarity,
            spacy_pipeline=spacy_pipeline,
            seed=seed,
            device=device,
        )
        for value, allowed, what in (
            (clusterer, CLUSTERERS, "clusterer"),
            (representation, REPRESENTATIONS, "representation"),
            (outliers, (*OUTLIER_STRATEGIES, None), "outliers"),
        ):
            if value not in allowed:
                raise ValueError(f"{what} must be one of {allowed}, got {value!r}")
        if n_topics is not None and int(n_topics) < 2:
            raise ValueError(f"n_topics must be at least 2 (or None), got {n_topics}")
        self.n_topics = n_topics
        self.clusterer = clusterer
        self.umap = umap
        self.outliers = outliers
        self.min_df = min_df
        self.max_df = max_df
        self.ngram_range = list(ngram_range)
        self.reduce_frequent_words = reduce_frequent_words
        self.representation = representation
        self.mmr_diversity = mmr_diversity

    @property
    def nr_topics(self) -> int | None:
        """BERTopic's topic reduction target: v2 names the count ``n_topics`` (as LDA and NMF); HDBSCAN only."""
        return self.n_topics if self.clusterer == "hdbscan" else None

    @nr_topics.setter
    def nr_topics(self, value: Any) -> None:  # v1's constructor sets it; v2 derives it from n_topics
        pass

    # ----- building ----------------------------------------------------------------------------
    def _needs_encoder(self) -> bool:
        return self.representation != "ctfidf"

    def _representation(self, texts: list[str]) -> dict[str, Any]:
        from bertopic.vectorizers import ClassTfidfTransformer

        out: dict[str, Any] = {
            "vectorizer_model": make_vectorizer(pipeline=self.spacy_pipeline, ngram_range=tuple(self.ngram_range), vocabulary=self._vocabulary(texts)),
            "ctfidf_model": ClassTfidfTransformer(reduce_frequent_words=self.reduce_frequent_words),
            "nr_topics": self.nr_topics,
            # BERTopic strips every character outside [A-Za-z0-9 ] before c-TF-IDF when language is
            # "english" and it holds no encoder ("don't" -> "dont", "café" -> "caf"), so topic words
            # would miss the lemmas the vocabulary and NPMI see. Any other value keeps the text as is;
            # the language is otherwise unused, since embeddings or the encoder are always given.
            "language": "multilingual",
        }
        if self.representation == "mmr":
            from bertopic.representation import MaximalMarginalRelevance

            out["representation_model"] = MaximalMarginalRelevance(diversity=self.mmr_diversity, top_n_words=self.top_n_words)
        elif self.representation == "keybert":
            from bertopic.representation import KeyBERTInspired

            out["representation_model"] = KeyBERTInspired(top_n_words=self.top_n_words, random_state=self.seed or 0)
        return out

    def _vocabulary(self, texts: list[str]) -> list[str]:
        """Terms kept for c-TF-IDF, counted over quotes.

        BERTopic fits its vectorizer on one joined document per topic, so its own ``min_df`` counts
        topics, not quotes (``min_df=5`` keeps only words found in five topics). The vocabulary is
        therefore fixed here from the quotes: seen in at least ``min_df`` and at most ``max_df`` of them.
        """
        n = len(texts)
        min_df = self.min_df if self.min_df is not None else auto_min_df(n)
        max_df = self.max_df if n >= 20 else 1.0  # on a handful of quotes every word is "frequent"
        counter = make_vectorizer(pipeline=self.spacy_pipeline, min_df=min_df, max_df=max_df, ngram_range=tuple(self.ngram_range))
        try:
            counter.fit(texts)
        except ValueError as exc:  # nothing left
            raise ValueError(f"{self.name}: no words left for topic words (min_df={min_df}, max_df={max_df})") from exc
        return counter.get_feature_names_out().tolist()

    def _components(self, n: int, labels_y: list[int] | None) -> dict[str, Any]:
        if self.mode == "supervised":
            return super()._components(n, labels_y)
        from bertopic.dimensionality import BaseDimensionalityReduction

        sizes = size_rule(n)
        if self.umap:
            reducer: Any = self._umap(n, sizes)
        else:
            reducer = BaseDimensionalityReduction()
        if self.clusterer == "kmeans":
            from sklearn.cluster import KMeans

            k = int(self.n_topics) if self.n_topics is not None else auto_topics(n)
            cluster: Any = KMeans(n_clusters=max(1, min(k, n)), n_init=10, random_state=self.seed)
        else:
            cluster = self._hdbscan(sizes)
        return {"umap_model": reducer, "hdbscan_model": cluster}

    def _after_fit(self, model: Any, texts: list[str], topics: Any, embeddings: np.ndarray) -> Any:
        topics = np.asarray(topics, dtype=int)
        if self.outliers is None or not (topics == OUTLIER).any() or (topics == OUTLIER).all():
            return topics
        kwargs: dict[str, Any] = {"strategy": self.outliers}
        if self.outliers == "embeddings":
            kwargs["embeddings"] = embeddings
        new = model.reduce_outliers(texts, topics.tolist(), **kwargs)
        model.update_topics(
            texts,
            topics=new,
            top_n_words=self.top_n_words,
            vectorizer_model=model.vectorizer_model,
            ctfidf_model=model.ctfidf_model,
            representation_model=model.representation_model,
        )
        return np.asarray(new, dtype=int)

    def _set_topic_state(self, model: Any, embeddings: np.ndarray) -> None:
        """Topic words from BERTopic; topic embeddings = normalised mean of member quote embeddings."""
        ids = sorted(t for t in set(self.topics_.tolist()) if t != OUTLIER)
        unit = _unit(embeddings)
        centroids = np.vstack([unit[self.topics_ == t].mean(axis=0) for t in ids]) if ids else np.zeros((0, unit.shape[1]), np.float32)
        self.topic_embedding_ids_ = np.asarray(ids, dtype=int)
        self.topic_embeddings_ = _unit(centroids)
        self.words_ = {int(t): [w for w, _ in model.get_topic(t) if w] for t in ids}
        col = {t: j for j, t in enumerate(ids)}
        sims = unit @ self.topic_embeddings_.T if ids else np.zeros((len(unit), 0))
        self.doc_scores_ = np.array([sims[i, col[t]] if t != OUTLIER else 0.0 for i, t in enumerate(self.topics_)])
