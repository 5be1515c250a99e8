"""Topic quality without human codes: NPMI coherence and topic diversity, one table for every model.

NPMI follows gensim's ``CoherenceModel(coherence="c_npmi")`` (Röder et al., 2015), the measure the
BERTopic paper reports through OCTIS: the top ``topn`` words of each topic (default 10), every pair
of them, probabilities from boolean sliding windows of ``window_size`` tokens (default 10) over the
reference texts, and

    NPMI(a, b) = log((p(a, b) + eps) / (p(a) p(b))) / -log(p(a, b) + eps),  eps = 1e-12,

averaged over the pairs of a topic, then over topics. A text shorter than the window is one window;
a longer one gives ``len - window + 1`` windows; an empty text is one empty window (it counts in the
denominator, as in gensim). A pair that never co-occurs scores ``-1 + log(p(a) p(b)) / log(eps)``
(a little above -1), as in gensim.

One deliberate difference: gensim updates a window's word set incrementally and drops a word
when one copy of it leaves the window while another copy is still inside, so on texts longer than
the window with a repeated word it undercounts. Here each window's word set is exact. On texts no
longer than the window, or with no word repeated within a window's span, the two agree (tested).

Coherence is computed on the same spaCy lemmas the models' vectorizers use, so a topic word is
always a word of the reference texts (see docs/topics.md for the reference corpus and settings).
Diversity is the share of unique words among all topics' top 25 (1 = no word shared).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lived_themes.topics.vectorizer import BLANK, LemmaTokenizer

if TYPE_CHECKING:
    from lived_themes.topics.base import TopicModel

EPSILON = 1e-12  # gensim.topic_coherence.direct_confirmation_measure.EPSILON
WINDOW = 10  # gensim's default window for c_npmi (and OCTIS's, hence the BERTopic paper's)
TOPN = 10


def topic_diversity(topic_words: Sequence[Sequence[str]], *, topk: int = 25) -> float:
    """Unique words in the top ``topk`` of every topic divided by all those words (Dieng et al., 2020)."""
    tops = [list(words)[:topk] for words in topic_words if len(words)]
    total = sum(len(w) for w in tops)
    return float(len({w for words in tops for w in words}) / total) if total else float("nan")


def window_counts(tokens: Sequence[Sequence[str]], words: Sequence[str], *, window_size: int | None = WINDOW) -> tuple[np.ndarray, np.ndarray, int]:
    """(occurrences (V,), co-occurrences (V, V), number of windows) of ``words`` in boolean sliding windows.

    ``window_size=None`` makes each text one window (boolean document). Vectorised: a token at
    position p of a text of length L > w lies in the windows starting at max(0, p-w+1) .. min(p, L-w).
    """
    from scipy import sparse

    index = {w: i for i, w in enumerate(dict.fromkeys(words))}
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    n_windows = 0
    for text in tokens:
        length = len(text)
        ids = np.fromiter((index.get(t, -1) for t in text), dtype=np.int64, count=length)
        if window_size is None or length <= window_size:
            keep = ids >= 0
            rows.append(np.full(int(keep.sum()), n_windows))
            cols.append(ids[keep])
            n_windows += 1
            continue
        w = int(window_size)
        pos = np.flatnonzero(ids >= 0)
        first = np.maximum(0, pos - w + 1)
        last = np.minimum(pos, length - w)
        spans = last - first + 1
        starts = np.repeat(first - np.cumsum(np.r_[0, spans[:-1]]), spans) + np.arange(spans.sum())
        rows.append(n_windows + starts)
        cols.append(np.repeat(ids[pos], spans))
        n_windows += length - w + 1
    row = np.concatenate(rows) if rows else np.zeros(0, int)
    col = np.concatenate(cols) if cols else np.zeros(0, int)
    matrix = sparse.csr_matrix((np.ones(len(row)), (row, col)), shape=(n_windows, len(index)))
    matrix.data[:] = 1.0  # boolean: a word counts once per window
    matrix = matrix.tocsc()
    co = (matrix.T @ matrix).toarray()
    return np.diag(co).copy(), co, n_windows


def npmi_coherence(
    topic_words: Sequence[Sequence[str]],
    tokens: Sequence[Sequence[str]],
    *,
    topn: int = TOPN,
    window_size: int | None = WINDOW,
) -> tuple[float, list[float]]:
    """(mean, per-topic) NPMI of each topic's top ``topn`` words over the tokenised reference texts.

    Words absent from every text are left out of their topic (gensim would refuse them); a topic with
    fewer than two words left scores NaN and is left out of the mean. See the module docstring.
    """
    if window_size is not None and window_size < 2:
        raise ValueError(f"window_size must be at least 2 (or None for whole texts), got {window_size}")
    vocabulary = {t for text in tokens for t in text}
    known = [list(dict.fromkeys(w for w in list(words)[:topn] if w in vocabulary)) for words in topic_words]
    relevant = list(dict.fromkeys(w for words in known for w in words))
    occurrences, co, n_windows = window_counts(tokens, relevant, window_size=window_size)
    index = {w: i for i, w in enumerate(relevant)}
    per_topic: list[float] = []
    for words in known:
        if len(words) < 2:
            per_topic.append(float("nan"))
            continue
        ids = np.array([index[w] for w in words])
        a, b = np.triu_indices(len(ids), k=1)  # NPMI is symmetric: gensim's ordered pairs give the same mean
        p_ab = co[ids[a], ids[b]] / n_windows
        p_a, p_b = occurrences[ids[a]] / n_windows, occurrences[ids[b]] / n_windows
        npmi = np.log((p_ab + EPSILON) / (p_a * p_b)) / -np.log(p_ab + EPSILON)
        per_topic.append(float(np.mean(npmi)))
    values = [v for v in per_topic if not np.isnan(v)]
    return (float(np.mean(values)) if values else float("nan")), per_topic


def unigrams(words: Sequence[str]) -> list[str]:
    """Topic terms as single words, order kept, repeats dropped ("waiting time" -> "waiting", "time").

    The reference texts are single lemmas, so a multi-word term from an n-gram vectorizer is scored
    through its words.
    """
    return list(dict.fromkeys(part for term in words for part in str(term).split()))


def quality_table(
    models: Mapping[str, TopicModel],
    texts: Sequence[str],
    *,
    topn: int = TOPN,
    diversity_topk: int = 25,
    window_size: int | None = WINDOW,
    spacy_pipeline: str = BLANK,
) -> pd.DataFrame:
    """One row per fitted model: topics, outlier share, mean NPMI, diversity (same reference texts for all).

    Reference texts: ``texts`` tokenised by :class:`LemmaTokenizer` (lower-case lemmas, no stop words,
    punctuation or numbers); quotes left with no word are dropped, since they hold no co-occurrence.
    Diversity is read on the terms as the model gives them (n-grams included).
    """
    tokens = [t for t in LemmaTokenizer(spacy_pipeline).many(texts) if t]
    rows = []
    for label, model in models.items():
        words = model.topic_words(max(topn, diversity_topk))
        ordered = [words[t] for t in sorted(words)]
        mean, _ = npmi_coherence([unigrams(w) for w in ordered], tokens, topn=topn, window_size=window_size)
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
