"""spaCy lemma + stop-word tokenising used by every topic model and by coherence."""

from __future__ import annotations

import pytest

from lived_themes.topics.vectorizer import LemmaTokenizer, auto_min_df, make_vectorizer


def test_lemmas_without_stop_words_or_punctuation() -> None:
    tokens = LemmaTokenizer()("The nurses were running, and the mice didn't listen to me 24/7.")
    assert tokens == ["nurse", "run", "mouse", "listen"]


def test_many_matches_single_calls() -> None:
    tok = LemmaTokenizer(extra_stop_words=["nurse"])
    texts = ["Nurses listened.", "Waiting lists were long"]
    assert tok.many(texts) == [tok(t) for t in texts] == [["listen"], ["wait", "list", "long"]]


def test_vectorizer_counts_lemmas() -> None:
    vec = make_vectorizer()
    matrix = vec.fit_transform(["nurses listened", "the nurse listens"])
    assert vec.get_feature_names_out().tolist() == ["listen", "nurse"]
    assert matrix.toarray().tolist() == [[1, 1], [1, 1]]


def test_unknown_pipeline_and_kind_are_explained() -> None:
    with pytest.raises(ImportError, match="not installed"):
        LemmaTokenizer("xx_no_such_pipeline")("text")
    with pytest.raises(ValueError, match="kind"):
        make_vectorizer(kind="bm25")


def test_auto_min_df_grows_with_corpus() -> None:
    assert [auto_min_df(n) for n in (50, 5_000, 300_000)] == [1, 2, 5]
