"""Active learning: which quotes a researcher should code next, and which coded quotes a second coder should re-code.

Library functions on arrays (scores, thresholds, feature vectors); the ``review`` command in
``workflows/review.py`` is the application that reads a corpus and writes a review folder.
"""

from lived_themes.active.recode import choose_recodes, disagreement, out_of_fold_scores
from lived_themes.active.simulate import labels_saved, labels_to_reach, simulate
from lived_themes.active.strategies import STRATEGIES, select_batch, text_features, uncertainty

__all__ = ["STRATEGIES", "choose_recodes", "disagreement", "labels_saved", "labels_to_reach", "out_of_fold_scores",
           "select_batch", "simulate", "text_features", "uncertainty"]
