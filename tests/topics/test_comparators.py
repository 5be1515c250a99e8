"""KeyNMF, S³ and FASTopic (the topics-extra comparators) behind the topic-model interface, on the tiny three-theme corpus.

FASTopic reads embeddings precomputed by a fake encoder (each quote's theme direction plus a little
noise); KeyNMF and S³ put quote and word vectors in one space, so both come from the offline hashing
encoder.
Nothing is downloaded and each fit takes well under a second (FASTopic with a few epochs) once the
packages are imported. Skipped where the extra is not installed.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from lived_themes.config.topics import TopicModelSpec
from lived_themes.registry import get_topic_model_class
from lived_themes.topics.base import load_topic_model, make_topic_model

HAS_TURFTOPIC = importlib.util.find_spec("turftopic") is not None
HAS_FASTOPIC = importlib.util.find_spec("fastopic") is not None
needs_turftopic = pytest.mark.skipif(not HAS_TURFTOPIC, reason="turftopic not installed (lived-themes[topics-extra])")
needs_fastopic = pytest.mark.skipif(not HAS_FASTOPIC, reason="fastopic not installed (lived-themes[topics-extra])")

ENCODER = "hashing:64"
FAST = {"fastopic.v1": {"epochs": 30}}
SAME_SPACE = ("keynmf.v1", "s3.v1")
MODELS = [
    pytest.param("keynmf.v1", marks=needs_turftopic),
    pytest.param("s3.v1", marks=needs_turftopic),
    pytest.param("fastopic.v1", marks=needs_fastopic),
]


def theme_embeddings(theme_ids: np.ndarray, *, dim: int = 64, seed: int = 0) -> np.ndarray:
    """Unit vectors near one random direction per theme: what a good encoder gives three clear themes."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(theme_ids.max() + 1, dim))
    out = centres[theme_ids] + 0.3 * rng.normal(size=(len(theme_ids), dim))
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def fit(name: str, texts: list[str], embeddings: np.ndarray, **params: object):
    """Fit with the theme embeddings; KeyNMF and S³ with the hashing encoder's, so their word and quote vectors share one space."""
    shared = None if name in SAME_SPACE else embeddings
    return make_topic_model(name, n_topics=3, encoder=ENCODER, **{**FAST.get(name, {}), **params}).fit(texts, embeddings=shared)


@pytest.mark.parametrize("name", MODELS)
def test_finds_the_three_themes(name: str, tiny_texts: list[str], tiny_theme_ids: np.ndarray) -> None:
    model = fit(name, tiny_texts, theme_embeddings(tiny_theme_ids))
    assert model.uses_embeddings
    assert len(model.topics_) == len(tiny_texts) and len(model.doc_scores_) == len(tiny_texts)
    assigned = model.topics_ != -1
    if name != "s3.v1":  # S³'s topics are axes, not clusters: on three themes its strongest axis per quote mixes them
        assert adjusted_rand_score(tiny_theme_ids[assigned], model.topics_[assigned]) > 0.8
    words = model.topic_words(5)
    assert sorted(words) == [0, 1, 2] and all(len(w) == 5 for w in words.values())
    vocabulary = {w for ws in words.values() for w in ws}
    assert vocabulary <= set(model.vocabulary_)  # lemmas of the package's vectorizer ("nurses" -> "nurse")
    for topic, docs in model.representative_docs(2).items():
        assert all(model.topics_[i] == topic for i in docs)


@pytest.mark.parametrize("name", MODELS)
def test_same_seed_same_topics(name: str, tiny_texts: list[str], tiny_theme_ids: np.ndarray) -> None:
    emb = theme_embeddings(tiny_theme_ids)
    a, b = fit(name, tiny_texts, emb, seed=3), fit(name, tiny_texts, emb, seed=3)
    assert a.topics_.tolist() == b.topics_.tolist()
    assert a.topic_words(10) == b.topic_words(10)


@pytest.mark.parametrize("name", MODELS)
def test_save_load_same_predictions(name: str, tiny_texts: list[str], tiny_theme_ids: np.ndarray, tmp_path) -> None:
    emb = theme_embeddings(tiny_theme_ids)
    model = fit(name, tiny_texts, emb)
    shared = None if name in SAME_SPACE else emb
    assert (model.transform(tiny_texts, embeddings=shared) == model.topics_).mean() > 0.9  # transform follows the fit
    model.save(tmp_path / "m")
    assert not list((tmp_path / "m").glob("*.pkl"))
    loaded = load_topic_model(tmp_path / "m")
    assert type(loaded) is get_topic_model_class(name) and loaded.get_params() == model.get_params()
    new = ["my nurse was kind", "tablets with side effects", "", "qwerty"]  # embedded by the hashing encoder
    assert loaded.transform(new).tolist() == model.transform(new).tolist()
    assert loaded.topic_words(5) == model.topic_words(5)
    assert model.transform([]).tolist() == []


@needs_turftopic
def test_keynmf_quote_without_vocabulary_is_an_outlier(tiny_texts: list[str], tiny_theme_ids: np.ndarray) -> None:
    texts = [*tiny_texts, "qwerty zxcvb", "kind"]  # no lemma in 2+ quotes; one lemma (turftopic 0.28 would drop it)
    model = fit("keynmf.v1", texts, None, min_df=2)
    assert model.topics_[-2] == -1 and model.topics_[-1] != -1
    assert model.transform(["qwerty", "the nurses were kind"]).tolist()[0] == -1


def test_registered_and_configurable() -> None:
    for name in ("keynmf.v1", "s3.v1", "fastopic.v1"):
        spec = TopicModelSpec(name=name, params={"n_topics": 5, "seed": 1})
        assert spec.name == name
        assert get_topic_model_class(name).uses_embeddings
    with pytest.raises(ValueError, match="n_topics"):
        make_topic_model("s3.v1", n_topics=1)
    with pytest.raises(ValueError, match="feature_importance"):
        make_topic_model("s3.v1", feature_importance="both")
    with pytest.raises(ValueError, match="top_n"):
        make_topic_model("keynmf.v1", top_n=0)


def test_missing_extra_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tiny_texts: list[str], tiny_theme_ids: np.ndarray) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "fastopic", None)  # import fastopic -> ImportError, as when not installed
    model = make_topic_model("fastopic.v1", n_topics=3, encoder=ENCODER)
    with pytest.raises(ImportError, match=r"fastopic\.v1.*pip install 'lived-themes\[topics-extra\]'"):
        model.fit(tiny_texts, embeddings=theme_embeddings(tiny_theme_ids))


@pytest.mark.parametrize("name", MODELS)
def test_too_few_quotes(name: str) -> None:
    with pytest.raises(ValueError, match="more than"):
        make_topic_model(name, n_topics=3, encoder=ENCODER).fit(["a nurse", "a wait", "a tablet"])
