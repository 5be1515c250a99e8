"""A rough estimate of a run's time, printed before it starts, so a wrong split is not found out 20 minutes later.

The cost model is deliberately simple and documented (docs/configuration.md, "Estimated time"):

    seconds = sum over splits, folds and coders of  fit(coder, training rows)
            + the final model (once, on every row, when it is refitted)
            + bootstrap: 0.002 s per resample per scored (split, coder) pair per 1000 quotes

A coder that fits one model per code (TF-IDF + logistic regression) costs ``cost * rows * codes / 1000``;
one whose time is its sentence encoder costs ``cost * rows / 1000`` whatever the number of codes, and a
fine-tuned transformer that per epoch. An ensemble costs its members' inner-fold fits; its members' fits on
all training rows are the run's own coders' when the run lists the same coder, so they are not counted twice.

The measured figures come from the NHS experiment (4,742 training comments, 35 codes), run alone on a 2-core
machine (docs/configuration.md): an order of magnitude for a laptop, not a promise. Coders never measured
here keep a guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: seconds per 1000 training rows per code, per fit: coders that fit one model per code (or unmeasured guesses)
COST_PER_1000_ROWS_PER_CODE: dict[str, float] = {
    "majority.v1": 0.001,
    "tfidf-logreg.v1": 0.1,
    "tfidf-logreg.v2": 0.11,  # measured: 17.6 s for 4,742 rows and 35 codes (word and character n-grams)
    "calibrated.v1": 1.0,
    "topic-coder.v1": 2.0,
    "setfit.v1": 30.0,
    "setfit.v2": 30.0,
    "llm.v1": 100.0,
}
#: seconds per 1000 training rows, per fit, whatever the number of codes: coders whose time is the sentence encoder
COST_PER_1000_ROWS: dict[str, float] = {
    "knn.v1": 3.8,  # measured: 18.0 s for 4,742 rows
    "embedding-logreg.v1": 5.2,  # measured: 24.6 s for 4,742 rows, 35 codes
    "codebook-similarity.v1": 4.0,
}
#: seconds per 1000 training rows per epoch (``epochs``, the coder's default when not given; early stopping may end sooner)
COST_PER_1000_ROWS_PER_EPOCH: dict[str, float] = {
    "transformer.v1": 12.8,  # measured: 364 s for 4,742 rows, epochs 6, patience 2
}
DEFAULT_EPOCHS = {"transformer.v1": 3}
#: seconds per 1000 rows per code for a coder without an entry
DEFAULT_COST = 5.0
#: seconds per bootstrap resample per 1000 quotes for one scored (split, coder)
BOOT_COST = 0.002

#: a coder as a name, or (name, params) as the experiment lists it
CoderSpec = str | tuple[str, Mapping[str, Any]]


def _spec(coder: CoderSpec) -> tuple[str, dict[str, Any]]:
    return (coder, {}) if isinstance(coder, str) else (str(coder[0]), dict(coder[1] or {}))


def fit_seconds(coder: CoderSpec, rows: int, codes: int, *, listed: Sequence[CoderSpec] = ()) -> float:
    """One fit of ``coder`` on ``rows`` training rows; ``listed``: the run's coders, whose full fits an ensemble reuses."""
    name, params = _spec(coder)
    if name in COST_PER_1000_ROWS_PER_EPOCH:
        return COST_PER_1000_ROWS_PER_EPOCH[name] * rows * int(params.get("epochs", DEFAULT_EPOCHS[name])) / 1000
    if name in COST_PER_1000_ROWS:
        return COST_PER_1000_ROWS[name] * rows / 1000
    if name == "ensemble.v1" and params.get("members"):
        folds = max(2, int(params.get("inner_folds", 3)))
        inner_rows = int(rows * (folds - 1) / folds)
        run_coders = [_spec(c) for c in listed]
        total = 0.0
        for member in params["members"]:
            spec = _spec((member.get("name"), member.get("params")))
            total += folds * fit_seconds(spec, inner_rows, codes)
            if spec not in run_coders:  # a member the run does not list is fitted on all rows as well
                total += fit_seconds(spec, rows, codes)
        return total
    return COST_PER_1000_ROWS_PER_CODE.get(name, DEFAULT_COST) * rows * max(1, codes) / 1000


@dataclass
class Estimate:
    seconds: float
    fits: int

    def text(self) -> str:
        """'about 3 min (12 fits)': rounded, because it is a guess."""
        s = self.seconds
        when = ("under a minute" if s < 60 else f"about {s / 60:.0f} min" if s < 5400 else f"about {s / 3600:.1f} h")
        return f"{when} ({self.fits} model fit(s); a rough guess: docs/configuration.md, 'Estimated time')"


def estimate_seconds(coders: Sequence[CoderSpec], train_sizes: Sequence[int], *, n_codes: int, n_rows: int,
                     n_boot: int = 0, final_coder: CoderSpec | None = None, n_schemes: int = 1) -> Estimate:
    """``coders``: names or (name, params); ``train_sizes``: training rows of every fold of every split (one fit each)."""
    codes = max(1, n_codes)
    seconds, fits = 0.0, 0
    for coder in coders:
        seconds += sum(fit_seconds(coder, size, codes, listed=coders) for size in train_sizes)
        fits += len(train_sizes)
    if final_coder:
        seconds += fit_seconds(final_coder, n_rows, codes, listed=coders)
        fits += 1
    seconds += BOOT_COST * n_boot * len(coders) * max(1, n_schemes) * n_rows / 1000
    return Estimate(seconds=seconds, fits=fits)
