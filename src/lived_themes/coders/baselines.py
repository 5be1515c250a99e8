"""The floors every learned coder must beat: training prevalence, and TF-IDF + logistic regression.

Both save as JSON and ``.npz`` (read with ``allow_pickle=False``), so a shared model folder can
never run code when loaded. TF-IDF is rebuilt from its vocabulary and idf weights, and scores
are computed by one function for fitted and loaded models, so both give identical numbers.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lived_themes.coders.base import Coder, tune_thresholds

if TYPE_CHECKING:
    import pandas as pd

    from lived_themes.codebook import Codebook

log = logging.getLogger(__name__)

STATE_JSON = "state.json"
WEIGHTS = "weights.npz"
_NO_VOCABULARY = ("no terms remain", "empty vocabulary", "max_df corresponds to < documents than min_df")


class MajorityCoder(Coder):
    """Scores every quote with each code's training prevalence; predicts a code when at least half the training quotes had it."""

    name = "majority.v1"
    zero_shot = False

    def __init__(self) -> None:
        pass

    def _fit(self, texts: list[str], labels: np.ndarray | None, *, codebook: Codebook | None, metadata: pd.DataFrame | None) -> None:
        assert labels is not None
        self.prevalence_ = labels.mean(axis=0) if len(labels) else np.zeros(len(self.codes_))

    def predict_proba(self, texts: Any, *, metadata: pd.DataFrame | None = None) -> np.ndarray:
        return np.tile(self.prevalence_, (len(texts), 1))

    def _save_state(self, folder: Path) -> None:
        (folder / STATE_JSON).write_text(json.dumps({"prevalence": [float(p) for p in self.prevalence_]}), encoding="utf-8")

    def _load_state(self, folder: Path) -> None:
        self.prevalence_ = np.asarray(json.loads((folder / STATE_JSON).read_text(encoding="utf-8"))["prevalence"], dtype=float)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


