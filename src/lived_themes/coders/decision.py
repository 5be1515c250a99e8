"""The one rule that turns scores into codes, owned by each coder and used by everything that holds scores.

A :class:`Decision` is a coder's per-code thresholds plus its choice rule: ``top_k`` (only a quote's
``top_k`` highest scores can become codes) or single-label mode (the top code, or none when even that
score is below the none-threshold). ``Coder.decision`` builds it from the fitted coder; ``predict``,
evidence, cross-validation, review, simulation, re-coding and topic scoring all call it, so a coder's
rule gives the same codes wherever its scores are turned into codes. ``tests/test_decision.py`` fails
if any other module compares scores with thresholds.

Also here: the tuning that sets a decision from held-out scores (:func:`tune_decision`), and the one
"macro-F1 at tuned thresholds" figure (:func:`tuned_macro_f1`) that early stopping, ensembles'
contributions and the choice of the best coder all use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


#: ``multi``: each code its own yes/no; ``single``: the top code or none; ``auto``: single when every training quote has at most one code.
LABEL_MODES = ("multi", "single", "auto")


def check_decision_params(label_mode: str, top_k: int | None) -> None:
    """ValueError for a label mode or ``top_k`` no decision can use; constructors call it, so config load does too."""
    if label_mode not in LABEL_MODES:
        raise ValueError(f"label_mode must be one of {LABEL_MODES}, got {label_mode!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1):
        raise ValueError(f"top_k must be at least 1 (a whole number) or null, got {top_k!r}")


def argmax_or_none(scores: np.ndarray, none_threshold: float) -> np.ndarray:
    """(n, k) 0/1 with at most one 1 per row: the highest score if it reaches ``none_threshold``."""
    scores = np.asarray(scores, dtype=float)
    out = np.zeros(scores.shape, dtype=int)
    if scores.size == 0:
        return out
    top = scores.argmax(axis=1)
    hit = scores[np.arange(len(scores)), top] >= none_threshold
    out[np.flatnonzero(hit), top[hit]] = 1
    return out


def at_thresholds(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(n, k) bool: each score compared with its code's threshold (``thresholds`` (k,) or (n, k))."""
    scores = np.asarray(scores, dtype=float)
    t = np.asarray(thresholds, dtype=float)
    return scores >= (t[None, :] if t.ndim == 1 else t)


#: The thresholds every coder's tuning tries: 0.05 to 0.95 by 0.05.
THRESHOLD_GRID = np.linspace(0.05, 0.95, 19)


def f1_curve(y_true: np.ndarray, scores: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(len(grid),) one code's F1 at each threshold of ``grid``, from its (n,) 0/1 labels and (n,) scores."""
    truth = np.asarray(y_true, dtype=bool)[:, None]
    predicted = np.asarray(scores, dtype=float)[:, None] >= np.asarray(grid, dtype=float)[None, :]
    tp, fp, fn = (predicted & truth).sum(0), (predicted & ~truth).sum(0), (~predicted & truth).sum(0)
    return np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)


def tune_thresholds(y_true: np.ndarray, scores: np.ndarray, *, grid: np.ndarray | None = None, default: float = 0.5) -> np.ndarray:
    """Per-code threshold that maximises F1 on held-out data; codes with no positives keep ``default``.

    Shared by every coder that tunes thresholds, so they all tune them the same way.
    """
    grid = THRESHOLD_GRID if grid is None else grid
    y_true = np.asarray(y_true, dtype=bool)
    thresholds = np.full(y_true.shape[1], default)
    for j in range(y_true.shape[1]):
        if y_true[:, j].any():
            thresholds[j] = grid[int(np.argmax(f1_curve(y_true[:, j], scores[:, j], grid)))]
    return thresholds


def tune_none_threshold(y_true: np.ndarray, scores: np.ndarray, *, grid: np.ndarray | None = None, default: float = 0.5) -> float:
    """The none-threshold that maximises macro-F1 over codes + none on held-out scores (ties: the lowest)."""
    y = np.asarray(y_true, dtype=float)
    s = np.asarray(scores, dtype=float)
    if not len(y) or y.shape != s.shape:
        return default
    grid = np.unique(np.concatenate([np.linspace(0.0, 1.0, 41), np.quantile(s.max(axis=1), np.linspace(0, 1, 21))])) if grid is None else grid
    best, best_f1 = default, -1.0
    for t in grid:
        f1 = _single_label_scores()(y, argmax_or_none(s, float(t)))["macro_f1_with_none"]
        if f1 > best_f1 + 1e-12:
            best, best_f1 = float(t), f1
    return best


