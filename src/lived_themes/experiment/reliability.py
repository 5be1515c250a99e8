"""The adjudication queue of a coding run: ``disagreements.csv`` and its summary in ``metrics.json``.

The statistics live in ``lived_themes.evaluation`` (plain functions); this module only reads the
config, picks the coder and quotes, and writes the file. The alt-test and AC1 / Brennan-Prediger
sections are built with the other metrics (:mod:`lived_themes.experiment.scoring`), the stability
across seeds with the cross-validation that it repeats (:mod:`lived_themes.experiment.coding`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lived_themes.corpus import Corpus
from lived_themes.config.coding import ExperimentConfig
from lived_themes.evaluation.adjudication import disagreement_queue, top_per_code
from lived_themes.corpus.model import agreement_codes
from lived_themes.files import csv_for_people, write_text_atomic


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def _adjudication_coder(config: ExperimentConfig) -> str:
    wanted = config.evaluation.adjudication.coder
    names = [c.name for c in config.coders]
    if wanted is not None:
        if wanted not in names:
            raise ValueError(f"evaluation.adjudication.coder {wanted!r} is not among the coders {names}")
        return wanted
    return next((n for n in names if "majority" not in n.lower()), names[0])


def write_disagreements(run_dir: Path, corpus: Corpus, codes: list[str], outputs: dict[tuple[str, str], dict[str, Any]],
                        config: ExperimentConfig, humans: list[str]) -> dict[str, Any]:
    """Write ``disagreements.csv`` (first split scheme, the configured coder) and return its summary for metrics.

    Over every code a human used (the model votes, with NaN, only on the codes it learnt), so a disagreement on
    a code the reference never used, or used too rarely to train on, is listed too."""

    options = config.evaluation.adjudication
    coder = _adjudication_coder(config)
    scheme = next(s for (s, c) in outputs if c == coder)
    out = outputs[(scheme, coder)]
    model_name = f"model:{coder}"
    all_codes = agreement_codes(corpus, humans, codes)
    matrices = corpus.label_matrices(humans, all_codes)
    extra = len(all_codes) - len(codes)
    pad = np.full((len(corpus), extra), np.nan)
    matrices[model_name] = np.hstack([np.asarray(out["predicted"], dtype=float), pad])
    scores = np.hstack([np.asarray(out["scores"], dtype=float), pad])
    queue = disagreement_queue(matrices, all_codes, corpus.quote_ids, humans=humans, model=model_name, model_scores=scores)
    codes = all_codes
    path = Path(run_dir) / "disagreements.csv"

    write_text_atomic(path, csv_for_people(queue))  # opened in a spreadsheet: formula-leading cells escaped
    top = top_per_code(queue, options.top_n)
    per_code = queue.groupby("code").size().to_dict()
    return {"file": path.name, "scheme": scheme, "coder": model_name, "humans": list(humans), "n_items": int(len(queue)),
            "per_code": {c: int(per_code.get(c, 0)) for c in codes},
            "top": _records(top[["quote_id", "code", "rank_in_code", "vote_entropy", "n_yes", "n_no", "model_said", "model_score"]])}
