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


def test_long_texts_are_lemmatised_in_pieces_with_the_same_lemmas(monkeypatch: pytest.MonkeyPatch) -> None:
    """A topic's joined quotes (BERTopic's c-TF-IDF input) are lemmatised word by word: the lemmas do not change."""
    from lived_themes.topics import vectorizer

    text = " ".join(["The nurses were running,  and the mice didn't listen\nto me (see www.nhs.uk); A&E's well-known wait-times."] * 40)
    whole = LemmaTokenizer()(text)
    monkeypatch.setattr(vectorizer, "LONG_TEXT", 100)
    pieces = vectorizer._pieces(text, 100)
    assert len(pieces) > 20 and all(len(p) <= 100 for p in pieces) and " ".join(pieces) == text
    assert LemmaTokenizer()(text) == whole and whole[:4] == ["nurse", "run", "mouse", "listen"]
    assert LemmaTokenizer().many([text]) == [whole]