@dataclass(frozen=True, eq=False)
class Decision:
    """Thresholds and rule of one fitted coder: ``codes_from_scores`` is the only way scores become codes."""

    thresholds: np.ndarray = field(repr=False)
    #: only a quote's top_k highest scores may become codes (None: any number)
    top_k: int | None = None
    #: single-label mode when set: the top code is given only if its score reaches this
    none_threshold: float | None = None

    def __post_init__(self) -> None:
        thresholds = np.array(self.thresholds, dtype=float)  # a copy, read-only: the decision cannot change under its user
        thresholds.flags.writeable = False
        object.__setattr__(self, "thresholds", thresholds)

    @property
    def single_label(self) -> bool:
        return self.none_threshold is not None

    def codes_from_scores(self, scores: np.ndarray) -> np.ndarray:
        """(n, k) 0/1 int codes from (n, k) scores."""
        scores = np.asarray(scores, dtype=float)
        if self.none_threshold is not None:
            return argmax_or_none(scores, self.none_threshold)
        chosen = at_thresholds(scores, self.thresholds)
        if self.top_k is not None and scores.ndim == 2 and self.top_k < scores.shape[1]:
            ranks = np.argsort(np.argsort(-scores, axis=1, kind="stable"), axis=1, kind="stable")
            chosen &= ranks < self.top_k
        return chosen.astype(int)

    def chosen(self, scores: np.ndarray, codes: Sequence[str]) -> list[list[str]]:
        """Per quote, the names of the codes it is given, in ``codes`` order."""
        return chosen_names(self.codes_from_scores(scores), codes)


def chosen_names(predicted: np.ndarray, codes: Sequence[str]) -> list[list[str]]:
    """Per row of an (n, k) 0/1 matrix of given codes, their names in ``codes`` order."""
    names = list(codes)
    return [[names[j] for j in np.flatnonzero(np.asarray(row) > 0.5)] for row in np.asarray(predicted)]


def decision_of(coder: object) -> Decision:
    """A coder's decision: its ``decision`` property, or for a duck-typed coder one built from ``thresholds_``
    (and ``top_k`` / ``none_threshold_`` when it has them)."""
    decision = getattr(coder, "decision", None)
    if isinstance(decision, Decision):
        return decision
    return Decision(np.asarray(coder.thresholds_, dtype=float), top_k=getattr(coder, "top_k", None),
                    none_threshold=getattr(coder, "none_threshold_", None))


def tune_decision(y_true: np.ndarray, scores: np.ndarray, *, label_mode: str = "multi", top_k: int | None = None,
                  default: float = 0.5) -> Decision:
    """A decision tuned on held-out (labels, scores): per-code F1-best thresholds, or in single-label mode the none-threshold.

    The wrapper every coder's tuning comes down to, whatever its held-out scores are (inner folds,
    a validation split, leave-one-out): like scikit-learn's ``TunedThresholdClassifierCV``, it only
    needs labels and scores the coder did not learn from.
    """
    thresholds = tune_thresholds(y_true, scores, default=default)
    if label_mode == "single":
        return Decision(thresholds, none_threshold=tune_none_threshold(y_true, scores))
    return Decision(thresholds, top_k=top_k)


def tuned_macro_f1(y_true: np.ndarray, scores: np.ndarray, *, single_label: bool = False, cross_fit: bool = False,
                   seed: int = 0) -> float:
    """Macro-F1 of held-out scores at a decision tuned on them: the figure a saved model will be used at.

    ``cross_fit=False`` tunes on the very scores it rates (comparable between members, optimistic);
    ``cross_fit=True`` tunes on one random half and rates the other, and back, so a coder that tuned
    many thresholds on few validation quotes is not favoured for fitting them.
    """
    y, s = np.asarray(y_true, dtype=float), np.asarray(scores, dtype=float)

    def decide(tune_y: np.ndarray, tune_s: np.ndarray, rate_s: np.ndarray) -> np.ndarray:
        if single_label:
            return Decision(np.full(y.shape[1], 0.5), none_threshold=tune_none_threshold(tune_y, tune_s)).codes_from_scores(rate_s)
        return Decision(tune_thresholds(tune_y, tune_s)).codes_from_scores(rate_s)

    if not cross_fit:
        return float(_macro_f1()(y, decide(y, s, s).astype(float)))
    halves = np.array_split(np.random.default_rng(seed).permutation(len(y)), 2)
    predicted = np.zeros_like(y)
    for tune_on, rate_on in (halves, halves[::-1]):
        predicted[rate_on] = decide(y[tune_on], s[tune_on], s[rate_on])
    return float(_macro_f1()(y, predicted))


def _macro_f1():  # type: ignore[no-untyped-def]
    """The metric, loaded on first use: evaluation.metrics loads pandas, which a model folder's summary
    (``lived-themes model-info``) and ``import lived_themes`` must not pay for."""
    from lived_themes.evaluation.metrics import macro_f1

    return macro_f1


def _single_label_scores():  # type: ignore[no-untyped-def]
    """As :func:`_macro_f1`: loaded on first use."""
    from lived_themes.evaluation.single_label import single_label_scores

    return single_label_scores
