"""The coder contract over EVERY registered name: pinned defaults, and fit -> scores -> codes -> save -> load.

A registered name is a promise that its results do not change: a default that changes results needs
a new version name, so each name's defaults are pinned here. New registered names run the
conformance test automatically (as ``slow`` until a light configuration is added to ``LIGHT``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lived_themes.codebook import Code, Codebook
from lived_themes.coders import Coder, load_coder
from lived_themes.registry import CODERS, TOPIC_MODELS, get_coder_class, get_topic_model_class, make_coder

PINNED_DEFAULTS = {
    "majority.v1": {},
    "tfidf-logreg.v1": {"min_df": 1, "max_ngram": 2, "max_features": None, "C": 1.0, "max_iter": 1000, "tune": True,
                        "inner_folds": 3, "seed": 0, "solver": "lbfgs", "char_ngrams": None,
                        "context_columns": None},
    "tfidf-logreg.v2": {"min_df": 1, "max_ngram": 2, "max_features": None, "C": 1.0, "max_iter": 1000, "tune": True,
                        "inner_folds": 3, "seed": 0, "solver": "liblinear", "char_ngrams": None,
                        "context_columns": None},
    "tfidf-svm.v1": {"min_df": 2, "max_ngram": 2, "max_features": None, "C": 0.1, "class_weight": "balanced", "max_iter": 2000,
                     "tune": True, "inner_folds": 3, "seed": 0, "char_ngrams": [2, 5], "context_columns": None},
    "tfidf-gbm.v1": {"min_df": 2, "max_ngram": 2, "max_features": 20000, "n_estimators": 200, "learning_rate": 0.1, "num_leaves": 15,
                     "min_child_samples": 10, "colsample": 0.3, "balanced": True, "n_jobs": 2, "tune": True, "inner_folds": 3,
                     "seed": 0, "context_columns": None},
    "codebook-similarity.v1": {"encoder": None, "threshold": 0.3, "top_k": None, "aggregate": "max", "scoring": "cosine",
                               "temperature": 0.05, "use_examples": True, "tune": False, "device": None},
    "transformer.v1": {"encoder": "all-MiniLM-L6-v2", "max_length": 128, "batch_size": 16, "predict_batch_size": 64, "epochs": 3,
                       "lr_encoder": 0.0001, "lr_head": 0.002, "weight_decay": 0.01, "warmup_fraction": 0.1, "loss": "bce",
                       "focal_gamma": 2.0, "class_weight": "balanced", "max_pos_weight": 10.0, "grad_accumulation": 1, "patience": 1,
                       "validation_fraction": 0.1, "validation_group": None, "context_columns": None, "mixed_precision": True,
                       "seed": 0, "device": None, "max_steps": None,
                       # knobs added for the ablation; these defaults keep v1's behaviour (no layer decay, thresholds tuned)
                       "layer_decay": 1.0, "tune": True},
    "setfit.v1": {"encoder": "all-MiniLM-L6-v2", "num_iterations": 20, "num_epochs": 1, "batch_size": 16, "body_learning_rate": 2e-05,
                  "max_length": 128, "class_weight": "balanced", "C": 1.0, "context_columns": None, "mixed_precision": True, "seed": 0,
                  "device": None, "max_steps": -1},
    "topic-coder.v1": {"topic_model": "bertopic.v1", "topic_params": None, "smoothing": 1.0, "tune": True},
    "bertopic.v2": {"encoder": None, "mode": "unsupervised", "n_topics": None, "clusterer": "kmeans", "umap": False, "n_neighbors": None,
                    "n_components": 5, "min_cluster_size": None, "min_samples": None, "outliers": "embeddings", "min_df": None,
                    "max_df": 0.95, "ngram_range": (1, 1), "reduce_frequent_words": False, "representation": "ctfidf",
                    "mmr_diversity": 0.3, "top_n_words": 25, "zeroshot_min_similarity": 0.4, "spacy_pipeline": "blank:en", "seed": 42,
                    "device": None},
    "bertopic.v3": {"encoder": None, "mode": "unsupervised", "n_topics": None, "clusterer": "kmeans", "umap": False, "n_neighbors": None,
                    "n_components": 5, "min_cluster_size": None, "min_samples": None, "outliers": "embeddings", "min_df": None,
                    "max_df": 0.95, "ngram_range": (1, 1), "reduce_frequent_words": False, "representation": "ctfidf",
                    "mmr_diversity": 0.3, "top_n_words": 25, "zeroshot_min_similarity": 0.4, "spacy_pipeline": "blank:en", "seed": 42,
                    "device": None, "words": "split", "head_words": 10, "word_min_df": 5},
    "bertopic.v4": {"encoder": None, "mode": "unsupervised", "n_topics": None, "clusterer": "kmeans", "umap": False, "n_neighbors": None,
                    "n_components": 5, "min_cluster_size": None, "min_samples": None, "outliers": "embeddings", "min_df": None,
                    "max_df": 0.95, "ngram_range": (1, 1), "reduce_frequent_words": False, "representation": "ctfidf",
                    "mmr_diversity": 0.3, "top_n_words": 25, "zeroshot_min_similarity": 0.4, "spacy_pipeline": "blank:en", "seed": 42,
                    "device": None, "words": "split", "head_words": 10, "word_min_df": 5, "wordless_topic": True, "head_min_lift": 2.0},
    "bertopic-online.v1": {"encoder": None, "n_topics": None, "chunk_size": 10_000, "n_components": 5, "decay": None, "delete_min_df": None,
                           "top_n_words": 25, "spacy_pipeline": "blank:en", "embedding_cache": None, "seed": 42, "device": None},
    "bertopic.v1": {"encoder": None, "mode": "unsupervised", "n_neighbors": None, "n_components": 5, "min_cluster_size": None,
                    "min_samples": None, "nr_topics": None, "top_n_words": 25, "zeroshot_min_similarity": 0.4,
                    "spacy_pipeline": "blank:en", "seed": 42, "device": None},
    "lda.v1": {"n_topics": 10, "max_iter": 200, "min_df": None, "max_df": 0.95, "spacy_pipeline": "blank:en", "seed": 42},
    "nmf.v1": {"n_topics": 10, "max_iter": 200, "min_df": None, "max_df": 0.95, "spacy_pipeline": "blank:en", "seed": 42},
    "keynmf.v1": {"n_topics": 10, "top_n": 25, "encoder": None, "min_df": None, "max_df": 0.95, "top_n_words": 25,
                  "spacy_pipeline": "blank:en", "seed": 42, "device": None},
    "s3.v1": {"n_topics": 10, "feature_importance": "combined", "max_iter": 200, "encoder": None, "min_df": None, "max_df": 0.95,
              "top_n_words": 25, "spacy_pipeline": "blank:en", "seed": 42, "device": None},
    "fastopic.v1": {"n_topics": 10, "epochs": 200, "learning_rate": 0.002, "dt_alpha": 3.0, "tw_alpha": 2.0, "theta_temp": 1.0,
                    "encoder": None, "min_df": None, "max_df": 0.95, "top_n_words": 25, "spacy_pipeline": "blank:en", "seed": 42,
                    "device": None},
    "setfit.v2": {"encoder": "all-MiniLM-L6-v2", "num_iterations": 20, "num_epochs": 1, "batch_size": 16, "body_learning_rate": 2e-05,
                  "max_length": 128, "class_weight": "balanced", "C": 1.0, "context_columns": None, "mixed_precision": True, "seed": 0,
                  "device": None, "max_steps": -1, "max_pairs": 4000, "validation_fraction": 0.2, "validation_group": None},
    "knn.v1": {"encoder": None, "k": 10, "weighting": "similarity", "temperature": 0.05, "tune": True, "context_columns": None,
               "id_column": "quote_id", "device": None},
    "embedding-logreg.v1": {"encoder": None, "C": 10.0, "max_iter": 2000, "tune": True, "inner_folds": 3, "context_columns": None,
                            "batch_size": 64, "device": None, "seed": 0},
    "ensemble.v1": {"members": None, "combine": "mean", "weights": None, "calibration": None, "inner_folds": 3, "inner_group": None,
                    "tune": True, "seed": 0, "stack_C": 1.0},
    "calibrated.v1": {"coder": "tfidf-logreg.v1", "method": "platt", "max_ece": None, "inner_folds": 3, "inner_group": None, "seed": 0},
    "tuned.v1": {"coder": "tfidf-logreg.v1", "inner_folds": 3, "inner_group": None, "seed": 0},
    "llm.v1": {"backend": "http", "model": None, "base_url": "http://127.0.0.1:8080/v1", "allow_remote": False, "api_key_env": None,
               "k": 8, "encoder": None, "codebook_examples": True, "n_samples": 1, "temperature": 0.0, "max_new_tokens": 256,
               "require_span": True, "tune": True, "timeout": 60.0, "max_retries": 2, "batch_size": 4, "cache_dir": None,
               "redact": False, "redact_pipeline": None, "device": None, "seed": 0},
}


#: Every coder takes the decision parameters (``coders/decision.py``); their defaults give the old behaviour.
DECISION_DEFAULTS = {"label_mode": "multi", "top_k": None}
for _name in CODERS:
    PINNED_DEFAULTS[_name] = {**PINNED_DEFAULTS[_name], **DECISION_DEFAULTS}


def _signature_defaults(cls: type) -> dict:
    """Defaults read from the constructor signature: no instance, so no weights are ever touched."""
    import inspect

    from lived_themes.registry import constructor_params

    signature = inspect.signature(cls.__init__)
    return {k: signature.parameters[k].default for k in constructor_params(cls)}


@pytest.mark.parametrize("name", sorted({**CODERS, **TOPIC_MODELS}))
def test_every_registered_name_has_pinned_defaults(name: str) -> None:
    assert name in PINNED_DEFAULTS, f"{name} is registered but its defaults are not pinned here"
    cls = get_coder_class(name) if name in CODERS else get_topic_model_class(name)
    assert _signature_defaults(cls) == PINNED_DEFAULTS[name], (
        f"{name}: a default changed; a change that alters results needs a new version name")


def test_get_params_reports_the_constructor_defaults() -> None:
    for name in ("majority.v1", "tfidf-logreg.v1", "tfidf-logreg.v2", "codebook-similarity.v1", "topic-coder.v1", "lda.v1", "nmf.v1",
                 "bertopic-online.v1", "keynmf.v1", "s3.v1", "fastopic.v1"):
        cls = get_coder_class(name) if name in CODERS else get_topic_model_class(name)
        assert cls().get_params() == PINNED_DEFAULTS[name], name


# ----- conformance: fit tiny data -> scores -> codes -> save -> load -> same scores ------------------
THEMES = {
    "access": ["I waited months for an appointment", "the waiting list was a year long", "no appointment and a long wait",
               "waiting for a referral letter for months", "the wait for therapy was too long", "another long wait"],
    "relationship": ["my nurse listened and was kind", "staff were kind and listened", "the doctor listened to me",
                     "kind staff who listen", "she listened without judging me", "a kind nurse listened"],
    "crisis": ["the crisis team never came at night", "in crisis at night nobody answered", "crisis line at night helped",
               "a crisis and no help at night", "at night in crisis I went to A&E", "crisis care at night failed"],
}
CODES = list(THEMES)
TEXTS = [t for texts in THEMES.values() for t in texts]
LABELS = np.array([[1.0 if c == theme else 0.0 for c in CODES] for theme, texts in THEMES.items() for _ in texts])
BOOK = Codebook(name="tiny", version="1", codes=[
    Code(id="access", label="Access", definition="waiting and appointments", examples=["a long wait"]),
    Code(id="relationship", label="Relationship", definition="staff who listen and are kind"),
    Code(id="crisis", label="Crisis", definition="crisis care at night"),
])

#: Light, offline settings per registered name; names missing here still run, as slow tests.
LIGHT = {
    "majority.v1": {},
    "tfidf-logreg.v1": {},
    "tfidf-logreg.v2": {},
    "tfidf-svm.v1": {"inner_folds": 2},
    "tfidf-gbm.v1": {"n_estimators": 10, "min_child_samples": 2, "min_df": 1, "inner_folds": 2},
    "embedding-logreg.v1": {"encoder": "hashing", "inner_folds": 2},
    "codebook-similarity.v1": {"encoder": "hashing"},
    "topic-coder.v1": {"topic_model": "lda.v1", "topic_params": {"n_topics": 3, "max_iter": 20}},
    "lda.v1": {"n_topics": 3, "max_iter": 20},
    "nmf.v1": {"n_topics": 3, "max_iter": 50},
    "bertopic-online.v1": {"encoder": "hashing", "n_topics": 3, "chunk_size": 8},
    "llm.v1": {"encoder": "hashing", "k": 3, "timeout": 5.0},  # base_url: the fake local server the test starts
}
HEAVY = {
    "transformer.v1": {"max_steps": 1, "device": "cpu", "mixed_precision": False},
    "setfit.v1": {"max_steps": 1, "num_iterations": 1, "device": "cpu", "mixed_precision": False},
    "bertopic.v1": {"encoder": "hashing"},
}


#: topic models whose package comes with lived-themes[topics-extra] only
TOPIC_EXTRA = {"keynmf.v1": "turftopic", "s3.v1": "turftopic", "fastopic.v1": "fastopic"}


def _cases(table: dict) -> list:
    return [pytest.param(name, marks=[] if name in LIGHT else [pytest.mark.slow]) for name in sorted(table)]


@pytest.mark.parametrize("name", _cases(CODERS))
def test_coder_conformance(name: str, tmp_path) -> None:
    if name == "llm.v1":  # answered by a fake OpenAI-compatible server on 127.0.0.1, no model
        import importlib.util

        spec = importlib.util.spec_from_file_location("fake_llm", Path(__file__).with_name("fake_llm.py"))
        fake = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(fake)
        with fake.fake_server() as (url, _):
            return _conformance(name, {**LIGHT[name], "base_url": url}, tmp_path)
    _conformance(name, LIGHT.get(name, HEAVY.get(name, {})), tmp_path)


def _conformance(name: str, light: dict, tmp_path) -> None:
    coder = make_coder(name, **light)
    assert isinstance(coder, Coder) and coder.name == name
    params = coder.get_params()
    json.dumps(params)  # recorded in config.yaml and coder.json
    assert type(coder)(**params).get_params() == params
    coder.fit(TEXTS, LABELS, CODES, codebook=BOOK)
    assert coder.codes_ == CODES and coder.thresholds_.shape == (len(CODES),)

    texts = [*TEXTS, "something about nothing in particular"]
    scores = coder.predict_proba(texts)
    assert scores.shape == (len(texts), len(CODES))
    assert np.isfinite(scores).all() and scores.min() >= 0.0 and scores.max() <= 1.0
    codes = coder.predict(texts)
    assert set(np.unique(codes)) <= {0, 1}
    np.testing.assert_array_equal(codes, coder.codes_from_scores(scores))  # the one rule, whoever holds the scores

    folder = coder.save(tmp_path / "model")
    settings = {key: light[key] for key in type(coder).runtime_params if key in light}  # where text goes: the user's, at load
    loaded = load_coder(folder, settings=settings)
    assert type(loaded) is type(coder) and loaded.get_params() == params and loaded.codes_ == CODES
    np.testing.assert_allclose(loaded.predict_proba(texts), scores, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(loaded.predict(texts), codes)


@pytest.mark.parametrize("name", _cases(TOPIC_MODELS))
def test_topic_model_conformance(name: str, tmp_path) -> None:
    from lived_themes.topics.base import load_topic_model, make_topic_model
    from lived_themes.topics.coder import TopicCoder

    if name in TOPIC_EXTRA:  # lived-themes[topics-extra] is not part of [all]: CI and `make install` do not have it
        pytest.importorskip(TOPIC_EXTRA[name], reason=f"{name} needs lived-themes[topics-extra]")
    params = LIGHT.get(name, HEAVY.get(name, {}))
    model = make_topic_model(name, **params)
    json.dumps(model.get_params())
    model.fit(TEXTS)
    assert len(model.topics_) == len(TEXTS) and model.topic_ids
    again = model.transform(TEXTS)
    assert again.shape == (len(TEXTS),)
    loaded = load_topic_model(model.save(tmp_path / "topics"))
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.transform(TEXTS), again)

    # and as a coder, through the same contract as every other coder
    coder = TopicCoder(topic_model=name, topic_params=params).fit(TEXTS, LABELS, CODES)
    scores = coder.predict_proba(TEXTS)
    assert scores.shape == (len(TEXTS), len(CODES)) and scores.min() >= 0.0 and scores.max() <= 1.0
    np.testing.assert_array_equal(coder.predict(TEXTS), coder.codes_from_scores(scores))
    np.testing.assert_allclose(load_coder(coder.save(tmp_path / "coder")).predict_proba(TEXTS), scores, atol=1e-9)


def test_top_k_applies_wherever_scores_become_codes() -> None:
    """codebook-similarity's top_k: predict and codes_from_scores agree, and at most k codes per quote."""
    coder = make_coder("codebook-similarity.v1", encoder="hashing", threshold=0.0, top_k=1).fit([], None, CODES, codebook=BOOK)
    scores = coder.predict_proba(TEXTS)
    assert (coder.codes_from_scores(scores).sum(axis=1) == 1).all()
    plain = make_coder("codebook-similarity.v1", encoder="hashing", threshold=0.0).fit([], None, CODES, codebook=BOOK)
    assert plain.codes_from_scores(scores).sum(axis=1).max() > 1


def test_hashing_encoder_is_deterministic_and_offline() -> None:
    from lived_themes.encoders.sentence import encode, load_sentence_encoder

    a = encode(["kind staff", "a long wait"], encoder="hashing")
    b = load_sentence_encoder("hashing:256").encode(["kind staff", "a long wait"])
    assert a.shape == (2, 256)
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-6)
    assert encode(["x"], encoder="hashing:16").shape == (1, 16)
    with pytest.raises(ValueError, match="hashing:<dimensions>"):
        encode(["x"], encoder="hashing:many")