class TfidfLogRegCoder(Coder):
    """Word 1–n-gram TF-IDF and one class-balanced logistic regression per code, thresholds tuned out-of-fold.

    A code with fewer than two positive (or negative) training quotes cannot be learned: it gets
    a constant score, its training prevalence, and keeps the 0.5 threshold. Thresholds of the
    others are tuned with :func:`tune_thresholds` on out-of-fold scores from ``inner_folds``
    multilabel-stratified inner folds (seeded), then the model is refit on all training quotes.
    """

    name = "tfidf-logreg.v1"
    zero_shot = False

    def __init__(
        self,
        min_df: int | float = 1,
        max_ngram: int = 2,
        max_features: int | None = None,
        C: float = 1.0,
        max_iter: int = 1000,
        tune: bool = True,
        inner_folds: int = 3,
        seed: int = 0,
        solver: str = "liblinear",
    ) -> None:
        self.min_df = min_df
        self.max_ngram = max_ngram
        self.max_features = max_features
        self.C = C
        self.max_iter = max_iter
        self.tune = tune
        self.inner_folds = inner_folds
        self.seed = seed
        self.solver = solver  # liblinear: about 5x faster than lbfgs on sparse TF-IDF (benchmarks/tfidf_solver.py)

    # ----- the transform, rebuilt the same way after fitting and after loading --------------------
    def _vectorizer(self, vocabulary: list[str] | None = None) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(
            ngram_range=(1, self.max_ngram),
            sublinear_tf=True,
            min_df=self.min_df,
            max_features=self.max_features,
            vocabulary=None if vocabulary is None else {t: i for i, t in enumerate(vocabulary)},
        )

    def _learn(self, texts: list[str], labels: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
        """Fit TF-IDF and one regression per learnable code; returns (vectorizer, coef (k, d), intercept (k,))."""
        from sklearn.linear_model import LogisticRegression

        vectorizer = self._vectorizer()
        try:
            x = vectorizer.fit_transform(texts)
        except ValueError as exc:  # no vocabulary (e.g. min_df too high for a tiny inner fold): prevalences only
            if not any(m in str(exc) for m in _NO_VOCABULARY):
                raise
            log.warning("tfidf-logreg: no usable vocabulary in %d texts (%s); scoring by prevalence", len(texts), exc)
            vectorizer = self._vectorizer(["\x00"])
            vectorizer.idf_ = np.ones(1)
            x = vectorizer.transform(texts)
        coef = np.zeros((labels.shape[1], x.shape[1]))
        intercept = np.zeros(labels.shape[1])
        for j in range(labels.shape[1]):
            positives = int(labels[:, j].sum())
            if min(positives, len(labels) - positives) < 2:
                intercept[j] = _logit(positives / max(len(labels), 1))
                continue
            model = LogisticRegression(C=self.C, class_weight="balanced", max_iter=self.max_iter, random_state=self.seed,
                                       solver=self.solver)
            model.fit(x, labels[:, j].astype(int))
            coef[j], intercept[j] = model.coef_[0], model.intercept_[0]
        return vectorizer, coef, intercept

    @staticmethod
    def _scores(vectorizer: Any, coef: np.ndarray, intercept: np.ndarray, texts: list[str]) -> np.ndarray:
        from scipy.special import expit

        return expit(np.asarray(vectorizer.transform(texts) @ coef.T) + intercept[None, :])

    def _out_of_fold(self, texts: list[str], labels: np.ndarray) -> np.ndarray | None:
        """Scores for each training quote from a model that did not see it, or None when folds are impossible."""
        from lived_themes.splits import kfold_multilabel

        if not self.tune or len(texts) < 2 * self.inner_folds:
            return None
        scores = np.zeros(labels.shape)
        for fold in kfold_multilabel(labels, n_splits=self.inner_folds, seed=self.seed):
            vec, coef, intercept = self._learn([texts[i] for i in fold.train_idx], labels[fold.train_idx])
            scores[fold.test_idx] = self._scores(vec, coef, intercept, [texts[i] for i in fold.test_idx])
        return scores

    def _fit(self, texts: list[str], labels: np.ndarray | None, *, codebook: Codebook | None, metadata: pd.DataFrame | None) -> None:
        assert labels is not None
        self.vectorizer_, self.coef_, self.intercept_ = self._learn(texts, labels)
        oof = self._out_of_fold(texts, labels)
        if oof is not None:
            learnable = np.minimum(labels.sum(0), len(labels) - labels.sum(0)) >= 2
            tuned = tune_thresholds(labels, oof)
            self.tuning_ = (labels, oof)
            self.thresholds_ = np.where(learnable, tuned, 0.5)
        log.info("tfidf-logreg: %d features, %d codes", self.coef_.shape[1], self.coef_.shape[0])

    def predict_proba(self, texts: Any, *, metadata: pd.DataFrame | None = None) -> np.ndarray:
        return self._scores(self.vectorizer_, self.coef_, self.intercept_, list(texts))

    # ----- persistence ------------------------------------------------------------------------------
    def _save_state(self, folder: Path) -> None:
        vocabulary = sorted(self.vectorizer_.vocabulary_, key=self.vectorizer_.vocabulary_.__getitem__)
        (folder / STATE_JSON).write_text(json.dumps({"vocabulary": vocabulary}, ensure_ascii=False), encoding="utf-8")
        np.savez(folder / WEIGHTS, idf=self.vectorizer_.idf_, coef=self.coef_, intercept=self.intercept_)

    def _load_state(self, folder: Path) -> None:
        vocabulary = json.loads((folder / STATE_JSON).read_text(encoding="utf-8"))["vocabulary"]
        with np.load(folder / WEIGHTS, allow_pickle=False) as weights:
            idf, self.coef_, self.intercept_ = weights["idf"], weights["coef"], weights["intercept"]
        self.vectorizer_ = self._vectorizer(vocabulary)
        self.vectorizer_.idf_ = idf
