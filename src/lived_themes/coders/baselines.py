"""The floors every learned coder must beat: training prevalence, and TF-IDF + logistic regression.

Both save as JSON and ``.npz`` (read with ``allow_pickle=False``), so a shared model folder can
never run code when loaded. TF-IDF is rebuilt from its vocabulary and idf weights, and scores
are computed by one function for fitted and loaded models, so both give identical numbers.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from lived_themes.coders import cross_validation
from lived_themes.coders.base import Coder, tune_thresholds
from lived_themes.coders._context import with_context
from lived_themes.registry import with_defaults
from lived_themes.coders._modelfiles import finite_numbers, read_json, expect_shape, load_npz
from lived_themes.errors import ModelFileError, ParamError
from lived_themes.splits import kfold_multilabel

if TYPE_CHECKING:
    import pandas as pd

    from lived_themes.codebook import Codebook

log = logging.getLogger(__name__)

STATE_JSON = "state.json"
WEIGHTS = "weights.npz"
_NO_VOCABULARY = ("no terms remain", "empty vocabulary", "max_df corresponds to < documents than min_df")


class MajorityCoder(Coder):
    """Scores every quote with each code's training prevalence; predicts a code when at least half the training quotes had it
    (single-label mode: the most frequent code, the majority class)."""

    name = "majority.v1"
    zero_shot = False

    def __init__(self, label_mode: str = "multi", top_k: int | None = None) -> None:
        self._set_decision_params(label_mode, top_k)

    def _fit(self, texts: list[str], labels: np.ndarray | None, *, codebook: Codebook | None, metadata: pd.DataFrame | None) -> None:
        assert labels is not None
        self.prevalence_ = labels.mean(axis=0) if len(labels) else np.zeros(len(self.codes_))

    def predict_proba(self, texts: Any, *, metadata: pd.DataFrame | None = None) -> np.ndarray:
        return np.tile(self.prevalence_, (len(texts), 1))

    def fit(self, texts: Any, labels: np.ndarray | None, codes: Any, *, codebook: Codebook | None = None,
            metadata: pd.DataFrame | None = None, label_mode: str | None = None) -> MajorityCoder:
        """As every coder; in single-label mode the floor is the majority class: the most frequent code for every
        quote, or "none" only when more training quotes had no code than had that code."""
        super().fit(texts, labels, codes, codebook=codebook, metadata=metadata, label_mode=label_mode)
        if self.none_threshold_ is not None and labels is not None and len(self.prevalence_):  # fitted single-label
            y = np.asarray(labels, dtype=float) > 0.5
            top = float(self.prevalence_.max())
            none_share = float((~y.any(axis=1)).mean()) if len(y) else 0.0
            top_is_a_code = bool(top >= none_share)  # the majority class is the most frequent code, not "none"
            self.none_threshold_ = top if top_is_a_code else min(top + 1e-6, 1.0 + 1e-6)
        return self

    def _save_state(self, folder: Path) -> None:
        (folder / STATE_JSON).write_text(json.dumps({"prevalence": [float(p) for p in self.prevalence_]}), encoding="utf-8")

    def _load_state(self, folder: Path) -> None:
        path = folder / STATE_JSON
        state = read_json(path)
        prevalence = finite_numbers(state.get("prevalence"), path=path, field="prevalence")
        if len(prevalence) != len(self.codes_):
            raise ModelFileError(f"{len(prevalence)} prevalences for {len(self.codes_)} codes", file=path, field="prevalence")
        self.prevalence_ = np.asarray(prevalence, dtype=float)


def _stack(matrices: list[Any]) -> Any:
    """Feature blocks side by side (one block: unchanged)."""
    if len(matrices) == 1:
        return matrices[0]
    from scipy.sparse import hstack

    return hstack(matrices).tocsr()


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def per_code_logreg(x: Any, labels: np.ndarray, *, C: float, max_iter: int, solver: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One class-balanced logistic regression per code: (coef (k, d), intercept (k,)).

    A code with fewer than two positive (or negative) quotes cannot be learned and gets a constant
    score, its prevalence. Shared by every coder that fits regressions on features (TF-IDF, embeddings).
    """
    from sklearn.linear_model import LogisticRegression

    coef, intercept = np.zeros((labels.shape[1], x.shape[1])), np.zeros(labels.shape[1])
    for j in range(labels.shape[1]):
        positives = int(labels[:, j].sum())
        if min(positives, len(labels) - positives) < 2:
            intercept[j] = _logit(positives / max(len(labels), 1))
            continue
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=max_iter, random_state=seed, solver=solver)
        model.fit(x, labels[:, j].astype(int))
        coef[j], intercept[j] = model.coef_[0], model.intercept_[0]
    return coef, intercept


