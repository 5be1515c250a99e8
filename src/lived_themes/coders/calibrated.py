"""``calibrated.v1``: any coder with its scores calibrated on inner folds, so a score reads as a probability.

Wraps one coder (``coder: {name, params}``): its out-of-fold scores on ``inner_folds`` folds of
the training quotes fit a Platt or isotonic map per code, thresholds are retuned on the calibrated
scores, and the coder is refitted on all quotes. With ``max_ece`` set, only codes whose inner
expected calibration error exceeds it are calibrated (the others keep their raw scores). To turn
calibration off, list the coder itself instead of this wrapper.

It is a one-member :class:`~lived_themes.coders.ensemble.EnsembleCoder`, saved the same way.
"""

from __future__ import annotations

from typing import Any, ClassVar

from lived_themes.coders.ensemble import OneCoderWrapper


class CalibratedCoder(OneCoderWrapper):
    """One coder, its scores mapped through a per-code Platt or isotonic calibration learned on inner folds."""

    name: ClassVar[str] = "calibrated.v1"

    def __init__(
        self,
        coder: dict[str, Any] | str = "tfidf-logreg.v1",
        method: str = "platt",
        max_ece: float | None = None,
        inner_folds: int = 3,
        inner_group: str | None = None,
        seed: int = 0,
        label_mode: str = "multi",
        top_k: int | None = None,
    ) -> None:
        self._set_decision_params(label_mode, top_k)
        self.coder = coder
        self.method = method
        self.max_ece = max_ece
        self.inner_folds = inner_folds
        self.inner_group = inner_group
        self.seed = seed
        self.tune = True

    def _settings(self) -> dict[str, Any]:
        return {"combine": "mean", "weights": None, "calibration": self.method, "max_ece": self.max_ece}
