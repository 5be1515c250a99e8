"""``ensemble.v1``: several coders' scores combined, with the combination learned on inner folds.

Members are named like any coder (``{name: tfidf-logreg.v1, params: {...}}``). On ``inner_folds``
folds of the training quotes (grouped by ``inner_group`` when set), each member is fitted on the
other folds and scores the held-out one, giving out-of-fold (OOF) scores for every training quote.
From those, per code:

* ``combine="mean"``: a weighted mean of member scores (``weights``, equal by default);
* ``combine="stack"``: a logistic regression on the members' scores (stacking); a code with too
  few held-out positives falls back to the mean. Its scores for threshold tuning are cross-fitted over
  the inner folds, as stack-all's are (below): scored in-sample, the stack looked about 0.02 macro-F1
  better than it is on the NHS study's inner folds, enough to win ``final_model: best`` unfairly;
* ``combine="stack-all"``: stacking across codes: each code's logistic regression reads every
  member's scores for *every* code (as logits), so a code can lean on related codes ("staff
  listening" on "staff manner"); regularised by ``stack_C``. Its scores for threshold tuning are
  cross-fitted over the inner folds (a stacker never scores the OOF rows it was fitted on), then it
  is refitted on all OOF rows;

then optionally a calibration map (``calibration``: Platt or isotonic) and one threshold per code,
both tuned on the combined OOF scores. Finally each member is refitted on all training quotes.
Cost: each member is trained ``inner_folds + 1`` times; inside a run, a member fit already done on the
same rows (the standalone coder of the same fold, with equal parameters) is reused (``fit_cache``).

A member marked ``bag: true`` is not refitted: its inner-fold fits are kept and their scores averaged
(cross-validation bagging). It costs ``inner_folds`` fits instead of ``inner_folds + 1``, the final
member is itself an average of several models, and the thresholds are applied to scores of the very
models they were tuned on; but each of those models saw only ``(inner_folds - 1) / inner_folds`` of the
rows. On the NHS study (docs/benchmarks.md) it lost with 2 inner folds and won with 3, for the
fine-tuned transformer; it is off by default.

What each member brings is kept in ``contributions_`` (and saved): each member's and the
ensemble's inner macro-F1, the ensemble's without each member, and the weights. All of these use
thresholds tuned on the same OOF scores, so they compare members fairly but are optimistic.

Saved without pickle: ``ensemble.json`` (weights, stacking coefficients, calibration maps,
contributions) and each member in its own format in ``members/<i>-<name>/``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from lived_themes.coders._calibration import METHODS, apply_calibration, fit_calibration
from lived_themes.coders.base import Coder, load_coder, tune_thresholds
from lived_themes.coders.cross_validation import cross_val_scores
from lived_themes.coders.decision import tuned_macro_f1
from lived_themes.coders.fit_cache import fit_coder, where
from lived_themes import splits
from lived_themes.evaluation.calibration import expected_calibration_errors
from lived_themes.jsonutil import jsonable
from lived_themes.registry import CODERS, make_coder
from lived_themes.registry import check_params

if TYPE_CHECKING:
    import pandas as pd

    from lived_themes.codebook import Codebook

log = logging.getLogger(__name__)
STATE_FILE = "ensemble.json"
MEMBERS_DIR = "members"
COMBINES = ("mean", "stack", "stack-all")
DEFAULT_MEMBERS: list[dict[str, Any]] = [{"name": "tfidf-logreg.v1"}, {"name": "knn.v1"}]
#: Stacking needs this many held-out positives and negatives for a code, else the mean is used.
MIN_STACK_CLASS = 3


class EnsembleCoder(Coder):
    """Member coders' scores averaged or stacked per code, thresholds tuned on inner folds."""

    name: ClassVar[str] = "ensemble.v1"
    zero_shot: ClassVar[bool] = False

    def __init__(
        self,
        members: list[dict[str, Any] | str] | None = None,
        combine: str = "mean",
        weights: list[float] | None = None,
        calibration: str | None = None,
        inner_folds: int = 3,
        inner_group: str | None = None,
        tune: bool = True,
        seed: int = 0,
        label_mode: str = "multi",
        top_k: int | None = None,
        stack_C: float = 1.0,
    ) -> None:
        self._set_decision_params(label_mode, top_k)
        self.stack_C = stack_C  # the stacking regressions' C (inverse regularisation), "stack" and "stack-all"
        self.members = members
        self.combine = combine
        self.weights = weights
        self.calibration = calibration
        self.inner_folds = inner_folds
        self.inner_group = inner_group
        self.tune = tune
        self.seed = seed

    # ----- settings (a subclass may derive them from other parameters) -----------------------------
    def _member_specs(self) -> list[tuple[str, dict[str, Any]]]:
        raw = DEFAULT_MEMBERS if self.members is None else self.members
        if not raw:
            raise ValueError(f"{self.name}: members is empty; name at least one coder")
        specs = []
        for i, item in enumerate(raw):
            spec = {"name": item} if isinstance(item, str) else dict(item)
            unknown = set(spec) - {"name", "params", "bag"}
            if "name" not in spec or unknown:
                raise ValueError(f"{self.name}: members[{i}] must be {{name, params, bag}}; got keys {sorted(spec)}")
            if not isinstance(spec.get("bag", False), bool):
                raise ValueError(f"{self.name}: members[{i}].bag must be true or false, got {spec['bag']!r}")
            if spec["name"] not in CODERS:
                raise ValueError(f"{self.name}: members[{i}] names unknown coder {spec['name']!r}; registered: {sorted(CODERS)}")
            if spec["name"] in ("ensemble.v1", "calibrated.v1", "tuned.v1"):
                raise ValueError(f"{self.name}: members[{i}] is {spec['name']}; wrappers cannot be nested")
            specs.append((spec["name"], dict(spec.get("params") or {})))
        return specs

    def _bagged(self) -> list[bool]:
        """Per member: keep its inner-fold fits as its final model (``bag: true``) instead of refitting on all rows."""
        raw = DEFAULT_MEMBERS if self.members is None else self.members
        return [bool(item.get("bag", False)) if isinstance(item, dict) else False for item in raw]

    def _settings(self) -> dict[str, Any]:
        return {"combine": self.combine, "weights": self.weights, "calibration": self.calibration, "max_ece": None}

    def _check(self, n_members: int) -> dict[str, Any]:
        s = self._settings()
        if s["combine"] not in COMBINES:
            raise ValueError(f"combine must be one of {COMBINES}, got {s['combine']!r}")
        if s["calibration"] is not None and s["calibration"] not in METHODS:
            raise ValueError(f"calibration must be one of {METHODS} or null, got {s['calibration']!r}")
        if s["weights"] is not None:
            if len(s["weights"]) != n_members or min(s["weights"]) < 0 or sum(s["weights"]) <= 0:
                raise ValueError(f"weights must be {n_members} non-negative numbers with a positive sum, got {s['weights']}")
        if int(self.inner_folds) < 2:
            raise ValueError(f"inner_folds must be at least 2, got {self.inner_folds}")
        c = self._stack_c()
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not c > 0:
            raise ValueError(f"stack_C must be a number above 0, got {c!r}")
        return s

    def _stack_c(self) -> float:
        return getattr(self, "stack_C", 1.0)  # wrappers (calibrated.v1, tuned.v1) never stack

    def _check_params(self) -> None:
        """The settings and every member's own parameters, checked at config load as each coder's are."""

        super()._check_params()
        specs = self._member_specs()
        self._check(len(specs))
        for i, (name, params) in enumerate(specs):
            try:
                check_params(name, params)
            except ValueError as exc:
                raise ValueError(f"members[{i}]: {exc}") from None

    # ----- fitting -----------------------------------------------------------------------------------
    def _inner_folds(self, labels: np.ndarray, metadata: pd.DataFrame | None) -> list[Any] | None:
        if len(labels) < 2 * int(self.inner_folds):
            return None
        try:
            if self.inner_group:
                if metadata is None or self.inner_group not in metadata.columns:
                    raise ValueError(f"inner_group {self.inner_group!r} is not a metadata column")
                return splits.group_kfold(labels, metadata[self.inner_group].astype(str).to_numpy(), n_splits=self.inner_folds, seed=self.seed)
            return splits.kfold_multilabel(labels, n_splits=self.inner_folds, seed=self.seed)
        except ValueError as exc:
            if "inner_group" in str(exc):
                raise
            log.warning("%s: no inner folds (%s)", self.name, exc)
            return None

    def _member_oof(self, spec: tuple[str, dict[str, Any]], folds: list[Any], texts: list[str], labels: np.ndarray,
                    codebook: Codebook | None, metadata: pd.DataFrame | None, keep: list[Coder] | None = None) -> np.ndarray:
        """One member's out-of-fold scores on the inner folds (NaN where no fold tests a quote); each fold's fit is
        appended to ``keep`` when given (a bagged member's final model)."""

        def announce(f: int, fold: Any) -> None:
            log.info("%s: inner fold %d/%d, member %s", self.name, f, len(folds), spec[0])

        def kept(_fold: Any, coder: Coder, _test: np.ndarray, _scores: np.ndarray) -> None:
            if keep is not None:
                keep.append(coder)

        with where(f"{self.name} inner folds, member {spec[0]}"):
            return cross_val_scores(lambda: make_coder(spec[0], **spec[1]), texts, labels, self.codes_, folds, codebook=codebook,
                                    metadata=metadata, before_fold=announce, after_fold=kept).scores

    def _fit_member(self, spec: tuple[str, dict[str, Any]], texts: list[str], labels: np.ndarray, codebook: Codebook | None,
                    metadata: pd.DataFrame | None) -> Coder:
        with where(f"{self.name} member {spec[0]} on all its training rows"):  # often the same fit as the standalone coder's
            return fit_coder(make_coder(spec[0], **spec[1]), texts, labels, self.codes_, codebook=codebook, metadata=metadata)

    def _fit(self, texts: list[str], labels: np.ndarray | None, *, codebook: Codebook | None, metadata: pd.DataFrame | None) -> None:
        assert labels is not None
        specs = self._member_specs()
        settings = self._check(len(specs))
        m, (n, k) = len(specs), labels.shape
        folds = self._inner_folds(labels, metadata)
        oof: np.ndarray | None = None
        bags: list[list[Coder] | None] = [[] if bag else None for bag in self._bagged()]
        if folds is not None:
            oof = np.stack([self._member_oof(spec, folds, texts, labels, codebook, metadata, keep=bag) for spec, bag in zip(specs, bags)])
            tested = ~np.isnan(oof).any(axis=(0, 2))
            oof, y_oof = oof[:, tested], labels[tested]
            fold_of = _fold_of(folds, n)[tested]
        self._reset_combination(m, k)
        if oof is None:
            log.warning("%s: too few quotes (%d) for %d inner folds: equal-weight mean, members' mean thresholds", self.name, n, self.inner_folds)
        else:
            combined = self.fit_combination(oof, y_oof, fold_of)
            if settings["calibration"] is not None:
                mask = self._needs_calibration(y_oof, combined, settings["max_ece"])
                self.calibration_ = fit_calibration(y_oof, combined, settings["calibration"], codes_mask=mask)
                combined = apply_calibration(combined, self.calibration_)
            if self.tune:
                self.thresholds_ = tune_thresholds(y_oof, combined)
            self.tuning_ = (y_oof, combined)
            self.contributions_ = self._contributions(specs, oof, y_oof, combined, fold_of)
        if oof is None and any(bag is not None for bag in bags):
            log.warning("%s: no inner folds, so the bagged members are fitted on all rows like the others", self.name)
        self.members_ = [BaggedCoder(bag) if oof is not None and bag else self._fit_member(spec, texts, labels, codebook, metadata)
                         for spec, bag in zip(specs, bags)]
        if oof is None:
            self.thresholds_ = np.mean([mem.thresholds_ for mem in self.members_], axis=0)
            self.contributions_ = {"note": "no inner folds (too few quotes): members averaged with equal weights, nothing measured"}

    def _reset_combination(self, m: int, k: int) -> None:
        self.weights_ = self._mean_weights(self._settings()["weights"], m)
        self.coef_, self.intercept_ = np.zeros((k, m)), np.zeros(k)
        self.stacked_ = np.zeros(k, dtype=bool)
        self.cross_coef_: np.ndarray | None = None  # stack-all: (k, m * k) weights on every member's logit of every code
        self.calibration_: list[dict[str, Any] | None] = [None] * k  # none until fitted: fit_combination leaves a usable combiner

    def fit_combination(self, oof: np.ndarray, y: np.ndarray, fold_of: np.ndarray) -> np.ndarray:
        """Learn how to combine members' OOF scores (m, n, k); returns the combined scores thresholds are tuned on.

        ``fold_of`` (n,) is each row's inner fold. For ``stack`` and ``stack-all`` the returned scores are cross-fitted:
        each fold's rows are scored by a stacker fitted on the other folds' rows, so tuning thresholds (and
        the contributions) never read a stacker's scores on its own training rows. Public so a study can
        compare combinations from cached OOF scores with the ensemble's own code (benchmarks/nhs_recipe_cpu.py).
        """
        m, k = oof.shape[0], y.shape[1]
        self._reset_combination(m, k)
        combine = self._settings()["combine"]
        if combine in ("stack", "stack-all"):
            return self._cross_fitted_stack(oof, y, fold_of, across_codes=combine == "stack-all")
        return self._combine(oof, calibrate=False)

    def _cross_fitted_stack(self, oof: np.ndarray, y: np.ndarray, fold_of: np.ndarray, *, across_codes: bool) -> np.ndarray:
        """Fit the stack (per code, or across codes for stack-all) on all OOF rows; return its cross-fitted scores: each
        fold's rows scored by a stack fitted on the other folds' rows (the weighted mean where a code cannot be stacked)."""
        fit = self._fit_cross_stack if across_codes else self._fit_stack
        self.cross_coef_, self.stacked_ = None, np.zeros(y.shape[1], dtype=bool)
        combined = self._combine(oof, calibrate=False)  # nothing stacked yet: the weighted mean
        for f in np.unique(fold_of):
            train, test = fold_of != f, fold_of == f
            if train.any() and test.any():
                coef, intercept, stacked = fit(oof[:, train], y[train])
                combined[np.ix_(test, stacked)] = _stacked_scores(oof[:, test], coef, intercept, across_codes=across_codes)[:, stacked]
        coef, self.intercept_, self.stacked_ = fit(oof, y)
        if across_codes:
            self.cross_coef_ = coef
        else:
            self.coef_ = coef
        return combined

    def _fit_cross_stack(self, oof: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per code, a logistic regression on every member's logit of every code: (coef (k, m*k), intercept (k,), stacked (k,))."""
        from sklearn.linear_model import LogisticRegression

        x = _cross_features(oof)
        k = y.shape[1]
        coef, intercept, stacked = np.zeros((k, x.shape[1])), np.zeros(k), np.zeros(k, dtype=bool)
        for j in range(k):
            positives = int(y[:, j].sum())
            if min(positives, len(y) - positives) < MIN_STACK_CLASS:
                continue
            model = LogisticRegression(C=float(self._stack_c()), max_iter=1000, random_state=self.seed).fit(x, y[:, j].astype(int))
            coef[j], intercept[j], stacked[j] = model.coef_[0], model.intercept_[0], True
        return coef, intercept, stacked

    @staticmethod
    def _mean_weights(weights: list[float] | None, m: int) -> np.ndarray:
        w = np.ones(m) if weights is None else np.asarray(weights, dtype=float)
        return w / w.sum()

    @staticmethod
    def _needs_calibration(y: np.ndarray, scores: np.ndarray, max_ece: float | None) -> np.ndarray | None:
        if max_ece is None:
            return None

        return expected_calibration_errors(y, scores) > max_ece

    def _fit_stack(self, oof: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per code, a logistic regression on the members' scores for that code: (coef (k, m), intercept (k,), stacked (k,))."""
        from sklearn.linear_model import LogisticRegression

        m, k = oof.shape[0], y.shape[1]
        coef, intercept, stacked = np.zeros((k, m)), np.zeros(k), np.zeros(k, dtype=bool)
        for j in range(k):
            positives = int(y[:, j].sum())
            if min(positives, len(y) - positives) < MIN_STACK_CLASS:
                continue
            model = LogisticRegression(C=float(self._stack_c()), max_iter=1000, random_state=self.seed).fit(oof[:, :, j].T, y[:, j].astype(int))
            coef[j], intercept[j], stacked[j] = model.coef_[0], model.intercept_[0], True
        return coef, intercept, stacked

    def _combine(self, member_scores: np.ndarray, *, calibrate: bool = True) -> np.ndarray:
        """(m, n, k) member scores -> (n, k) ensemble scores."""
        out = np.einsum("m,mnk->nk", self.weights_, member_scores)
        if self.stacked_.any():
            across_codes = getattr(self, "cross_coef_", None) is not None
            coef = self.cross_coef_ if across_codes else self.coef_
            out[:, self.stacked_] = _stacked_scores(member_scores, coef, self.intercept_, across_codes=across_codes)[:, self.stacked_]
        return apply_calibration(out, self.calibration_) if calibrate else out

    def _own_code_coef(self) -> np.ndarray:
        """(k, m): each member's stacking weight on its score for the code itself (stack-all: out of its m * k)."""
        if getattr(self, "cross_coef_", None) is None:
            return self.coef_
        k = len(self.codes_)
        m = self.cross_coef_.shape[1] // k
        return np.stack([self.cross_coef_[np.arange(k), i * k + np.arange(k)] for i in range(m)], axis=1)

    def _contributions(self, specs: list[tuple[str, dict[str, Any]]], oof: np.ndarray, y: np.ndarray, combined: np.ndarray,
                       fold_of: np.ndarray) -> dict[str, Any]:
        members = []
        own = self._own_code_coef()
        for i, (name, _) in enumerate(specs):
            row: dict[str, Any] = {"name": name, "inner_macro_f1": tuned_macro_f1(y, oof[i]), "mean_weight": float(self.weights_[i])}
            if len(specs) > 1:
                keep = [x for x in range(len(specs)) if x != i]
                row["ensemble_without_macro_f1"] = tuned_macro_f1(y, self._without(oof, keep, y, fold_of))
            if self.stacked_.any():
                row["mean_stacking_coef"] = float(own[self.stacked_, i].mean())
            members.append(row)
        return {
            "inner_folds": int(self.inner_folds),
            "n_quotes": int(len(y)),
            "combine": self._settings()["combine"],
            "ensemble_inner_macro_f1": tuned_macro_f1(y, combined),
            "members": members,
            "stacked_codes": [c for c, s in zip(self.codes_, self.stacked_) if s],
            "stacking_coef": {c: [float(v) for v in own[j]] for j, c in enumerate(self.codes_) if self.stacked_[j]},
            "note": "inner out-of-fold scores; every figure at thresholds tuned on those same scores (comparable, optimistic)",
        }

    def _without(self, oof: np.ndarray, keep: list[int], y: np.ndarray, fold_of: np.ndarray) -> np.ndarray:
        """Combined OOF scores of the ensemble refitted on a subset of members (weights and stack only)."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.weights_ = self.weights_[keep] / self.weights_[keep].sum()
        clone.coef_, clone.intercept_ = np.zeros((y.shape[1], len(keep))), np.zeros(y.shape[1])
        clone.stacked_ = np.zeros(y.shape[1], dtype=bool)
        combine = self._settings()["combine"]
        if combine in ("stack", "stack-all"):
            return clone._cross_fitted_stack(oof[keep], y, fold_of, across_codes=combine == "stack-all")
        return clone._combine(oof[keep], calibrate=False)

    # ----- predicting --------------------------------------------------------------------------------
    def input_columns(self) -> list[str]:
        """Every member's context columns, in order, once each."""
        members = getattr(self, "members_", [])
        return list(dict.fromkeys(c for member in members for c in member.input_columns()))

    def member_scores(self, texts: Sequence[str], *, metadata: pd.DataFrame | None = None) -> np.ndarray:
        """(m, n, k): each member's scores, for inspecting what the ensemble combined."""
        texts = list(texts)
        return np.stack([mem.predict_proba(texts, metadata=metadata) for mem in self.members_])

    def predict_proba(self, texts: Sequence[str], *, metadata: pd.DataFrame | None = None) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.codes_)))
        return np.clip(self._combine(self.member_scores(texts, metadata=metadata)), 0.0, 1.0)

    def contributions(self) -> dict[str, Any]:
        """What each member brought, measured on inner folds when fitting (see the module docstring)."""
        return self.contributions_

    # ----- persistence -------------------------------------------------------------------------------
    def training_text(self) -> str | None:
        notes = [f"{member.name}: {note}" for member in self.members_ if (note := member.training_text())]
        return "; ".join(notes) or None

    def _member_folder(self, i: int, name: str) -> str:
        return f"{MEMBERS_DIR}/{i}-{name}"

    def _save_state(self, folder: Path) -> None:
        subfolders: list[str | list[str]] = []
        for i, member in enumerate(self.members_):
            sub = self._member_folder(i, member.name)
            member.save(folder / sub)
            subfolders.append([f"{sub}/{fold}" for fold in member.fold_folders()] if isinstance(member, BaggedCoder) else sub)
        state = {
            "members": subfolders,
            "weights": self.weights_.tolist(),
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_.tolist(),
            "stacked": self.stacked_.astype(bool).tolist(),
            **({"cross_coef": self.cross_coef_.tolist()} if getattr(self, "cross_coef_", None) is not None else {}),
            "calibration": self.calibration_,
            "contributions": jsonable(self.contributions_),
        }
        (folder / STATE_FILE).write_text(json.dumps(state, indent=2, ensure_ascii=False, allow_nan=False), encoding="utf-8")

    def _load_state(self, folder: Path) -> None:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        self.members_ = []
        for sub in state["members"]:
            if isinstance(sub, list) and sub:  # a bagged member: its inner-fold fits
                self.members_.append(BaggedCoder([self._load_member(folder, fold) for fold in sub]))
            else:
                self.members_.append(self._load_member(folder, sub))
        self.weights_ = np.asarray(state["weights"], dtype=float)
        self.coef_ = np.asarray(state["coef"], dtype=float).reshape(len(self.codes_), len(self.members_))
        self.intercept_ = np.asarray(state["intercept"], dtype=float)
        self.stacked_ = np.asarray(state["stacked"], dtype=bool)
        k, m = len(self.codes_), len(self.members_)
        self.cross_coef_ = np.asarray(state["cross_coef"], dtype=float).reshape(k, m * k) if "cross_coef" in state else None
        self.calibration_ = list(state["calibration"])
        self.contributions_ = state["contributions"]

    def _load_member(self, folder: Path, sub: Any) -> Coder:
        if not isinstance(sub, str) or not sub:
            raise ValueError(f"{folder / STATE_FILE}: a member folder must be a relative path, got {sub!r}")
        path = (folder / sub).resolve()
        if folder.resolve() not in path.parents:
            raise ValueError(f"{folder / STATE_FILE}: member folder {sub!r} lies outside the model folder")
        member = load_coder(path)
        if member.codes_ != self.codes_:
            raise ValueError(f"{path}: member codes differ from the ensemble's")
        return member


