"""LDA and NMF fit a tiny three-theme corpus, find the themes, and round-trip through a pickle-free folder."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from lived_themes.registry import get_topic_model_class
from lived_themes.topics.base import load_topic_model, make_topic_model


@pytest.mark.parametrize("name", ["lda.v1", "nmf.v1"])
def test_finds_the_three_themes(name: str, tiny_texts: list[str], tiny_theme_ids: np.ndarray) -> None:
    model = make_topic_model(name, n_topics=3).fit(tiny_texts)
    assert adjusted_rand_score(tiny_theme_ids, model.topics_) > 0.9
    words = model.topic_words(3)
    assert {w for ws in words.values() for w in ws} & {"nurse", "appointment", "medication"}
    for topic, docs in model.representative_docs(2).items():
        assert len(docs) == 2 and all(model.topics_[i] == topic for i in docs)


@pytest.mark.parametrize("name", ["lda.v1", "nmf.v1"])
def test_save_load_same_predictions(name: str, tiny_texts: list[str], tmp_path) -> None:
    model = make_topic_model(name, n_topics=3, seed=1).fit(tiny_texts)
    model.save(tmp_path / "m")
    assert not list((tmp_path / "m").glob("*.pkl"))
    loaded = load_topic_model(tmp_path / "m")
    assert type(loaded) is get_topic_model_class(name)
    new = ["my nurse was kind", "tablets with side effects", "", "qwerty"]
    assert loaded.transform(new).tolist() == model.transform(new).tolist()
    assert model.transform(new)[2:].tolist() == [-1, -1]  # nothing in the vocabulary: outlier
    np.testing.assert_allclose(loaded.topic_distribution(new), model.topic_distribution(new))
    assert loaded.topic_words(5) == model.topic_words(5)


def test_same_seed_same_topics(tiny_texts: list[str]) -> None:
    a = make_topic_model("lda.v1", n_topics=3, seed=7).fit(tiny_texts)
    b = make_topic_model("lda.v1", n_topics=3, seed=7).fit(tiny_texts)
    assert a.topics_.tolist() == b.topics_.tolist()


def test_more_topics_than_documents_is_capped() -> None:
    model = make_topic_model("nmf.v1", n_topics=10).fit(["kind nurses", "long waiting lists", "tablets and side effects"])
    assert len(model.topic_ids) == 3
    with pytest.raises(ValueError, match="no words left"):
        make_topic_model("lda.v1").fit(["the and of", "it is"])
