"""Topic quality without human codes: NPMI coherence (gensim) and topic diversity, one table for every model.

Coherence is computed on the same spaCy lemmas the models' vectorizers use, so a topic word is
always a word of the reference texts. NPMI lies in [-1, 1] (1 = the words always occur together);
diversity is the share of unique words among all topics' top 25 (1 = no word shared).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lived_themes.topics.vectorizer import BLANK, LemmaTokenizer

if TYPE_CHECKING:
    from lived_themes.topics.base import TopicModel


def topic_diversity(topic_words: Sequence[Sequence[str]], *, topk: int = 25) -> float:
    """Unique words in the top ``topk`` of every topic divided by all those words (Dieng et al., 2020)."""
    tops = [list(words)[:topk] for words in topic_words if len(words)]
    total = sum(len(w) for w in tops)
    return float(len({w for words in tops for w in words}) / total) if total else float("nan")


def npmi_coherence(
    topic_words: Sequence[Sequence[str]],
    tokens: Sequence[Sequence[str]],
    *,
    topn: int = 10,
    window_size: int | None = None,
) -> tuple[float, list[float]]:
    """(mean, per-topic) NPMI over the reference tokens; topics with fewer than two known words score NaN.

    ``window_size=None`` counts co-occurrence within the whole quote (quotes are short), which is
    gensim's boolean-document measure; give a number for sliding windows on long texts.
    """
    import logging

    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    logging.getLogger("gensim").setLevel(logging.WARNING)  # its INFO lines list corpus words

    texts = [list(t) for t in tokens if len(t)]
    dictionary = Dictionary(texts)
    known = [[w for w in words[:topn] if w in dictionary.token2id] for words in topic_words]
    scored = [i for i, words in enumerate(known) if len(words) >= 2]
    per_topic = [float("nan")] * len(known)
    if scored and texts:
        longest = max(len(t) for t in texts)
        model = CoherenceModel(
            topics=[known[i] for i in scored],
            texts=texts,
            dictionary=dictionary,
            coherence="c_npmi",
            topn=topn,
            window_size=window_size or max(longest, 2),
            processes=1,
        )
        for i, value in zip(scored, model.get_coherence_per_topic()):
            per_topic[i] = float(value)
    values = [v for v in per_topic if not np.isnan(v)]
    return (float(np.mean(values)) if values else float("nan")), per_topic


def quality_table(
    models: Mapping[str, TopicModel],
    texts: Sequence[str],
    *,
    topn: int = 10,
    diversity_topk: int = 25,
    spacy_pipeline: str = BLANK,
) -> pd.DataFrame:
    """One row per fitted model: topics, outlier share, mean NPMI, diversity (same reference texts for all)."""
    tokens = LemmaTokenizer(spacy_pipeline).many(texts)
    rows = []
    for label, model in models.items():
        words = model.topic_words(max(topn, diversity_topk))
        ordered = [words[t] for t in sorted(words)]
        mean, _ = npmi_coherence(ordered, tokens, topn=topn)
        topics = np.asarray(getattr(model, "topics_", []))
        rows.append(
            {
                "model": label,
                "topic_model": model.name,
                "n_topics": len(ordered),
                "outlier_share": float(np.mean(topics == -1)) if topics.size else float("nan"),
                "npmi": mean,
                "diversity": topic_diversity(ordered, topk=diversity_topk),
            }
        )
    return pd.DataFrame(rows)