class BaggedCoder:
    """One ensemble member's inner-fold fits, kept as its final model (``bag: true``): their scores averaged.

    Not a registered coder: it lives only inside an ensemble, saved as one folder per fit
    (``members/<i>-<name>/fold-<f>/``), each a complete saved coder checked on load like any other.
    """

    def __init__(self, fits: Sequence[Coder]) -> None:
        if not fits:
            raise ValueError("a bagged member needs at least one fit")
        self.members_ = list(fits)
        self.name = self.members_[0].name
        self.codes_ = list(self.members_[0].codes_)

    def _member_folder(self, f: int, name: str) -> str:  # the ONNX export walks a bag's fits as an ensemble's members
        return f"fold-{f}"

    def fold_folders(self) -> list[str]:
        return [self._member_folder(f, fit.name) for f, fit in enumerate(self.members_)]

    def input_columns(self) -> list[str]:
        return self.members_[0].input_columns()

    def predict_proba(self, texts: Sequence[str], *, metadata: pd.DataFrame | None = None) -> np.ndarray:
        texts = list(texts)
        return np.mean([fit.predict_proba(texts, metadata=metadata) for fit in self.members_], axis=0)

    def training_text(self) -> str | None:
        return self.members_[0].training_text()

    def save(self, folder: Path) -> Path:
        for f, fit in enumerate(self.members_):
            fit.save(Path(folder) / self._member_folder(f, fit.name))
        return Path(folder)


