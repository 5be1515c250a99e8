"""``bertopic.v3``: v2's clustering with topic words chosen for both coherence and distinctiveness.

Study: benchmarks/topics_study.py (``--only words`` rows), NHS comments, 25 topics. Clustering is
v2's (k-means on the normalised embeddings); only the topic words change, so NMI / ARI equal v2's.

Word rule (``words="split"``, the default; ``"ctfidf"`` keeps v2's words):

- the first ``head`` words (10) are the lemmas held by the largest share of the topic's quotes
  (p(word | topic), words seen in at least ``min_df`` quotes): what the topic's quotes most often say,
  which co-occur and so read coherently;
- the rest, up to ``top_n_words``, are the topic's highest c-TF-IDF words among those whose c-TF-IDF
  is highest in this topic (each such word is listed under one topic only): what sets it apart.

On all 5,923 NHS comments at 25 topics this moved NPMI (top 10) from -0.102 to -0.060 and diversity
(top 25) from 0.478 to 0.745 on the same assignments (exploration script, under load; see docs/topics.md).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from lived_themes.topics.base import OUTLIER
from lived_themes.topics.bertopic_v2 import BERTopicV2Model

WORD_RULES = ("split", "ctfidf")


def split_words(counts: Any, topics: np.ndarray, vocabulary: list[str], *, head: int = 10, top_n: int = 25, min_df: int = 5,
                head_cap: int | None = None, head_min_lift: float = 0.0, tail_skips_heads: bool = False) -> dict[int, list[str]]:
    """Per topic: ``head`` words by p(word | topic), then words owned (highest c-TF-IDF) by the topic.

    ``head_cap``: a word may head at most this many topics (those where it is held by the largest share of quotes);
    None, v3's rule, lets a common word head every topic. Studied in benchmarks/topics_ari_study.py: it trades
    coherence for diversity, so v3 does not use it.

    ``head_min_lift`` (bertopic.v4: 2): a head word must be held by at least this many times its share of all the
    topics' quotes; 0, v3's rule, takes the most widely held words whatever their share elsewhere.
    ``tail_skips_heads`` (bertopic.v4): the tail leaves out words that head any topic, so a word is not listed
    twice as one topic's head and another's tail."""
    from scipy import sparse

    counts = sparse.csr_matrix(counts)
    ids = sorted(t for t in set(topics.tolist()) if t != OUTLIER)
    binary = (counts > 0).astype(float)
    docs = np.vstack([np.asarray(binary[topics == t].sum(axis=0)).ravel() for t in ids])
    freq = np.vstack([np.asarray(counts[topics == t].sum(axis=0)).ravel() for t in ids])
    sizes = np.array([(topics == t).sum() for t in ids], dtype=float)
    keep = docs.sum(axis=0) >= min(min_df, max(1, len(topics) // 10))
    idf = np.log(freq.sum(axis=1).mean() / np.maximum(freq.sum(axis=0), 1e-12) + 1)
    ctfidf = freq / np.maximum(freq.sum(axis=1, keepdims=True), 1e-12) * idf
    owner = ctfidf.argmax(axis=0)
    share = docs / sizes[:, None]
    lift = share / np.maximum(docs.sum(axis=0) / max(sizes.sum(), 1.0), 1e-12)
    if head_cap is not None and head_cap < 1:
        raise ValueError(f"head_cap must be at least 1 (or None), got {head_cap}")
    # rank of each topic for each word, 0 = the topic where the word is most widely held
    allowed = (-share).argsort(axis=0, kind="stable").argsort(axis=0) < head_cap if head_cap is not None else np.ones(share.shape, bool)
    allowed &= lift >= head_min_lift
    heads = {}
    for row, topic in enumerate(ids):
        heads[topic] = [j for j in np.argsort(-share[row], kind="stable") if keep[j] and docs[row, j] > 0 and allowed[row, j]][:head]
    skipped = {j for first in heads.values() for j in first} if tail_skips_heads else set()
    out: dict[int, list[str]] = {}
    for row, topic in enumerate(ids):
        first = heads[topic]
        rest = [j for j in np.argsort(-ctfidf[row], kind="stable")
                if owner[j] == row and keep[j] and ctfidf[row, j] > 0 and j not in first and j not in skipped]
        out[int(topic)] = [vocabulary[j] for j in first + rest][:top_n]
    return out


class BERTopicV3Model(BERTopicV2Model):
    """bertopic.v2 plus the split word rule (module docstring)."""

    name = "bertopic.v3"

    def __init__(self, encoder: str | None = None, *, words: str = "split", head_words: int = 10, word_min_df: int = 5, **kwargs: Any) -> None:
        super().__init__(encoder, **kwargs)
        if words not in WORD_RULES:
            raise ValueError(f"words must be one of {WORD_RULES}, got {words!r}")
        self.words = words
        self.head_words = head_words
        self.word_min_df = word_min_df

    def _after_fit(self, model: Any, texts: list[str], topics: Any, embeddings: np.ndarray) -> Any:
        self._texts = texts
        return super()._after_fit(model, texts, topics, embeddings)

    def _set_topic_state(self, model: Any, embeddings: np.ndarray) -> None:
        super()._set_topic_state(model, embeddings)
        texts = getattr(self, "_texts", None)
        if self.words == "split" and texts is not None and self.words_:
            vectorizer = model.vectorizer_model
            counts = vectorizer.transform(texts)
            self.words_ = split_words(counts, self.topics_, vectorizer.get_feature_names_out().tolist(),
                                      head=self.head_words, top_n=self.top_n_words, min_df=self.word_min_df)
        self._texts = None


def _signature() -> inspect.Signature:
    """v2's parameters plus v3's, so config checks and get_params see every one."""
    base = inspect.signature(BERTopicV2Model.__init__).parameters.values()
    extra = [p for p in inspect.signature(BERTopicV3Model.__init__).parameters.values() if p.kind is p.KEYWORD_ONLY]
    return inspect.Signature([*base, *extra])


BERTopicV3Model.__init__.__signature__ = _signature()  # type: ignore[attr-defined]
