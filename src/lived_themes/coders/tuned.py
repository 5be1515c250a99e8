"""``tuned.v1``: any coder with its decision tuned on inner folds, as scikit-learn's ``TunedThresholdClassifierCV``.

Wraps one coder (``coder: {name, params}``): its out-of-fold scores on ``inner_folds`` folds of the
training quotes (grouped by ``inner_group`` when set; ``coders.cross_validation``) tune the decision,
one threshold per code or, with ``label_mode: single``, the none-threshold (``coders.decision``), and
the coder is refitted on all quotes. So a coder that cannot tune itself (``setfit.v1``, a zero-shot
coder given labels) or tunes on a small validation split gets thresholds from every training quote.

It is a one-member :class:`~lived_themes.coders.ensemble.EnsembleCoder` without calibration, saved the same way.
"""

from __future__ import annotations

from typing import Any, ClassVar

from lived_themes.coders.ensemble import OneCoderWrapper


class TunedThresholdsCoder(OneCoderWrapper):
    """One coder, its thresholds (or single-label none-threshold) tuned on its out-of-fold scores."""

    name: ClassVar[str] = "tuned.v1"

    def __init__(
        self,
        coder: dict[str, Any] | str = "tfidf-logreg.v1",
        inner_folds: int = 3,
        inner_group: str | None = None,
        seed: int = 0,
        label_mode: str = "multi",
        top_k: int | None = None,
    ) -> None:
        self._set_decision_params(label_mode, top_k)
        self.coder = coder
        self.inner_folds = inner_folds
        self.inner_group = inner_group
        self.seed = seed
        self.tune = True

    def _settings(self) -> dict[str, Any]:
        return {"combine": "mean", "weights": None, "calibration": None, "max_ece": None}