def logreg_scores(x: Any, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """(n, k) probabilities of the regressions :func:`per_code_logreg` fitted, for dense or sparse features."""
    from scipy.special import expit

    return expit(np.asarray(x @ coef.T) + intercept[None, :])


def out_of_fold(labels: np.ndarray, *, n_splits: int, seed: int,
                fit_score: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Scores for every quote from ``fit_score(train_positions, test_positions)`` over multilabel-stratified folds."""

    return cross_validation.out_of_fold(labels.shape, kfold_multilabel(labels, n_splits=int(n_splits), seed=seed), fit_score)


def thresholds_from_out_of_fold(labels: np.ndarray, oof: np.ndarray) -> np.ndarray:
    """Per-code thresholds tuned on out-of-fold scores; a code :func:`per_code_logreg` cannot learn keeps 0.5."""
    learnable = np.minimum(labels.sum(0), len(labels) - labels.sum(0)) >= 2
    return np.where(learnable, tune_thresholds(labels, oof), 0.5)


def check_positive(component: Any, *names: str) -> None:
    """Each named attribute must be a number above zero (regularisation, iterations, n-gram length)."""
    for name in names:
        value = getattr(component, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ParamError(f"{name} must be a number above 0, got {value!r}", param=name)


def terms(vectorizer: Any) -> list[str]:
    """A fitted vectorizer's vocabulary in column order, as saved in ``state.json``."""
    return sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)


def check_vocabulary(vocabulary: Any, path: Path, field: str) -> None:
    """A saved vocabulary must be a list of distinct strings."""
    if not isinstance(vocabulary, list) or not all(isinstance(t, str) for t in vocabulary):
        raise ModelFileError("expected a list of terms", file=path, field=field)
    if len(set(vocabulary)) != len(vocabulary):
        raise ModelFileError("a term is listed twice", file=path, field=field)


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
        solver: str = "lbfgs",
        char_ngrams: list[int] | None = None,
        context_columns: list[str] | None = None,
        label_mode: str = "multi",
        top_k: int | None = None,
    ) -> None:
        self._set_tfidf_params(min_df=min_df, max_ngram=max_ngram, max_features=max_features, tune=tune, inner_folds=inner_folds,
                               seed=seed, char_ngrams=char_ngrams, context_columns=context_columns, label_mode=label_mode, top_k=top_k)
        self.C = C
        self.max_iter = max_iter
        self.solver = solver  # v1 keeps scikit-learn's lbfgs; v2 defaults to liblinear

    def _set_tfidf_params(self, *, min_df: int | float, max_ngram: int, max_features: int | None, tune: bool, inner_folds: int,
                          seed: int, char_ngrams: list[int] | None, context_columns: list[str] | None,
                          label_mode: str, top_k: int | None) -> None:
        """The features, tuning and decision settings every TF-IDF coder takes (the SVM and GBM ones too)."""
        self._set_decision_params(label_mode, top_k)
        self.min_df = min_df
        self.max_ngram = max_ngram
        self.max_features = max_features
        self.tune = tune
        self.inner_folds = inner_folds
        self.seed = seed
        # [lo, hi]: character lo..hi-grams within words as well (misspellings, word forms); None = words only
        self.char_ngrams = char_ngrams
        if char_ngrams is not None and (len(char_ngrams) != 2 or not 1 <= int(char_ngrams[0]) <= int(char_ngrams[1])):
            raise ValueError(f"char_ngrams must be [lo, hi] with 1 <= lo <= hi, got {char_ngrams!r}")
        # metadata columns read with the text ("FFT question: What could we do better? | ..."): the same words
        # mean different things as an answer to "what was good?" and to "what could be better?"
        self.context_columns = context_columns

    def _check_params(self) -> None:
        """Values scikit-learn would refuse only after the data are loaded, refused at config load instead."""
        check_positive(self, "C", "max_iter", "max_ngram")
        self._check_inner_folds()

    def _check_inner_folds(self) -> None:
        if int(self.inner_folds) < 2:
            raise ParamError(f"inner_folds must be at least 2, got {self.inner_folds}", param="inner_folds")

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

    def _char_vectorizer(self, vocabulary: list[str] | None = None) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        assert self.char_ngrams is not None
        return TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(int(self.char_ngrams[0]), int(self.char_ngrams[1])),
            sublinear_tf=True,
            min_df=self.min_df,
            vocabulary=None if vocabulary is None else {t: i for i, t in enumerate(vocabulary)},
        )

    def _learn(self, texts: list[str], labels: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
        """Fit TF-IDF and one regression per learnable code; returns (vectorizers, coef (k, d), intercept (k,))."""
        vectorizer, x = self._fit_features(texts)
        coef, intercept = self._regress(x, labels)
        return vectorizer, coef, intercept

    def _regress(self, x: Any, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The per-code linear model on TF-IDF features: (coef (k, d), intercept (k,)) read by :func:`logreg_scores`."""
        return per_code_logreg(x, labels, C=self.C, max_iter=self.max_iter, solver=self.solver, seed=self.seed)

    def _fit_features(self, texts: list[str]) -> tuple[list[Any], Any]:
        """Fitted vectorizers (words, and characters when set) and the training texts' features."""
        vectorizer = [self._vectorizer()] + ([self._char_vectorizer()] if self.char_ngrams is not None else [])
        try:
            x = _stack([v.fit_transform(texts) for v in vectorizer])
        except ValueError as exc:  # no vocabulary (e.g. min_df too high for a tiny inner fold): prevalences only
            if not any(m in str(exc) for m in _NO_VOCABULARY):
                raise
            log.warning("tfidf-logreg: no usable vocabulary in %d texts (%s); scoring by prevalence", len(texts), exc)
            vectorizer = [self._vectorizer(["\x00"])]
            vectorizer[0].idf_ = np.ones(1)
            x = vectorizer[0].transform(texts)
        return vectorizer, x

    @staticmethod
    def _transform(vectorizers: list[Any], texts: list[str]) -> Any:
        """The features of ``texts`` from fitted (or loaded) vectorizers, blocks side by side."""
        return _stack([v.transform(texts) for v in vectorizers])

    @classmethod
    def _scores(cls, vectorizers: list[Any], coef: np.ndarray, intercept: np.ndarray, texts: list[str]) -> np.ndarray:
        return logreg_scores(cls._transform(vectorizers, texts), coef, intercept)

    def _out_of_fold(self, texts: list[str], labels: np.ndarray) -> np.ndarray | None:
        """Scores for each training quote from a model that did not see it, or None when folds are impossible."""
        if not self.tune or len(texts) < 2 * self.inner_folds:
            return None
        def fit_score(train: np.ndarray, test: np.ndarray) -> np.ndarray:
            return self._scores(*self._learn([texts[i] for i in train], labels[train]), [texts[i] for i in test])

        return out_of_fold(labels, n_splits=self.inner_folds, seed=self.seed, fit_score=fit_score)

    def _fit(self, texts: list[str], labels: np.ndarray | None, *, codebook: Codebook | None, metadata: pd.DataFrame | None) -> None:
        assert labels is not None
        texts = with_context(texts, metadata, self.context_columns)
        self.vectorizer_, self.coef_, self.intercept_ = self._learn(texts, labels)
        oof = self._out_of_fold(texts, labels)
        if oof is not None:
            self.tuning_ = (labels, oof)
            self.thresholds_ = thresholds_from_out_of_fold(labels, oof)
        log.info("%s: %d features, %d codes", self.name, self.coef_.shape[1], self.coef_.shape[0])

    def predict_proba(self, texts: Any, *, metadata: pd.DataFrame | None = None) -> np.ndarray:
        return self._scores(self.vectorizer_, self.coef_, self.intercept_, with_context(list(texts), metadata, self.context_columns))

    # ----- persistence ------------------------------------------------------------------------------
    def training_text(self) -> str | None:
        chars = " and character n-grams" if self.char_ngrams is not None else ""
        return (f"vocabulary of word n-grams (1 to {self.max_ngram} words){chars} from the training quotes ({STATE_JSON}): "
                "phrases of the quotes can be read from it")

    def _save_state(self, folder: Path) -> None:
        state = {"vocabulary": terms(self.vectorizer_[0])}
        arrays = {"idf": self.vectorizer_[0].idf_, "coef": self.coef_, "intercept": self.intercept_}
        if len(self.vectorizer_) > 1:
            state["char_vocabulary"], arrays["char_idf"] = terms(self.vectorizer_[1]), self.vectorizer_[1].idf_
        (folder / STATE_JSON).write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
        np.savez(folder / WEIGHTS, **arrays)

    def _load_state(self, folder: Path) -> None:
        """Vocabulary (JSON) and weights (.npz, no pickles), checked against each other and the codes."""

        state_path, weights_path = folder / STATE_JSON, folder / WEIGHTS
        state = read_json(state_path)
        with_chars = "char_vocabulary" in state
        vocabularies = [state.get("vocabulary")] + ([state["char_vocabulary"]] if with_chars else [])
        for field, vocabulary in zip(("vocabulary", "char_vocabulary"), vocabularies):
            check_vocabulary(vocabulary, state_path, field)
        idf_names = ["idf"] + (["char_idf"] if with_chars else [])
        weights = load_npz(weights_path, {**{n: 1 for n in idf_names}, "coef": 2, "intercept": 1})
        k, d = len(self.codes_), sum(len(v) for v in vocabularies)
        for name, vocabulary in zip(idf_names, vocabularies):
            expect_shape(weights_path, name, weights[name].shape, (len(vocabulary),),
                         f"(one weight per term of the {len(vocabulary)} in {STATE_JSON})")
        expect_shape(weights_path, "coef", weights["coef"].shape, (k, d), f"({k} codes x {d} terms)")
        expect_shape(weights_path, "intercept", weights["intercept"].shape, (k,), f"(one per code, {k} codes)")
        self.coef_, self.intercept_ = weights["coef"].astype(float), weights["intercept"].astype(float)
        if with_chars and self.char_ngrams is None:
            raise ModelFileError("has character n-gram terms but coder.json sets no char_ngrams", file=state_path, field="char_vocabulary")
        self._restore_vectorizers(vocabularies, [weights[name] for name in idf_names])

    def _restore_vectorizers(self, vocabularies: list[list[str]], idfs: list[np.ndarray]) -> None:
        """``vectorizer_`` rebuilt from saved vocabularies (words, then characters if any) and idf weights."""
        self.vectorizer_ = [self._vectorizer(vocabularies[0])] + ([self._char_vectorizer(vocabularies[1])] if len(vocabularies) > 1 else [])
        for vectorizer, idf in zip(self.vectorizer_, idfs):
            vectorizer.idf_ = idf.astype(float)


class TfidfLogRegV2Coder(TfidfLogRegCoder):
    """``tfidf-logreg.v1`` with the liblinear solver by default: about 5x faster on sparse TF-IDF, scores within 0.001.

    A new name because a default that changes results must not hide behind an old one
    (benchmarks/tfidf_solver.py measured the difference).
    """

    name = "tfidf-logreg.v2"
    __init__ = with_defaults(TfidfLogRegCoder.__init__, solver="liblinear")
