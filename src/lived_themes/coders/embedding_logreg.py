"""``embedding-logreg.v1``: a class-balanced logistic regression per code on frozen sentence embeddings.

The cheap way to use a sentence encoder with labels: embed every quote once (the packaged MiniLM by
default; embeddings are cached per text, so refits and inner folds cost no new encoding), then fit
one regression per code. It reads meaning where TF-IDF reads words, so the two make good ensemble
members (``ensemble.v1``): on NHS feedback each alone is near macro-F1 0.5 and their mean is higher
(``benchmarks/nhs_quality.py``). Thresholds are tuned per code on out-of-fold scores, as in
``tfidf-logreg``.

Saved without pickle: ``weights.npz`` (coef, intercept); the encoder is a parameter in coder.json
and is loaded again, offline, to predict.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from lived_themes.coders._context import with_context
from lived_themes.coders.base import Coder
from lived_themes.coders._modelfiles import expect_shape, load_npz
from lived_themes.coders.baselines import per_code_logreg, logreg_scores, out_of_fold, thresholds_from_out_of_fold
from lived_themes.encoders.sentence import encode

if TYPE_CHECKING:
    import pandas as pd

    from lived_themes.codebook import Codebook

log = logging.getLogger(__name__)
WEIGHTS = "weights.npz"


class EmbeddingLogRegCoder(Coder):
    """Frozen sentence embeddings and one class-balanced logistic regression per code, thresholds tuned out-of-fold."""

    name: ClassVar[str] = "embedding-logreg.v1"
    zero_shot: ClassVar[bool] = False

    def __init__(
        self,
        encoder: str | None = None,
        C: float = 10.0,
        max_iter: int = 2000,
        tune: bool = True,
        inner_folds: int = 3,
        context_columns: list[str] | None = None,
        batch_size: int = 64,
        device: str | None = None,
        seed: int = 0,
        label_mode: str = "multi",
        top_k: int | None = None,
    ) -> None:
        self._set_decision_params(label_mode, top_k)
        self.encoder = encoder
        self.C = C  # 10 rather than 1: embeddings are dense and low-dimensional, so less shrinkage helps
        self.max_iter = max_iter
        self.tune = tune
        self.inner_folds = inner_folds
        self.context_columns = context_columns
        self.batch_size = batch_size
        self.device = device
        self.seed = seed
        if C <= 0:
            raise ValueError(f"C must be positive, got {C}")
        if int(inner_folds) < 2:
            raise ValueError(f"inner_folds must be at least 2, got {inner_folds}")

    def _embed(self, texts: Sequence[str], metadata: pd.DataFrame | None) -> np.ndarray:
        inputs = with_context(list(texts), metadata, self.context_columns)
        if not inputs:
            return np.zeros((0, self.coef_.shape[1] if hasattr(self, "coef_") else 0), dtype=np.float32)
        return encode(inputs, encoder=self.encoder, device=self.device, batch_size=self.batch_size, normalize=True).astype(np.float64)

    def _learn(self, x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return per_code_logreg(x, labels, C=self.C, max_iter=self.max_iter, solver="liblinear", seed=self.seed)

    def _fit(self, texts: list[str], labels: np.ndarray | None, *, codebook: Codebook | None, metadata: pd.DataFrame | None) -> None:
        assert labels is not None
        if not texts:
            raise ValueError(f"{self.name} needs at least one labelled quote")
        x = self._embed(texts, metadata)
        self.coef_, self.intercept_ = self._learn(x, labels)
        if self.tune and len(texts) >= 2 * int(self.inner_folds):
            oof = out_of_fold(labels, n_splits=self.inner_folds, seed=self.seed,
                              fit_score=lambda train, test: logreg_scores(x[test], *self._learn(x[train], labels[train])))
            self.tuning_ = (labels, oof)
            self.thresholds_ = thresholds_from_out_of_fold(labels, oof)
        log.info("%s: %d quotes, %d dimensions, %d codes", self.name, len(texts), x.shape[1], labels.shape[1])

    def predict_proba(self, texts: Sequence[str], *, metadata: pd.DataFrame | None = None) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.codes_)))

        return logreg_scores(self._embed(texts, metadata), self.coef_, self.intercept_)

    # ----- persistence -----------------------------------------------------------------------------
    def _save_state(self, folder: Path) -> None:
        np.savez(folder / WEIGHTS, coef=self.coef_, intercept=self.intercept_)

    def _load_state(self, folder: Path) -> None:
        path = folder / WEIGHTS
        weights = load_npz(path, {"coef": 2, "intercept": 1})
        k = len(self.codes_)
        expect_shape(path, "coef", weights["coef"].shape, (k, None), f"({k} codes x embedding width)")
        expect_shape(path, "intercept", weights["intercept"].shape, (k,), f"(one per code, {k} codes)")
        self.coef_, self.intercept_ = weights["coef"].astype(float), weights["intercept"].astype(float)
