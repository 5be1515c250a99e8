"""A rough estimate of a run's time, printed before it starts, so a wrong split is not found out 20 minutes later.

The cost model is deliberately simple and documented (docs/configuration.md, "Estimated time"):

    seconds = sum over splits, folds and coders of  cost(coder) * training rows * max(1, codes) / 1000
            + the final model (once, on every row)
            + bootstrap: 0.002 s per resample per scored (split, coder) pair per 1000 quotes

``cost`` is seconds per 1000 training rows per code on one CPU core. The figures are a laptop's order of
magnitude (TF-IDF + logistic regression on 10,000 comments with ~40 codes: a few minutes per fold), not a
promise: sentence encoders and LLMs depend on the hardware and the service far more than on this table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: seconds per 1000 training rows per code, per fit (one CPU core, order of magnitude)
COST_PER_1000_ROWS_PER_CODE: dict[str, float] = {
    "majority.v1": 0.001,
    "tfidf-logreg.v1": 0.4,
    "tfidf-logreg.v2": 0.4,
    "knn.v1": 0.5,
    "embedding-logreg.v1": 1.0,
    "codebook-similarity.v1": 1.0,
    "calibrated.v1": 1.0,
    "topic-coder.v1": 2.0,
    "setfit.v1": 30.0,
    "setfit.v2": 30.0,
    "transformer.v1": 60.0,
    "ensemble.v1": 3.0,
    "llm.v1": 100.0,
}
#: coders without an entry
DEFAULT_COST = 5.0
#: seconds per bootstrap resample per 1000 quotes for one scored (split, coder)
BOOT_COST = 0.002


@dataclass
class Estimate:
    seconds: float
    fits: int

    def text(self) -> str:
        """'about 3 min (12 fits)': rounded, because it is a guess."""
        s = self.seconds
        when = ("under a minute" if s < 60 else f"about {s / 60:.0f} min" if s < 5400 else f"about {s / 3600:.1f} h")
        return f"{when} ({self.fits} model fit(s); a rough guess: docs/configuration.md, 'Estimated time')"


def estimate_seconds(coders: Sequence[str], train_sizes: Sequence[int], *, n_codes: int, n_rows: int,
                     n_boot: int = 0, final_coder: str | None = None, n_schemes: int = 1) -> Estimate:
    """``train_sizes``: training rows of every fold of every split; each coder is fitted once per fold."""
    codes = max(1, n_codes)
    seconds, fits = 0.0, 0
    for name in coders:
        cost = COST_PER_1000_ROWS_PER_CODE.get(name, DEFAULT_COST)
        seconds += sum(cost * size * codes / 1000 for size in train_sizes)
        fits += len(train_sizes)
    if final_coder:
        seconds += COST_PER_1000_ROWS_PER_CODE.get(final_coder, DEFAULT_COST) * n_rows * codes / 1000
        fits += 1
    seconds += BOOT_COST * n_boot * len(coders) * max(1, n_schemes) * n_rows / 1000
    return Estimate(seconds=seconds, fits=fits)
