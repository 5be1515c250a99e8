"""Score each topic model as one more coder on held-out quotes, with the same metrics as every other coder.

The quotes the reference coder saw are split (seeded). A model fitted without labels (unsupervised,
guided, zero-shot, LDA, NMF) keeps its topics from the full fit, which saw no codes, and learns only
its topic -> code map on the training quotes. A model that reads labels (BERTopic supervised or
semi-supervised) is refitted on the training quotes alone, so no test code leaks into it. A
``base-rates`` row (one topic for all quotes: every quote gets each code's overall rate) is the floor.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from lived_themes.topics.coder import TopicCoder

LABEL_MODES = ("supervised", "semisupervised")


def split_seen(labels: np.ndarray, *, test_size: float, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Train / test row indices among the quotes the reference coder saw."""
    from sklearn.model_selection import train_test_split

    seen = np.flatnonzero(~np.isnan(labels).all(axis=1))
    if len(seen) < 4:
        raise ValueError(f"only {len(seen)} quote(s) seen by the reference coder: too few to score topic models as coders")
    train, test = train_test_split(seen, test_size=test_size, random_state=seed)
    return np.sort(train), np.sort(test)


def score_as_coders(
    fitted: dict[str, Any],
    cfg: dict[str, Any],
    *,
    corpus: Any,
    labels: np.ndarray,
    embeddings: np.ndarray | None = None,
) -> tuple[dict[str, dict[str, Any]], np.ndarray, np.ndarray]:
    """Held-out scores and codes per topic model (plus the base-rate floor), in the coders' output format.

    Returns ``(outputs, train, test)``: ``outputs[label]`` holds ``scores``, ``predicted`` and ``fold``
    over all of the corpus's quotes (NaN outside the test rows), the form :func:`evaluate_predictions`
    scores for every coder. Codes come from each topic coder's own ``codes_from_scores``.
    """

    codes, texts = corpus.codes, corpus.texts
    train, test = split_seen(labels, test_size=cfg["as_coder"].get("test_size", 0.3), seed=cfg["seed"])
    specs = {s["label"]: s for s in cfg["models"]}
    floor = TopicCoder().fit_on_topics(fitted[next(iter(fitted))], np.zeros(len(train), int), labels[train], codes)
    candidates = {"base-rates": (floor, np.zeros(len(test), int), 0.0)}
    for label, model in fitted.items():
        spec = specs[label]
        start = time.perf_counter()
        if spec["params"].get("mode") in LABEL_MODES:
            topic_coder = TopicCoder(topic_model=spec["name"], topic_params=spec["params"])
            topic_coder.fit([texts[i] for i in train], labels[train], codes, codebook=corpus.codebook)
            shared = embeddings[test] if embeddings is not None and spec["params"].get("encoder") == cfg["encoder"] else None
            candidates[label] = (topic_coder, topic_coder.predict_topics([texts[i] for i in test], embeddings=shared), time.perf_counter() - start)
        else:
            topic_coder = TopicCoder().fit_on_topics(model, model.topics_[train], labels[train], codes)
            candidates[label] = (topic_coder, model.topics_[test], time.perf_counter() - start)
    outputs: dict[str, dict[str, Any]] = {}
    for label, (topic_coder, test_topics, seconds) in candidates.items():
        scores = np.full((len(texts), len(codes)), np.nan)
        predicted = np.full_like(scores, np.nan)
        fold = np.full(len(texts), None, dtype=object)
        scores[test] = topic_coder._scores(test_topics)
        predicted[test] = topic_coder.codes_from_scores(scores[test]).astype(float)
        fold[test] = "test"
        outputs[label] = {"scores": scores, "predicted": predicted, "fold": fold, "seconds": {"fit": seconds, "predict": None}}
    return outputs, train, test
