"""``bertopic.v4``: v3, plus a topic for quotes with no word to describe them, and head words that set a topic apart.

Study: benchmarks/topics_ari_study.py (issue 28), all 5,923 NHS comments, 25 topics. Two changes to v3:

- **Quotes with no vocabulary word form one topic of their own** (``wordless_topic=True``). About one NHS
  comment in ten holds no lemma of the topic vocabulary ("Nothing.", "N/A", a stop word or two). v3's
  k-means scatters them among the other topics, where they dilute the topic words and the alignment;
  LDA and NMF leave them out as outliers. v4 clusters the other quotes into ``n_topics - 1`` topics with
  k-means and puts the word-less ones in the last topic, so the topic count still equals ``n_topics``
  and every quote is assigned. That topic has no topic words; its label says so. A new quote with no
  vocabulary word goes to it; any other quote goes to the nearest of the other topics. Only in the
  unsupervised k-means setting (other modes and HDBSCAN work as in v3).
- **Head words over-represented in the topic** (``head_min_lift=2.0``): the first ``head_words`` are the
  lemmas held by the largest share of the topic's quotes among those at least twice as common in the
  topic as in the whole corpus; the tail (the topic's own c-TF-IDF words, as in v3) leaves out any word
  that already heads a topic, so each word shows once unless several topics are led by it.

Zero-shot topics keep their code's name and the codebook's order: topics that came from a code's description
are numbered first, in codebook order (0 = the first code that found quotes), then the clustered ones.
BERTopic numbers topics by size, so a code's topic id moved with the data; ``bertopic_ids_`` maps the ids back
for BERTopic's own figures.

On all NHS comments, mean over k-means seeds 0, 1, 42, v3 -> v4: ARI with the labeller's codes 0.274 -> 0.289
(LDA 0.285), NPMI of the top 10 -0.029 -> -0.040 (LDA -0.080), diversity of the top 25 0.757 -> 0.813 (S³ 0.789).
docs/topics.md has the tables and the command.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lived_themes.errors import ModelFileError
from lived_themes.topics.base import OUTLIER
from lived_themes.topics.bertopic_model import _unit
from lived_themes.topics.bertopic_v2 import BERTopicV2Model, auto_topics
from lived_themes.topics.bertopic_v3 import BERTopicV3Model, split_words
from lived_themes.topics.vectorizer import make_vectorizer

#: What a v4 folder adds to v3's: the vocabulary (to find word-less quotes at predict time) and that topic's id.
VOCABULARY_FILE = "vocabulary.json"
WORDLESS_LABEL = "(no vocabulary word)"


class WordlessKMeans:
    """k-means on the quotes that hold a vocabulary word; the others form one cluster of their own, the last label.

    BERTopic calls ``fit(X, y=...)`` and reads ``labels_``; the mask of word-less rows is set before the fit."""

    def __init__(self, n_clusters: int, wordless: np.ndarray, *, n_init: int = 10, random_state: int | None = None) -> None:
        self.n_clusters = n_clusters
        self.wordless = np.asarray(wordless, dtype=bool)
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: Any = None) -> WordlessKMeans:
        from sklearn.cluster import KMeans

        X = np.asarray(X)
        if len(X) != len(self.wordless):
            raise ValueError(f"{len(X)} embeddings for a mask of {len(self.wordless)} quotes")
        content = ~self.wordless
        k = int(max(1, min(self.n_clusters - 1, content.sum())))
        labels = np.full(len(X), k, dtype=int)
        if content.any():
            labels[content] = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state).fit(X[content]).labels_
        self.labels_ = labels
        return self


class BERTopicV4Model(BERTopicV3Model):
    """bertopic.v3 with a topic for word-less quotes and distinctive head words (module docstring)."""

    name = "bertopic.v4"

    def __init__(self, encoder: str | None = None, *, wordless_topic: bool = True, head_min_lift: float = 2.0, **kwargs: Any) -> None:
        super().__init__(encoder, **kwargs)
        if head_min_lift < 0:
            raise ValueError(f"head_min_lift must be at least 0, got {head_min_lift}")
        self.wordless_topic = wordless_topic
        self.head_min_lift = head_min_lift

    # ----- fitting -------------------------------------------------------------------------------
    def _separates_wordless(self) -> bool:
        return bool(self.wordless_topic) and self.mode == "unsupervised" and self.clusterer == "kmeans"

    def _fit(self, texts: list[str], *, embeddings: np.ndarray | None, codebook: Any, labels: np.ndarray | None) -> None:
        self.vocabulary_: list[str] = []
        self.wordless_topic_id_: int | None = None
        self._wordless = None
        if self._separates_wordless():
            self.vocabulary_ = self._vocabulary(texts)
            wordless = self._wordless_mask(texts)
            if wordless.any() and not wordless.all():
                self._wordless = wordless
        try:
            super()._fit(texts, embeddings=embeddings, codebook=codebook, labels=labels)
        finally:
            wordless, self._wordless = self._wordless, None
        if wordless is not None:
            # BERTopic renumbers topics by size, so the word-less topic's id is read back from its quotes
            self.wordless_topic_id_ = int(self.topics_[np.flatnonzero(wordless)[0]])
        self.bertopic_ids_: dict[int, int] = {}
        if self.mode == "zeroshot" and codebook is not None and self.topic_codes_:
            self._codebook_order([c.id for c in codebook.codes])

    def _codebook_order(self, code_ids: list[str]) -> None:
        """Renumber topics: those from a code first, in codebook order, then the others in BERTopic's order."""
        rank = {c: i for i, c in enumerate(code_ids)}
        ids = [int(t) for t in self.topic_embedding_ids_]
        coded = sorted((t for t in ids if t in self.topic_codes_), key=lambda t: (rank.get(self.topic_codes_[t], len(rank)), t))
        order = coded + [t for t in ids if t not in self.topic_codes_]
        new = {old: i for i, old in enumerate(order)}
        self.bertopic_ids_ = {i: old for old, i in new.items()}
        self.topics_ = np.array([new.get(int(t), int(t)) for t in self.topics_], dtype=int)  # the outlier topic stays -1
        self.topic_embeddings_ = self.topic_embeddings_[[ids.index(old) for old in order]]
        self.topic_embedding_ids_ = np.arange(len(order), dtype=int)
        self.words_ = {new[int(t)]: words for t, words in self.words_.items()}
        self.topic_codes_ = {new[int(t)]: code for t, code in self.topic_codes_.items()}

    def _wordless_mask(self, texts: Sequence[str]) -> np.ndarray:
        """True for each quote that holds no word of the fitted vocabulary."""
        counts = make_vectorizer(pipeline=self.spacy_pipeline, ngram_range=tuple(self.ngram_range), vocabulary=self.vocabulary_).transform(list(texts))
        return np.asarray(counts.sum(axis=1)).ravel() == 0

    def _components(self, n: int, labels_y: list[int] | None) -> dict[str, Any]:
        out = super()._components(n, labels_y)
        if self._wordless is not None:
            k = int(self.n_topics) if self.n_topics is not None else auto_topics(n)
            out["hdbscan_model"] = WordlessKMeans(max(2, min(k, n)), self._wordless, n_init=10, random_state=self.seed)
        return out

    def _set_topic_state(self, model: Any, embeddings: np.ndarray) -> None:
        BERTopicV2Model._set_topic_state(self, model, embeddings)
        texts = getattr(self, "_texts", None)
        if self.words == "split" and texts is not None and self.words_:
            vectorizer = model.vectorizer_model
            self.words_ = split_words(vectorizer.transform(texts), self.topics_, vectorizer.get_feature_names_out().tolist(),
                                      head=self.head_words, top_n=self.top_n_words, min_df=self.word_min_df,
                                      head_min_lift=self.head_min_lift, tail_skips_heads=True)
        self._texts = None

    # ----- using ---------------------------------------------------------------------------------
    def transform(self, texts: Sequence[str], *, embeddings: np.ndarray | None = None) -> np.ndarray:
        """Word-less quotes to the word-less topic; the others to the nearest other topic (cosine)."""
        if self.wordless_topic_id_ is None:
            return super().transform(texts, embeddings=embeddings)
        texts = list(texts)
        emb = self._embed(texts) if embeddings is None else np.asarray(embeddings)
        if not len(emb):
            return np.zeros(0, dtype=int)
        others = self.topic_embedding_ids_ != self.wordless_topic_id_
        sims = _unit(emb) @ _unit(self.topic_embeddings_[others]).T
        out = self.topic_embedding_ids_[others][sims.argmax(axis=1)].astype(int)
        out[self._wordless_mask(texts)] = self.wordless_topic_id_
        return out

    def topic_label(self, topic: int, n_words: int = 4) -> str:
        if topic == self.wordless_topic_id_ and topic != OUTLIER and not self.topic_codes_.get(topic):
            return f"{topic}: {WORDLESS_LABEL}"
        return super().topic_label(topic, n_words)

    # ----- persistence ---------------------------------------------------------------------------
    def _save_state(self, folder: Path) -> None:
        super()._save_state(folder)
        state = {"vocabulary": self.vocabulary_, "wordless_topic": self.wordless_topic_id_}
        (folder / VOCABULARY_FILE).write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")

    def _load_state(self, folder: Path) -> None:
        super()._load_state(folder)
        path = folder / VOCABULARY_FILE
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"cannot read it ({type(exc).__name__})", file=path) from None
        vocabulary, topic = (state.get("vocabulary"), state.get("wordless_topic")) if isinstance(state, dict) else (None, None)
        if not isinstance(vocabulary, list) or not all(isinstance(w, str) for w in vocabulary):
            raise ModelFileError("expected a list of words", file=path, field="vocabulary")
        if topic is not None and (not isinstance(topic, int) or isinstance(topic, bool) or topic not in self.topic_embedding_ids_.tolist()):
            raise ModelFileError("expected null or the id of a saved topic", file=path, field="wordless_topic")
        if topic is not None and not vocabulary:
            raise ModelFileError("a word-less topic needs the vocabulary", file=path, field="vocabulary")
        self.vocabulary_ = vocabulary
        self.wordless_topic_id_ = topic


def _signature() -> inspect.Signature:
    """v3's parameters plus v4's, so config checks and get_params see every one."""
    base = inspect.signature(BERTopicV3Model.__init__).parameters.values()
    extra = [p for p in inspect.signature(BERTopicV4Model.__init__).parameters.values() if p.kind is p.KEYWORD_ONLY]
    return inspect.Signature([*base, *extra])


BERTopicV4Model.__init__.__signature__ = _signature()  # type: ignore[attr-defined]
