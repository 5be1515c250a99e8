"""Lemma + stop-word tokenising for topic words, so "nurses"/"nurse" and "listened"/"listen" count as one word.

The default pipeline is ``spacy.blank("en")`` with the lookup lemmatizer from spacy-lookups-data:
no model download, fast enough for hundreds of thousands of quotes. A named installed pipeline
(e.g. ``en_core_web_sm``) is accepted for rule-based lemmas. The same tokenizer feeds the topic
models' vectorizers and the NPMI coherence, so words line up between them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

BLANK = "blank:en"
#: Texts longer than this are not lemmatised (nor cached) whole. BERTopic joins each topic's quotes into
#: one document: re-lemmatised for every chunk by the online mode, and past spaCy's limit
#: (``nlp.max_length``, 1,000,000 characters) at a few hundred thousand quotes. A blank pipeline's
#: tokens and lookup lemmas depend only on the space-separated word, so such a text is lemmatised word
#: by word with each word cached (the same lemmas, much faster); other pipelines tag in context, so
#: they get pieces of up to this length cut at spaces.
LONG_TEXT = 10_000


@lru_cache(maxsize=4)
def load_pipeline(pipeline: str = BLANK) -> Any:
    """A spaCy pipeline that tokenises and lemmatises; loaded once per process."""
    import spacy

    if pipeline.startswith("blank:"):
        nlp = spacy.blank(pipeline.split(":", 1)[1])
        try:
            nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
            nlp.initialize()
        except (ValueError, OSError, ImportError) as exc:
            raise ImportError(
                "the lookup lemmatizer needs the package spacy-lookups-data: pip install spacy-lookups-data"
            ) from exc
        return nlp
    try:
        return spacy.load(pipeline, exclude=["parser", "ner", "textcat"])
    except OSError as exc:
        raise ImportError(f"spaCy pipeline {pipeline!r} is not installed; use {BLANK!r} or install it") from exc


class LemmaTokenizer:
    """Callable text -> lower-case lemmas, without stop words, punctuation, numbers or one-letter tokens.

    Text is lower-cased before lemmatising, because the lookup tables are case-sensitive ("Nurses").

    Holds only the pipeline name, so copies and configs stay plain; results are cached per text
    because the same quotes are tokenised by the vectorizer and again for coherence.
    """

    def __init__(self, pipeline: str = BLANK, *, extra_stop_words: Sequence[str] = ()) -> None:
        self.pipeline = pipeline
        self.extra_stop_words = tuple(sorted({w.lower() for w in extra_stop_words}))

    def __call__(self, text: str) -> list[str]:
        if len(text) > LONG_TEXT:  # see LONG_TEXT
            if self.pipeline.startswith("blank:"):
                return [w for word in text.split(" ") if word for w in _lemmas(self.pipeline, self.extra_stop_words, word)]
            return [w for lemmas in self.many(_pieces(text, LONG_TEXT)) for w in lemmas]
        return list(_lemmas(self.pipeline, self.extra_stop_words, text))

    def many(self, texts: Iterable[str], *, batch_size: int = 256) -> list[list[str]]:
        """Tokenise many texts with ``nlp.pipe`` (faster than one call per text)."""
        texts = list(texts)
        nlp = load_pipeline(self.pipeline)
        stop = nlp.Defaults.stop_words | set(self.extra_stop_words)
        return [_keep(doc, stop) for doc in nlp.pipe([t.lower() for t in texts], batch_size=batch_size)]

    def __repr__(self) -> str:
        return f"LemmaTokenizer({self.pipeline!r})"


def _pieces(text: str, size: int) -> list[str]:
    """``text`` cut at spaces into pieces of at most ``size`` characters (a longer run without a space is cut where it falls)."""
    pieces, start = [], 0
    while start < len(text):
        stop = start + size
        if stop < len(text):
            cut = text.rfind(" ", start, stop)
            stop = cut if cut > start else stop
        pieces.append(text[start:stop])
        start = stop + 1 if stop < len(text) and text[stop] == " " else stop
    return pieces


def _keep(doc: Any, stop: set[str]) -> list[str]:
    out = []
    for token in doc:
        if not token.is_alpha or token.is_stop:
            continue
        lemma = (token.lemma_ or token.text).lower()
        if len(lemma) > 1 and lemma not in stop and token.lower_ not in stop:
            out.append(lemma)
    return out


@lru_cache(maxsize=100_000)
def _lemmas(pipeline: str, extra_stop_words: tuple[str, ...], text: str) -> tuple[str, ...]:
    nlp = load_pipeline(pipeline)
    return tuple(_keep(nlp(text.lower()), nlp.Defaults.stop_words | set(extra_stop_words)))


def auto_min_df(n_docs: int) -> int:
    """Drop words seen in fewer documents than this: 1 below 500 quotes, 2 below 10,000, else 5.

    Keeps rare words on tiny corpora (where every word matters) and bounds the vocabulary on large ones.
    """
    return 1 if n_docs < 500 else 2 if n_docs < 10_000 else 5


def make_vectorizer(
    *,
    pipeline: str = BLANK,
    kind: str = "count",
    min_df: int | float = 1,
    max_df: int | float = 1.0,
    ngram_range: tuple[int, int] = (1, 1),
    max_features: int | None = None,
    vocabulary: Sequence[str] | None = None,
) -> Any:
    """A scikit-learn CountVectorizer (or TfidfVectorizer, ``kind="tfidf"``) over spaCy lemmas."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    cls = TfidfVectorizer if kind == "tfidf" else CountVectorizer
    if kind not in ("count", "tfidf"):
        raise ValueError(f"kind must be 'count' or 'tfidf', got {kind!r}")
    return cls(
        tokenizer=LemmaTokenizer(pipeline),
        lowercase=False,
        token_pattern=None,
        min_df=min_df,
        max_df=max_df,
        ngram_range=tuple(ngram_range),
        max_features=max_features,
        vocabulary=list(vocabulary) if vocabulary is not None else None,
    )
