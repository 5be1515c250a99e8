"""BERTopic: size rule and seed words (fast); real MiniLM fits in every mode (slow, offline)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from lived_themes.topics.base import load_topic_model
from lived_themes.topics.bertopic_model import BERTopicModel, seed_words, size_rule


def test_size_rule_scales_with_corpus() -> None:
    assert size_rule(50) == {"n_neighbors": 10, "min_cluster_size": 4, "min_samples": 2}
    assert size_rule(12) == {"n_neighbors": 2, "min_cluster_size": 3, "min_samples": 1}
    assert size_rule(6_000)["min_cluster_size"] == 39 and size_rule(6_000)["n_neighbors"] == 15
    assert size_rule(300_000)["min_cluster_size"] == 274 and size_rule(10**8)["min_cluster_size"] == 500


def test_seed_words_from_codebook(tiny_corpus) -> None:
    seeds = seed_words(tiny_corpus.codebook)
    assert seeds[0][:3] == ["kind", "staff", "listen"] and "nurse" in seeds[0]
    assert seeds[2][0] == "medication" and "tablet" in seeds[2]  # label alone is short: definition added


def test_mode_checks(tiny_texts) -> None:
    with pytest.raises(ValueError, match="mode"):
        BERTopicModel(mode="magic").fit(tiny_texts, embeddings=np.zeros((24, 4)))
    with pytest.raises(ValueError, match="needs a codebook"):
        BERTopicModel(mode="guided").fit(tiny_texts, embeddings=np.zeros((24, 4)))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["unsupervised", "guided", "zeroshot", "supervised", "semisupervised"])
def test_modes_find_themes_and_round_trip(mode, tiny_texts, tiny_labels, tiny_theme_ids, tiny_corpus, tmp_path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from lived_themes.coders.embeddings import encode

    embeddings = encode(tiny_texts)
    model = BERTopicModel(mode=mode).fit(tiny_texts, embeddings=embeddings, codebook=tiny_corpus.codebook, labels=tiny_labels)
    assert adjusted_rand_score(tiny_theme_ids, model.topics_) > 0.8
    if mode == "zeroshot":
        assert sorted(model.topic_codes_.values()) == ["medication", "staff", "waiting"]
    again = BERTopicModel(mode=mode).fit(tiny_texts, embeddings=embeddings, codebook=tiny_corpus.codebook, labels=tiny_labels)
    assert again.topics_.tolist() == model.topics_.tolist()  # seeded
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "bertopic" / "topic_embeddings.safetensors").exists()
    loaded = load_topic_model(tmp_path / "m")
    assert loaded.transform(tiny_texts, embeddings=embeddings).tolist() == model.transform(tiny_texts, embeddings=embeddings).tolist()
    assert loaded.topic_words(5) == model.topic_words(5) and loaded.topic_codes_ == model.topic_codes_