class OneCoderWrapper(EnsembleCoder):
    """An ensemble of one: the wrapped ``coder`` is its only member (``calibrated.v1``, ``tuned.v1``)."""

    coder: dict[str, Any] | str

    def _member_specs(self) -> list[tuple[str, dict[str, Any]]]:
        self.members = [self.coder]
        return super()._member_specs()


def _fold_of(folds: list[Any], n: int) -> np.ndarray:
    """(n,) each row's inner fold (the fold that tests it; -1 where none does)."""
    out = np.full(n, -1)
    for f, fold in enumerate(folds):
        out[np.asarray(fold.test_idx)] = f
    return out


def _stacked_scores(member_scores: np.ndarray, coef: np.ndarray, intercept: np.ndarray, *, across_codes: bool) -> np.ndarray:
    """(m, n, k) member scores -> (n, k) the stacking regressions' probabilities: per code on the members' scores for it
    (coef (k, m)), or across codes on every member's logit of every code (coef (k, m * k))."""
    if across_codes:
        logits = _cross_features(member_scores) @ coef.T
    else:
        logits = np.einsum("km,mnk->nk", coef, member_scores)
    return 1.0 / (1.0 + np.exp(-(logits + intercept[None, :])))


def _cross_features(member_scores: np.ndarray) -> np.ndarray:
    """(m, n, k) scores -> (n, m * k) logits, member-major: what each stack-all regression reads."""
    p = np.clip(np.asarray(member_scores, dtype=float), 1e-6, 1 - 1e-6)
    m, n, k = p.shape
    return np.transpose(np.log(p / (1 - p)), (1, 0, 2)).reshape(n, m * k)
