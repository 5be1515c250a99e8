"""Simulated active learning: the human is replaced by the labels already known, to compare strategies.

Every strategy starts from the same random labelled set, takes batches from the same pool, and is
scored on the same fixed test set after each retraining, so the curves (labels vs macro-F1) differ
only by which quotes each strategy asked for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lived_themes.active.strategies import NEEDS_FEATURES, select_batch
from lived_themes.evaluation import summary_scores


def simulate(make: Callable[[], Any], texts: Sequence[str], labels: np.ndarray, codes: Sequence[str], *,
             pool: np.ndarray, test: np.ndarray, strategy: str, start: int = 50, batch: int = 50, rounds: int = 10,
             features: np.ndarray | None = None, seed: int = 0, progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """One curve: a point per retraining, ``{"labels", "macro_f1", "micro_f1", "seconds"}``.

    ``pool`` and ``test`` index ``texts``; the first ``start`` labels are a seeded random draw from
    the pool (the same draw for every strategy), then ``rounds`` batches of ``batch`` follow.
    """

    labels = np.asarray(labels, dtype=float)
    pool = np.asarray(pool, dtype=int)
    rng = np.random.default_rng(seed)
    labelled = list(rng.choice(pool, size=min(start, len(pool)), replace=False))
    test_texts = [texts[i] for i in test]
    curve: list[dict[str, Any]] = []
    for round_no in range(rounds + 1):
        started = time.perf_counter()
        coder = make().fit([texts[i] for i in labelled], labels[labelled], list(codes))
        scores = coder.predict_proba(test_texts)
        predicted = coder.codes_from_scores(scores).astype(float)
        summary = summary_scores(labels[test], predicted, scores)
        point = {"labels": len(labelled), "macro_f1": float(summary["macro_f1"]), "micro_f1": float(summary["micro_f1"])}
        taken = set(labelled)
        remaining = np.array([i for i in pool if i not in taken], dtype=int)
        if round_no < rounds and len(remaining):
            proba = coder.predict_proba([texts[i] for i in remaining]) if strategy != "random" else np.zeros((len(remaining), len(codes)))
            use_features = strategy in NEEDS_FEATURES
            picked = select_batch(strategy, batch, proba=proba, decision=coder.decision,
                                  features=features[remaining] if use_features else None,
                                  labelled_features=features[labelled] if use_features else None,
                                  labelled_y=labels[labelled], seed=seed * 1000 + round_no)
            labelled += [int(i) for i in remaining[picked]]
        point["seconds"] = time.perf_counter() - started
        curve.append(point)
        if progress:
            progress(f"{strategy}: {point['labels']} labels, macro-F1 {point['macro_f1']:.3f} ({point['seconds']:.1f} s)")
        if not len(remaining):
            break
    return curve


def labels_to_reach(curve: list[dict[str, Any]], target: float, key: str = "macro_f1") -> float | None:
    """Fewest labels at which a curve reaches ``target`` (linear between measured points); None if it never does."""
    previous = None
    for point in curve:
        if point[key] >= target:
            if previous is None or previous[key] >= target:
                return float(point["labels"])
            x0, y0, x1, y1 = previous["labels"], previous[key], point["labels"], point[key]
            return float(x0 + (target - y0) * (x1 - x0) / (y1 - y0))
        previous = point
    return None


def labels_saved(reference: list[dict[str, Any]], curve: list[dict[str, Any]], key: str = "macro_f1") -> list[dict[str, Any]]:
    """At each of the reference's points: the labels the other curve needs for the same quality, and the saving."""
    out = []
    for point in reference:
        needed = labels_to_reach(curve, point[key], key)
        out.append({"reference_labels": point["labels"], key: point[key], "labels_needed": needed,
                    "saved": None if needed is None else point["labels"] - needed})
    return out
