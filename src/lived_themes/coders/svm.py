"""``tfidf-svm.v1``: a linear SVM per code on words+chars TF-IDF, its margins Platt-calibrated on inner folds.

The classic text classifier (pxtextmining's published SVC reaches macro-F1 0.64 on NHS feedback): one
``LinearSVC`` per code, class-balanced by default. An SVM gives margins, not probabilities, so each code's
margin is mapped through a sigmoid fitted on out-of-fold margins (Platt scaling, as scikit-learn's
``CalibratedClassifierCV(method="sigmoid", ensemble=False)``), from ``inner_folds`` multilabel-stratified
folds; thresholds are tuned on those same calibrated out-of-fold scores. Scores are in [0, 1] and read
like probabilities, so the coder can be averaged or stacked with others in ``ensemble.v1``.

Platt scaling of a linear margin is still a linear model (``sigmoid(a * (w.x + b) + c)``), so the fitted
coder is saved exactly as ``tfidf-logreg`` is (vocabulary JSON, ``weights.npz``) and scored by the same function.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from lived_themes.coders._context import with_context
from lived_themes.coders.baselines import TfidfLogRegCoder, _logit, out_of_fold, thresholds_from_out_of_fold
from lived_themes.errors import ParamError

if TYPE_CHECKING:
    import pandas as pd

    from lived_themes.codebook import Codebook

log = logging.getLogger(__name__)
CLASS_WEIGHTS = ("balanced", None)


def per_code_svm(x: Any, labels: np.ndarray, *, C: float, class_weight: str | None, max_iter: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One linear SVM per code: (coef (k, d), intercept (k,), learned (k,)).

    A code with fewer than two positive (or negative) quotes is not learned: zero weights and the logit of
    its prevalence as a constant margin.
    """
    from sklearn.svm import LinearSVC

    k = labels.shape[1]
    coef, intercept, learned = np.zeros((k, x.shape[1])), np.zeros(k), np.zeros(k, dtype=bool)
    for j in range(k):
        positives = int(labels[:, j].sum())
        if min(positives, len(labels) - positives) < 2:
            intercept[j] = _logit(positives / max(len(labels), 1))
            continue
        model = LinearSVC(C=C, class_weight=class_weight, max_iter=max_iter, random_state=seed, dual="auto")
        model.fit(x, labels[:, j].astype(int))
        coef[j], intercept[j], learned[j] = model.coef_[0], model.intercept_[0], True
    return coef, intercept, learned


def platt(margins: np.ndarray, labels: np.ndarray, learned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per code (a, c) so that ``sigmoid(a * margin + c)`` fits held-out labels; (1, 0) for codes not learned."""
    from sklearn.linear_model import LogisticRegression

    a, c = np.ones(labels.shape[1]), np.zeros(labels.shape[1])
    for j in np.flatnonzero(learned):
        y = labels[:, j].astype(int)
        if y.min() == y.max():
            continue
        model = LogisticRegression(C=1e4, max_iter=1000).fit(margins[:, j][:, None], y)
        a[j], c[j] = model.coef_[0, 0], model.intercept_[0]
    return a, c


class TfidfSvmCoder(TfidfLogRegCoder):
    """Words+chars TF-IDF, a class-balanced linear SVM per code, margins Platt-calibrated and thresholds tuned out-of-fold."""

    name = "tfidf-svm.v1"
    zero_shot = False

    def __init__(
        self,
        min_df: int | float = 2,
        max_ngram: int = 2,
        max_features: int | None = None,
        C: float = 0.1,
        class_weight: str | None = "balanced",
        max_iter: int = 2000,
        tune: bool = True,
        inner_folds: int = 3,
        seed: int = 0,
        char_ngrams: list[int] | None = [2, 5],  # noqa: B006 - never mutated; a list, as configs and coder.json write it
        context_columns: list[str] | None = None,
        label_mode: str = "multi",
        top_k: int | None = None,
    ) -> None:
        self._set_tfidf_params(min_df=min_df, max_ngram=max_ngram, max_features=max_features, tune=tune, inner_folds=inner_folds,
                               seed=seed, char_ngrams=char_ngrams, context_columns=context_columns, label_mode=label_mode, top_k=top_k)
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter

    def _check_params(self) -> None:
        super()._check_params()
        if self.class_weight not in CLASS_WEIGHTS:
            raise ParamError(f"class_weight must be one of {CLASS_WEIGHTS}, got {self.class_weight!r}", param="class_weight")

    def _svm(self, x: Any, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return per_code_svm(x, labels, C=self.C, class_weight=self.class_weight, max_iter=self.max_iter, seed=self.seed)

    def _fit(self, texts: list[str], labels: np.ndarray | None, *, codebook: Codebook | None, metadata: pd.DataFrame | None) -> None:
        assert labels is not None
        texts = with_context(texts, metadata, self.context_columns)
        self.vectorizer_, x = self._fit_features(texts)
        coef, intercept, learned = self._svm(x, labels)
        if len(texts) >= 2 * int(self.inner_folds):  # calibration needs held-out margins, whether thresholds are tuned or not
            def fit_margins(train: np.ndarray, test: np.ndarray) -> np.ndarray:
                vectorizers, x_train = self._fit_features([texts[i] for i in train])
                w, b, _ = self._svm(x_train, labels[train])
                return np.asarray(self._transform(vectorizers, [texts[i] for i in test]) @ w.T) + b[None, :]

            margins = out_of_fold(labels, n_splits=self.inner_folds, seed=self.seed, fit_score=fit_margins)
            a, c = platt(margins, labels, learned)
        else:
            log.warning("%s: too few quotes (%d) for %d calibration folds: scores are sigmoid(margin)", self.name, len(texts), self.inner_folds)
            margins, a, c = None, np.ones(labels.shape[1]), np.zeros(labels.shape[1])
        self.coef_, self.intercept_ = coef * a[:, None], intercept * a + c
        if self.tune and margins is not None:
            from scipy.special import expit

            oof = expit(margins * a[None, :] + c[None, :])
            self.tuning_ = (labels, oof)
            self.thresholds_ = thresholds_from_out_of_fold(labels, oof)
        log.info("%s: %d features, %d codes", self.name, self.coef_.shape[1], self.coef_.shape[0])
