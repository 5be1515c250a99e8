"""TopicCoder: a topic model as one more coder, saved without pickle and loaded by the shared loader."""

from __future__ import annotations

import numpy as np
import pytest

from lived_themes.coders.base import load_coder
from lived_themes.registry import make_coder
from lived_themes.topics.coder import TopicCoder
from lived_themes.topics.sklearn_models import NMFTopicModel


def test_fit_predict_save_load(tiny_texts, tiny_labels, tiny_codes, tmp_path) -> None:
    coder = make_coder("topic-coder.v1", topic_model="lda.v1", topic_params={"n_topics": 3})
    coder.fit(tiny_texts, tiny_labels, tiny_codes)
    proba = coder.predict_proba(tiny_texts)
    assert proba.shape == (24, 3) and ((proba >= 0) & (proba <= 1)).all()
    assert (coder.predict(tiny_texts) == tiny_labels).mean() > 0.9
    coder.save(tmp_path / "c")
    assert not [p for p in (tmp_path / "c").rglob("*") if p.suffix in (".pkl", ".pickle", ".joblib")]
    loaded = load_coder(tmp_path / "c")
    assert isinstance(loaded, TopicCoder) and loaded.get_params() == coder.get_params()
    new = ["the nurse was kind", "waiting for an appointment"]
    np.testing.assert_allclose(loaded.predict_proba(new), coder.predict_proba(new))
    np.testing.assert_array_equal(loaded.thresholds_, coder.thresholds_)


def test_rates_from_topics_by_hand(tiny_texts, tiny_codes) -> None:
    model = NMFTopicModel(n_topics=3).fit(tiny_texts)
    labels = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0], [np.nan] * 3])
    coder = TopicCoder(smoothing=1.0, tune=False).fit_on_topics(model, [0, 0, 1, 1], labels, tiny_codes)
    base = np.array([2 / 3, 1 / 3, 0.0])
    scores = coder._scores(np.array([0, 1, 9]))
    np.testing.assert_allclose(scores[0], (np.array([2, 1, 0]) + base) / 3)
    np.testing.assert_allclose(scores[1], (np.array([0, 0, 0]) + base) / 2)
    np.testing.assert_allclose(scores[2], base)  # a topic never seen in training: the overall rate
    assert coder.get_params()["topic_model"] == "nmf.v1"


def test_needs_labels(tiny_texts, tiny_codes) -> None:
    with pytest.raises(ValueError, match="needs training labels"):
        TopicCoder(topic_model="lda.v1").fit(tiny_texts, None, tiny_codes)
