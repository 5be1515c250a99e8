"""``tfidf-gbm.v1``: gradient-boosted trees (LightGBM) per code on word TF-IDF, an ensemble member unlike the linear ones.

Trees read interactions a linear model cannot ("waiting" helps "appointments" only without "ward"), so their
errors differ from TF-IDF + logistic regression's, which is what an ensemble member needs. Kept cheap on a
small CPU: word 1-2-grams capped at ``max_features`` terms, ``n_estimators`` shallow trees per code, a share of
the terms per tree (``colsample``), ``n_jobs`` threads. Thresholds are tuned on out-of-fold scores from
``inner_folds`` multilabel-stratified folds, as in ``tfidf-logreg``; in an ensemble, ``tune: false`` skips them
(the ensemble tunes its own).

Needs the ``gbm`` extra (``pip install 'lived-themes[gbm]'``: lightgbm). Saved without pickle: the vocabulary
(``state.json``), idf weights (``weights.npz``) and each code's trees in LightGBM's own text format
(``trees.json``), which is parsed, never executed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lived_themes.coders._context import with_context
from lived_themes.coders._modelfiles import expect_shape, finite_numbers, load_npz, read_json
from lived_themes.coders.baselines import (STATE_JSON, TfidfLogRegCoder, check_positive, check_vocabulary, out_of_fold, terms,
                                           thresholds_from_out_of_fold)
from lived_themes.errors import ModelFileError, ParamError

if TYPE_CHECKING:
    import pandas as pd

    from lived_themes.codebook import Codebook

log = logging.getLogger(__name__)
TREES = "trees.json"
IDF = "weights.npz"


class TfidfGbmCoder(TfidfLogRegCoder):
    """Word TF-IDF and one LightGBM binary classifier per code, thresholds tuned out-of-fold."""

    name = "tfidf-gbm.v1"
    zero_shot = False

    def __init__(
        self,
        min_df: int | float = 2,
        max_ngram: int = 2,
        max_features: int | None = 20000,
        n_estimators: int = 200,
        learning_rate: float = 0.1,
        num_leaves: int = 15,
        min_child_samples: int = 10,
        colsample: float = 0.3,
        balanced: bool = True,
        n_jobs: int = 2,
        tune: bool = True,
        inner_folds: int = 3,
        seed: int = 0,
        context_columns: list[str] | None = None,
        label_mode: str = "multi",
        top_k: int | None = None,
    ) -> None:
        # words only: character n-grams make trees slow and add little to them
        self._set_tfidf_params(min_df=min_df, max_ngram=max_ngram, max_features=max_features, tune=tune, inner_folds=inner_folds,
                               seed=seed, char_ngrams=None, context_columns=context_columns, label_mode=label_mode, top_k=top_k)
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.colsample = colsample
        self.balanced = balanced  # weight positives by negatives/positives per code, as the linear coders' class_weight
        self.n_jobs = n_jobs

    def _check_params(self) -> None:
        check_positive(self, "n_estimators", "learning_rate", "num_leaves", "min_child_samples", "colsample", "n_jobs", "max_ngram")
        if not self.colsample <= 1:
            raise ParamError(f"colsample must be in (0, 1], got {self.colsample!r}", param="colsample")
        self._check_inner_folds()

    def _params(self) -> dict[str, Any]:
        return {"objective": "binary", "learning_rate": float(self.learning_rate), "num_leaves": int(self.num_leaves),
                "min_data_in_leaf": int(self.min_child_samples), "feature_fraction": float(self.colsample),
                "num_threads": int(self.n_jobs), "seed": int(self.seed), "deterministic": True, "force_row_wise": True,
                "verbose": -1}

    def _boost(self, x: Any, labels: np.ndarray) -> list[Any]:
        """One booster per code (None for a code with fewer than two positives or negatives: its prevalence)."""
        import lightgbm as lgb

        boosters: list[Any] = []
        x = x.astype(np.float32)
        for j in range(labels.shape[1]):
            y = labels[:, j].astype(int)
            positives = int(y.sum())
            if min(positives, len(y) - positives) < 2:
                boosters.append(None)
                continue
            weight = np.where(y == 1, (len(y) - positives) / positives, 1.0) if self.balanced else None
            data = lgb.Dataset(x, label=y, weight=weight, params={"verbose": -1, "feature_pre_filter": False})
            boosters.append(lgb.train(self._params(), data, num_boost_round=int(self.n_estimators)))
        return boosters

    @staticmethod
    def _predict(boosters: list[Any], prevalence: np.ndarray, x: Any) -> np.ndarray:
        out = np.tile(prevalence, (x.shape[0], 1)).astype(float)
        if x.shape[0]:
            x = x.astype(np.float32)
            for j, booster in enumerate(boosters):
                if booster is not None:
                    out[:, j] = booster.predict(x)
        return np.clip(out, 0.0, 1.0)

    def _fit(self, texts: list[str], labels: np.ndarray | None, *, codebook: Codebook | None, metadata: pd.DataFrame | None) -> None:
        assert labels is not None
        texts = with_context(texts, metadata, self.context_columns)
        self.vectorizer_, x = self._fit_features(texts)
        self.boosters_ = self._boost(x, labels)
        self.prevalence_ = labels.mean(axis=0) if len(labels) else np.zeros(labels.shape[1])
        if self.tune and len(texts) >= 2 * int(self.inner_folds):
            def fit_score(train: np.ndarray, test: np.ndarray) -> np.ndarray:
                vectorizers, x_train = self._fit_features([texts[i] for i in train])
                boosters = self._boost(x_train, labels[train])
                return self._predict(boosters, labels[train].mean(axis=0), self._transform(vectorizers, [texts[i] for i in test]))

            oof = out_of_fold(labels, n_splits=self.inner_folds, seed=self.seed, fit_score=fit_score)
            self.tuning_ = (labels, oof)
            self.thresholds_ = thresholds_from_out_of_fold(labels, oof)
        log.info("%s: %d features, %d codes", self.name, x.shape[1], labels.shape[1])

    def predict_proba(self, texts: Any, *, metadata: pd.DataFrame | None = None) -> np.ndarray:
        x = self._transform(self.vectorizer_, with_context(list(texts), metadata, self.context_columns))
        return self._predict(self.boosters_, self.prevalence_, x)

    # ----- persistence ------------------------------------------------------------------------------
    def training_text(self) -> str | None:
        return (f"vocabulary of word n-grams (1 to {self.max_ngram} words) from the training quotes ({STATE_JSON}), and the "
                f"terms the trees split on ({TREES}): phrases of the quotes can be read from them")

    def _save_state(self, folder: Path) -> None:
        vectorizer = self.vectorizer_[0]
        (folder / STATE_JSON).write_text(json.dumps({"vocabulary": terms(vectorizer)}, ensure_ascii=False), encoding="utf-8")
        np.savez(folder / IDF, idf=vectorizer.idf_)
        trees = {"prevalence": [float(p) for p in self.prevalence_],
                 "boosters": [None if b is None else b.model_to_string() for b in self.boosters_]}
        (folder / TREES).write_text(json.dumps(trees, ensure_ascii=False), encoding="utf-8")

    def _load_state(self, folder: Path) -> None:
        """Vocabulary (JSON), idf (.npz, no pickles) and trees (LightGBM text), checked against each other and the codes."""
        import lightgbm as lgb

        state_path, idf_path, trees_path = folder / STATE_JSON, folder / IDF, folder / TREES
        vocabulary = read_json(state_path).get("vocabulary")
        check_vocabulary(vocabulary, state_path, "vocabulary")
        idf = load_npz(idf_path, {"idf": 1})["idf"]
        expect_shape(idf_path, "idf", idf.shape, (len(vocabulary),), f"(one weight per term of the {len(vocabulary)} in {STATE_JSON})")
        trees = read_json(trees_path)
        k = len(self.codes_)
        prevalence = finite_numbers(trees.get("prevalence"), path=trees_path, field="prevalence")
        boosters = trees.get("boosters")
        if len(prevalence) != k or not isinstance(boosters, list) or len(boosters) != k:
            raise ModelFileError(f"expected {k} prevalences and {k} boosters (one per code)", file=trees_path, field="boosters")
        self.boosters_ = []
        for j, text in enumerate(boosters):
            if text is not None and not isinstance(text, str):
                raise ModelFileError("expected LightGBM model text or null", file=trees_path, field=f"boosters[{j}]")
            booster = None if text is None else lgb.Booster(model_str=text)
            if booster is not None and booster.num_feature() != len(vocabulary):
                raise ModelFileError(f"trees read {booster.num_feature()} features, the vocabulary has {len(vocabulary)}",
                                     file=trees_path, field=f"boosters[{j}]")
            self.boosters_.append(booster)
        self.prevalence_ = np.asarray(prevalence, dtype=float)
        self._restore_vectorizers([vocabulary], [idf])
