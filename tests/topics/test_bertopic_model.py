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
    from lived_themes.encoders.sentence import encode

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


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["unsupervised", "guided", "zeroshot", "supervised"])
def test_v2_modes_with_minilm(mode, tiny_texts, tiny_labels, tiny_theme_ids, tiny_corpus, tmp_path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from lived_themes.encoders.sentence import encode
    from lived_themes.topics.bertopic_v2 import BERTopicV2Model

    embeddings = encode(tiny_texts)
    model = BERTopicV2Model(mode=mode, n_topics=3).fit(tiny_texts, embeddings=embeddings, codebook=tiny_corpus.codebook, labels=tiny_labels)
    if mode == "zeroshot":  # v4 numbers zero-shot topics in codebook order, whatever the order of the quotes
        from lived_themes.topics.base import make_topic_model

        v4 = make_topic_model("bertopic.v4", mode=mode, n_topics=3).fit(tiny_texts[::-1], embeddings=embeddings[::-1], codebook=tiny_corpus.codebook)
        assert v4.topic_codes_ == {0: "staff", 1: "waiting", 2: "medication"}
        assert v4.topics_[::-1].tolist() == [0] * 8 + [1] * 8 + [2] * 8
    assert adjusted_rand_score(tiny_theme_ids, model.topics_) > 0.8
    model.save(tmp_path / "m")
    loaded = load_topic_model(tmp_path / "m")
    assert loaded.transform(tiny_texts, embeddings=embeddings).tolist() == model.transform(tiny_texts, embeddings=embeddings).tolist()


@pytest.mark.slow
@pytest.mark.parametrize("representation", ["mmr", "keybert"])
def test_v2_representations_offline(representation, tiny_texts, tiny_theme_ids) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from lived_themes.encoders.sentence import encode
    from lived_themes.topics.bertopic_v2 import BERTopicV2Model

    model = BERTopicV2Model(n_topics=3, representation=representation, top_n_words=5).fit(tiny_texts, embeddings=encode(tiny_texts))
    assert adjusted_rand_score(tiny_theme_ids, model.topics_) > 0.8
    assert all(1 <= len(w) <= 5 for w in model.topic_words(10).values())


def _theme_embeddings(theme_ids: np.ndarray, dim: int = 8, seed: int = 0) -> np.ndarray:
    """Three tight clusters: one axis per theme plus a little noise (no encoder needed)."""
    rng = np.random.default_rng(seed)
    emb = np.zeros((len(theme_ids), dim), dtype=np.float32)
    emb[np.arange(len(theme_ids)), theme_ids] = 1.0
    return emb + rng.normal(0, 0.05, emb.shape).astype(np.float32)


def test_v2_checks_and_params() -> None:
    from lived_themes.topics.base import make_topic_model

    for bad, match in (({"clusterer": "dbscan"}, "clusterer"), ({"representation": "llm"}, "representation"),
                       ({"outliers": "drop"}, "outliers"), ({"n_topics": 1}, "n_topics")):
        with pytest.raises(ValueError, match=match):
            make_topic_model("bertopic.v2", **bad)
    params = make_topic_model("bertopic.v2").get_params()
    assert params["n_topics"] is None and params["clusterer"] == "kmeans" and params["umap"] is False and "nr_topics" not in params
    from lived_themes.topics.bertopic_v2 import auto_topics

    assert [auto_topics(n) for n in (3, 48, 1500, 6000)] == [2, 3, 19, 25]
    assert "nr_topics" in make_topic_model("bertopic.v1").get_params()  # v1 keeps its parameters


def test_v2_kmeans_finds_themes_and_round_trips(tiny_texts, tiny_theme_ids, tmp_path) -> None:
    from lived_themes.topics.bertopic_v2 import BERTopicV2Model

    emb = _theme_embeddings(tiny_theme_ids)
    model = BERTopicV2Model(n_topics=3, umap=False, min_df=1).fit(tiny_texts, embeddings=emb)
    assert adjusted_rand_score(tiny_theme_ids, model.topics_) == 1.0 and len(model.topic_ids) == 3
    words = model.topic_words(3)
    assert {"nurse", "wait", "medication"} <= {w for ws in words.values() for w in ws} | {"kind", "tablet", "appointment"}
    assert np.all(model.doc_scores_ > 0.9)  # cosine to the topic's own centroid
    model.save(tmp_path / "m")
    loaded = load_topic_model(tmp_path / "m")
    assert loaded.name == "bertopic.v2" and loaded.get_params() == model.get_params()
    assert loaded.transform(tiny_texts, embeddings=emb).tolist() == model.topics_.tolist()


def test_v2_hdbscan_outliers_moved_to_nearest_topic(tiny_texts, tiny_theme_ids) -> None:
    from lived_themes.topics.bertopic_v2 import BERTopicV2Model

    emb = _theme_embeddings(tiny_theme_ids)
    emb[0] = np.array([0.6, 0, 0, 0, 0, 3.0, 0, 0])  # farther from every cluster than they are apart; nearest (cosine) to the first
    kept = BERTopicV2Model(clusterer="hdbscan", n_topics=None, umap=False, outliers=None, min_df=1, min_cluster_size=4).fit(tiny_texts, embeddings=emb)
    assert (kept.topics_ == -1).any()
    moved = BERTopicV2Model(clusterer="hdbscan", n_topics=None, umap=False, min_df=1, min_cluster_size=4).fit(tiny_texts, embeddings=emb)
    assert not (moved.topics_ == -1).any() and len(moved.topic_ids) == len(kept.topic_ids)
    same = kept.topics_ != -1
    assert moved.topics_[same].tolist() == kept.topics_[same].tolist()
    assert moved.topics_[0] == moved.topics_[1]  # joined the staff topic, its nearest


def test_v2_topic_words_are_lemmas_of_the_quotes_even_with_accents(tiny_texts, tiny_theme_ids) -> None:
    """BERTopic's English preprocessing would turn "café" into "caf" (never in the vocabulary: df 0, inf idf)."""
    from lived_themes.topics.bertopic_v2 import BERTopicV2Model
    from lived_themes.topics.vectorizer import LemmaTokenizer

    texts = [t + " at the café" if i % 3 == 0 else t for i, t in enumerate(tiny_texts)]
    model = BERTopicV2Model(n_topics=3, umap=False, min_df=1).fit(texts, embeddings=_theme_embeddings(tiny_theme_ids))
    lemmas = {w for toks in LemmaTokenizer().many(texts) for w in toks}
    words = {w for ws in model.topic_words(25).values() for w in ws}
    assert "café" in words and words <= lemmas


def test_v3_split_words_seeded_and_round_trip(tiny_texts, tiny_theme_ids, tmp_path) -> None:
    from lived_themes.topics.base import make_topic_model

    emb = _theme_embeddings(tiny_theme_ids)
    model = make_topic_model("bertopic.v3", n_topics=3, min_df=1, word_min_df=1).fit(tiny_texts, embeddings=emb)
    again = make_topic_model("bertopic.v3", n_topics=3, min_df=1, word_min_df=1).fit(tiny_texts, embeddings=emb)
    assert adjusted_rand_score(tiny_theme_ids, model.topics_) == 1.0
    assert again.topics_.tolist() == model.topics_.tolist() and again.topic_words(25) == model.topic_words(25)  # same seed, same topics
    words = model.topic_words(25)
    tails = [w[10:] for w in words.values()]
    assert not set(tails[0]) & set(tails[1]) and not set(tails[1]) & set(tails[2])  # tail words belong to one topic
    assert "words" in model.get_params() and "n_topics" in model.get_params()
    model.save(tmp_path / "m")
    loaded = load_topic_model(tmp_path / "m")
    assert loaded.name == "bertopic.v3" and loaded.topic_words(25) == words
    with pytest.raises(ValueError, match="words"):
        make_topic_model("bertopic.v3", words="magic")


def test_split_words_head_cap_limits_how_many_topics_a_word_heads() -> None:
    """"care" is in every quote of three topics: without a cap it heads all three; with head_cap=1 only the topic
    where it is most widely held keeps it (the study row of benchmarks/topics_ari_study.py)."""
    from scipy import sparse

    from lived_themes.topics.bertopic_v3 import split_words

    vocabulary = ["care", "wait", "food", "staff"]
    rows = [[1, 1, 0, 0]] * 4 + [[1, 0, 1, 0]] * 3 + [[0, 0, 1, 0]] + [[1, 0, 0, 1]] * 2 + [[0, 0, 0, 1]] * 2
    topics = np.array([0] * 4 + [1] * 4 + [2] * 4)
    counts = sparse.csr_matrix(np.array(rows))
    free = split_words(counts, topics, vocabulary, head=2, min_df=1)
    assert all("care" in words[:2] for words in free.values())
    capped = split_words(counts, topics, vocabulary, head=2, min_df=1, head_cap=1)
    assert [t for t, words in capped.items() if "care" in words[:2]] == [0]  # 4/4 of topic 0 against 3/4 and 2/4
    assert capped[1][:1] == ["food"] and capped[2][:1] == ["staff"]
    with pytest.raises(ValueError, match="head_cap"):
        split_words(counts, topics, vocabulary, head_cap=0)


def test_split_words_head_min_lift_and_tail_skipping_heads() -> None:
    """"care" is in 9 of 12 quotes (share 0.75): in topic 0 (4/4) its lift is 1.33, so with head_min_lift=1.5 it heads
    no topic; "wait" (4/4 in topic 0, 4/12 overall: lift 3) still does. With tail_skips_heads a word that heads one
    topic is not listed again in another's tail."""
    from scipy import sparse

    from lived_themes.topics.bertopic_v3 import split_words

    vocabulary = ["care", "wait", "food", "staff"]
    rows = [[1, 1, 0, 0]] * 4 + [[1, 0, 1, 0]] * 3 + [[0, 1, 1, 0]] + [[1, 0, 0, 1]] * 2 + [[0, 0, 0, 1]] * 2
    topics = np.array([0] * 4 + [1] * 4 + [2] * 4)
    counts = sparse.csr_matrix(np.array(rows))
    free = split_words(counts, topics, vocabulary, head=2, min_df=1)
    assert all("care" in words[:2] for words in free.values())
    lifted = split_words(counts, topics, vocabulary, head=2, min_df=1, head_min_lift=1.5)
    # one word per topic reaches the lift, so each head is one word; "care" is left only as topic 0's tail (it owns it)
    assert lifted == {0: ["wait", "care"], 1: ["food"], 2: ["staff"]}
    assert split_words(counts, topics, vocabulary, head=2, min_df=1, head_min_lift=0.0) == free  # 0 is v3's rule
    # "wait" is owned (highest c-TF-IDF) by topic 0 and also heads it; "food" heads topic 1, and topic 1 owns it
    shared = split_words(counts, topics, vocabulary, head=1, min_df=1)
    skipping = split_words(counts, topics, vocabulary, head=1, min_df=1, tail_skips_heads=True)
    heads = {words[0] for words in skipping.values()}
    for topic, words in skipping.items():
        assert not set(words[1:]) & heads and set(words) <= set(shared[topic])


def _with_wordless(texts: list[str], theme_ids: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The tiny corpus plus four quotes with no vocabulary word (stop words only), embedded between the themes."""
    extra = ["Nothing.", "No", "n/a", "Nothing at all"]
    emb = _theme_embeddings(theme_ids)
    rng = np.random.default_rng(1)
    # near the themes, so k-means alone would scatter them among the themes' topics
    blanks = np.vstack([emb[i * 8] + rng.normal(0, 0.05, emb.shape[1]) for i in (0, 1, 2, 0)]).astype(np.float32)
    return [*texts, *extra], np.vstack([emb, blanks]), np.r_[theme_ids, [3] * len(extra)]


def test_v4_gives_wordless_quotes_their_own_topic_and_round_trips(tiny_texts, tiny_theme_ids, tmp_path) -> None:
    from lived_themes.errors import ModelFileError
    from lived_themes.topics.base import make_topic_model
    from lived_themes.topics.bertopic_v4 import WORDLESS_LABEL

    texts, emb, truth = _with_wordless(tiny_texts, tiny_theme_ids)
    model = make_topic_model("bertopic.v4", n_topics=4, min_df=1, word_min_df=1).fit(texts, embeddings=emb)
    assert adjusted_rand_score(truth, model.topics_) == 1.0 and len(model.topic_ids) == 4  # n_topics, wordless one included
    wordless = model.wordless_topic_id_
    assert set(model.topics_[-4:].tolist()) == {wordless} and wordless not in model.topics_[:-4]
    assert model.topic_words(25)[wordless] == [] and model.topic_label(wordless) == f"{wordless}: {WORDLESS_LABEL}"
    assert all(model.topic_words(25)[t] for t in model.topic_ids if t != wordless)
    again = make_topic_model("bertopic.v4", n_topics=4, min_df=1, word_min_df=1).fit(texts, embeddings=emb)
    assert again.topics_.tolist() == model.topics_.tolist() and again.topic_words(25) == model.topic_words(25)
    # a new quote with no vocabulary word goes to that topic even where its embedding sits in a theme's cluster
    new = ["None whatsoever", "the nurse was kind"]
    new_emb = np.vstack([emb[8], emb[0]])
    assigned = model.transform(new, embeddings=new_emb).tolist()
    assert assigned == [wordless, model.topics_[0]]
    assert model.transform(texts, embeddings=emb).tolist() == model.topics_.tolist()
    model.save(tmp_path / "m")
    loaded = load_topic_model(tmp_path / "m")
    assert loaded.name == "bertopic.v4" and loaded.get_params() == model.get_params() and loaded.wordless_topic_id_ == wordless
    assert loaded.transform(new, embeddings=new_emb).tolist() == assigned and loaded.topic_words(25) == model.topic_words(25)
    (tmp_path / "m" / "vocabulary.json").write_text('{"vocabulary": "nurse", "wordless_topic": 0}', encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"vocabulary\.json.*vocabulary"):
        load_topic_model(tmp_path / "m")
    (tmp_path / "m" / "vocabulary.json").write_text('{"vocabulary": ["nurse"], "wordless_topic": 99}', encoding="utf-8")
    with pytest.raises(ModelFileError, match="wordless_topic"):
        load_topic_model(tmp_path / "m")
    with pytest.raises(ValueError, match="head_min_lift"):
        make_topic_model("bertopic.v4", head_min_lift=-1)


def test_v4_without_the_wordless_topic_clusters_every_quote(tiny_texts, tiny_theme_ids) -> None:
    """``wordless_topic: false`` (and every mode but unsupervised k-means) clusters all quotes, as v3 does."""
    from lived_themes.topics.base import make_topic_model

    texts, emb, _ = _with_wordless(tiny_texts, tiny_theme_ids)
    off = make_topic_model("bertopic.v4", n_topics=3, min_df=1, word_min_df=1, wordless_topic=False).fit(texts, embeddings=emb)
    v3 = make_topic_model("bertopic.v3", n_topics=3, min_df=1, word_min_df=1).fit(texts, embeddings=emb)
    assert off.wordless_topic_id_ is None and off.topics_.tolist() == v3.topics_.tolist()
    assert adjusted_rand_score(tiny_theme_ids, off.topics_[:-4]) == 1.0
    hdbscan = make_topic_model("bertopic.v4", clusterer="hdbscan", min_df=1, word_min_df=1, min_cluster_size=4).fit(texts, embeddings=emb)
    assert hdbscan.wordless_topic_id_ is None


def test_v4_codebook_order_renumbers_topics_and_keeps_everything_in_step(tiny_texts, tiny_theme_ids) -> None:
    """Zero-shot topics are numbered in codebook order; assignments, topic embeddings, words and codes move together."""
    from lived_themes.topics.base import make_topic_model

    emb = _theme_embeddings(tiny_theme_ids)
    model = make_topic_model("bertopic.v4", n_topics=3, min_df=1, word_min_df=1).fit(tiny_texts, embeddings=emb)
    by_theme = {theme: int(model.topics_[tiny_theme_ids == i][0]) for i, theme in enumerate(["staff", "waiting", "medication"])}
    words = {theme: model.topic_words(25)[t] for theme, t in by_theme.items()}
    model.topic_codes_ = {by_theme["medication"]: "medication", by_theme["staff"]: "staff"}  # as zero-shot sets them
    model._codebook_order(["staff", "waiting", "medication"])
    assert model.topic_codes_ == {0: "staff", 1: "medication"}  # coded topics first, in codebook order; "waiting" found none
    assert model.topics_.tolist() == [0] * 8 + [2] * 8 + [1] * 8
    assert model.topic_words(25) == {0: words["staff"], 1: words["medication"], 2: words["waiting"]}
    assert model.transform(tiny_texts, embeddings=emb).tolist() == model.topics_.tolist()
    assert {new: old for new, old in model.bertopic_ids_.items()} == {0: by_theme["staff"], 1: by_theme["medication"], 2: by_theme["waiting"]}
