"""bertopic-online.v1: every quote assigned (not just the last chunk), chunked encoding, one cache file per chunk, round trip.

Offline and fast: the tiny corpus with clean theme embeddings, or the ``hashing`` null encoder.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from lived_themes.encoders.sentence import CHUNK_DIR, HashingEncoder, encode, encode_chunk
from lived_themes.topics.base import load_topic_model, make_topic_model
from lived_themes.topics.online import OnlineBERTopicModel, chunk_bounds


def _theme_embeddings(theme_ids: np.ndarray, dim: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    emb = np.zeros((len(theme_ids), dim), dtype=np.float32)
    emb[np.arange(len(theme_ids)), theme_ids] = 1.0
    return emb + rng.normal(0, 0.05, emb.shape).astype(np.float32)


def _shuffled(tiny_texts: list[str], tiny_theme_ids: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Themes interleaved, so every chunk holds all three (as in a real corpus, not sorted by theme)."""
    order = np.random.default_rng(1).permutation(len(tiny_texts))
    return [tiny_texts[i] for i in order], tiny_theme_ids[order]


def test_checks_and_defaults() -> None:
    for bad, match in (({"n_topics": 1}, "n_topics"), ({"chunk_size": 1}, "chunk_size"), ({"decay": 1.5}, "decay"),
                       ({"n_components": 0}, "n_components")):
        with pytest.raises(ValueError, match=match):
            make_topic_model("bertopic-online.v1", **bad)
    with pytest.raises(ValueError, match="chunk_size .* at least the number of topics"):
        OnlineBERTopicModel(n_topics=5, chunk_size=4).fit(["a b"] * 10, embeddings=np.eye(10, 8))
    params = make_topic_model("bertopic-online.v1").get_params()
    assert params["chunk_size"] == 10_000 and params["n_topics"] is None and params["decay"] is None
    assert OnlineBERTopicModel.uses_embeddings is False  # a runner must not build the whole matrix for it


def test_chunk_bounds_fold_a_short_tail_into_the_last_chunk() -> None:
    assert chunk_bounds(25, 10, 3) == [(0, 10), (10, 20), (20, 25)]
    assert chunk_bounds(21, 10, 3) == [(0, 10), (10, 21)]
    assert chunk_bounds(5, 10, 3) == [(0, 5)]
    assert chunk_bounds(0, 10, 3) == []


def test_every_quote_is_assigned_not_only_the_last_chunk(tiny_texts, tiny_theme_ids, tmp_path) -> None:
    texts, theme_ids = _shuffled(tiny_texts, tiny_theme_ids)
    emb = _theme_embeddings(theme_ids)
    model = OnlineBERTopicModel(n_topics=3, chunk_size=8, n_components=3).fit(texts, embeddings=emb)
    assert model.topics_.shape == (24,) and adjusted_rand_score(theme_ids, model.topics_) == 1.0
    assert len(model.topic_ids) == 3 and model.model_ is None
    words = {w for ws in model.topic_words(4).values() for w in ws}
    assert {"nurse", "wait", "medication"} & words and {"kind", "appointment", "tablet"} & words
    assert np.all((model.doc_scores_ > 0) & (model.doc_scores_ <= 1))
    assert model.transform(texts, embeddings=emb).tolist() == model.topics_.tolist()
    loaded = load_topic_model(model.save(tmp_path / "m"))
    assert loaded.name == "bertopic-online.v1" and loaded.get_params() == model.get_params()
    assert loaded.transform(texts, embeddings=emb).tolist() == model.topics_.tolist()
    assert loaded.topic_words(5) == model.topic_words(5)
    again = OnlineBERTopicModel(n_topics=3, chunk_size=8, n_components=3).fit(texts, embeddings=emb)
    assert again.topics_.tolist() == model.topics_.tolist()  # seeded


class _CountingEncoder(HashingEncoder):
    """The hashing encoder, recording how many texts each call was given."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def encode(self, sentences, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.calls.append(len(sentences))
        return super().encode(sentences, *args, **kwargs)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> _CountingEncoder:
    from lived_themes.encoders import sentence as embeddings

    encoder = _CountingEncoder()
    monkeypatch.setattr(embeddings, "load_sentence_encoder", lambda name=None, device=None: encoder)
    return encoder


def test_encodes_one_chunk_at_a_time_and_once_per_chunk(tiny_texts, tiny_theme_ids, counting, tmp_path) -> None:
    texts, _ = _shuffled(tiny_texts, tiny_theme_ids)
    model = OnlineBERTopicModel(encoder="hashing", n_topics=3, chunk_size=8).fit(texts)
    assert counting.calls == [8, 8, 8]  # never more than a chunk; the final pass reads the fit's temporary copies

    counting.calls.clear()
    cache = tmp_path / "cache"
    cached = OnlineBERTopicModel(encoder="hashing", n_topics=3, chunk_size=8, embedding_cache=str(cache)).fit(texts)
    assert counting.calls == [8, 8, 8] and cached.topics_.tolist() == model.topics_.tolist()
    assert len(list((cache / CHUNK_DIR).glob("*.npy"))) == 3 and not list((cache / CHUNK_DIR).glob("*.partial"))
    counting.calls.clear()
    OnlineBERTopicModel(encoder="hashing", n_topics=3, chunk_size=8, embedding_cache=str(cache)).fit(texts)
    assert counting.calls == []  # every chunk read back from disk
    assert model.transform(texts).tolist() == model.topics_.tolist()


def test_encode_chunk_matches_encode_and_encodes_repeats_once(counting, tmp_path) -> None:
    texts = ["kind staff", "a long wait", "kind staff", "tablets"]
    block = encode_chunk(texts, encoder="hashing", cache_dir=tmp_path)
    assert counting.calls == [3]
    np.testing.assert_array_equal(block, encode(texts, encoder="hashing"))
    np.testing.assert_array_equal(encode_chunk(texts, encoder="hashing", cache_dir=tmp_path), block)
    assert counting.calls[0] == 3 and encode_chunk([], encoder="hashing").shape[0] == 0


def test_topic_run_with_the_online_mode(tiny_corpus, tmp_path) -> None:
    """Through the topic runner: the run's tables are written; BERTopic's HTML figures (which re-read every quote) are not."""
    import pandas as pd

    from lived_themes.corpus import save_corpus
    from lived_themes.experiment.topics.pipeline import run_topics

    save_corpus(tiny_corpus, tmp_path / "corpus")
    models = [{"name": "bertopic-online.v1", "label": "online", "params": {"encoder": "hashing", "n_topics": 3, "chunk_size": 8}}]
    config = {"name": "tiny", "data": str(tmp_path / "corpus"), "groups": ["site"], "models": models, "outputs": {"png": False}}
    run = run_topics(config, out_dir=tmp_path / "run")
    assert pd.read_csv(run / "alignment.csv")["model"].tolist() == ["online"]
    assert len(pd.read_csv(run / "online" / "assignments.csv")) == 24 and not (run / "online" / "figures").exists()
    assert (run / "online" / "model" / "online_state.npz").exists()
