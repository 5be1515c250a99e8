"""Single-label decisions for any coder: the top-scoring code, or none when even that score is low.

In single-label corpora (each quote carries one code or none) treating each code as an independent
yes/no leaves many quotes with no code and some with several. Here one threshold, the
"none-threshold", is tuned on held-out scores to maximise macro-F1 over the k codes + none.
The rule and its tuning live with every other decision in :mod:`lived_themes.coders.decision`;
this module keeps their old import path.
"""

from __future__ import annotations

from lived_themes.coders.decision import argmax_or_none, tune_none_threshold

LABEL_MODES = ("multi", "single")

__all__ = ["LABEL_MODES", "argmax_or_none", "tune_none_threshold"]
