"""Score calibration maps learned on held-out scores, stored as plain numbers (JSON), applied with numpy.

* Platt: ``sigmoid(a * logit(score) + b)``, two numbers per code; keeps the ranking, fixes over- or
  under-confidence; safe with few positives.
* Isotonic: a monotone step function (breakpoints x -> y, linearly interpolated); more flexible,
  needs more held-out positives.
A code with fewer than ``MIN_CLASS`` held-out positives (or negatives) is left as it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

METHODS = ("platt", "isotonic")
MIN_CLASS = 3
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def fit_calibration(y_true: np.ndarray, scores: np.ndarray, method: str, *, codes_mask: np.ndarray | None = None) -> list[dict[str, Any] | None]:
    """One map per code (None = identity) from held-out (labels, scores)."""
    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {METHODS}, got {method!r}")
    y = np.asarray(y_true, dtype=float) > 0.5
    s = np.asarray(scores, dtype=float)
    maps: list[dict[str, Any] | None] = []
    for j in range(y.shape[1]):
        positives = int(y[:, j].sum())
        if (codes_mask is not None and not codes_mask[j]) or min(positives, len(y) - positives) < MIN_CLASS:
            maps.append(None)
            continue
        if method == "platt":
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(C=100.0, max_iter=1000).fit(_logit(s[:, j])[:, None], y[:, j].astype(int))
            maps.append({"method": "platt", "a": float(model.coef_[0, 0]), "b": float(model.intercept_[0])})
        else:
            from sklearn.isotonic import IsotonicRegression

            model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s[:, j], y[:, j].astype(float))
            maps.append({"method": "isotonic", "x": [float(v) for v in model.X_thresholds_], "y": [float(v) for v in model.y_thresholds_]})
    return maps


def apply_calibration(scores: np.ndarray, maps: list[dict[str, Any] | None]) -> np.ndarray:
    """Scores with each code's map applied; identity where the map is None."""
    out = np.array(scores, dtype=float, copy=True)
    if out.ndim != 2 or out.shape[1] != len(maps):
        raise ValueError(f"{out.shape} scores for {len(maps)} calibration maps")
    for j, m in enumerate(maps):
        if m is None or not len(out):
            continue
        if m["method"] == "platt":
            out[:, j] = 1.0 / (1.0 + np.exp(-(m["a"] * _logit(out[:, j]) + m["b"])))
        else:
            out[:, j] = np.interp(out[:, j], np.asarray(m["x"], dtype=float), np.asarray(m["y"], dtype=float))
    return out
