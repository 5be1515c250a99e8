"""``lived-themes evaluate``: score predictions made elsewhere against human coders, by group."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from lived_themes.codebook import Codebook, load_codebook
from lived_themes.experiment.config import EvaluationConfig
from lived_themes.corpus import Corpus, load_annotations, read_table
from lived_themes.corpus.validate import normalise_ids
from lived_themes.errors import shown
from lived_themes.experiment.scoring import evaluate_predictions, human_agreement
from lived_themes.experiment.coding import resolve_reference
from lived_themes.jsonutil import jsonable


def _prediction_matrix(path: Path, quote_ids: list[str], codes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(scores, predicted) from predict output (id, codes, scores) or a long (quote_id, code) table; NaN where absent."""
    frame, name = read_table(path)
    for column in ("id", "quote_id"):  # the same id rule as every other input: 1.0 -> "1"
        if column in frame.columns:
            frame[column] = normalise_ids(frame[column].tolist(), file=name, field=column)
    index = {q: i for i, q in enumerate(quote_ids)}
    col = {c: j for j, c in enumerate(codes)}
    scores = np.full((len(quote_ids), len(codes)), np.nan)
    predicted = np.full_like(scores, np.nan)
    if {"id", "codes"} <= set(frame.columns):
        for row, (qid, row_codes, row_scores) in enumerate(zip(frame["id"], frame["codes"], frame.get("scores", [None] * len(frame))), start=1):
            if str(qid) not in index:
                raise ValueError(f"{name}: row {row}: prediction for unknown quote id {shown(qid)}")
            i = index[str(qid)]
            predicted[i] = 0.0
            for code in row_codes or []:
                if code not in col:
                    raise ValueError(f"{name}: row {row}: code {code!r} is not among the annotated codes {codes}")
                predicted[i, col[code]] = 1.0
            scores[i] = [float((row_scores or {}).get(c, predicted[i, j])) for j, c in enumerate(codes)]
    elif {"quote_id", "code"} <= set(frame.columns):
        for row, (qid, code) in enumerate(zip(frame["quote_id"].astype(str), frame["code"]), start=1):
            if qid not in index:
                raise ValueError(f"{name}: row {row}: prediction for unknown quote id {shown(qid)}")
            if isinstance(code, str) and code and code not in col:
                raise ValueError(f"{name}: row {row}: code {code!r} is not among the annotated codes {codes}")
            i = index[qid]
            if np.isnan(predicted[i]).all():
                predicted[i] = 0.0
            if isinstance(code, str) and code:
                predicted[i, col[code]] = 1.0
        scores = predicted.copy()
    else:
        raise ValueError(f"{name}: expected columns (id, codes, scores) or (quote_id, code); found {list(frame.columns)}")
    return scores, predicted


def evaluate_external(*, annotations: Path, predictions: Path, reference: str, quotes: Path | None, codebook: Path | None,
                      groups: list[str], model_name: str, out: Path, n_boot: int = 1000, seed: int = 0) -> Path:
    ann, _ = load_annotations(annotations)
    if quotes is not None:
        quote_table, _ = read_table(quotes)
    else:
        ids = list(dict.fromkeys(ann["quote_id"].astype(str)))
        quote_table = pd.DataFrame({"quote_id": ids, "text": ["(text not provided)"] * len(ids)})
    book: Codebook | None = load_codebook(codebook) if codebook else None
    corpus = resolve_reference(Corpus(quotes=quote_table, annotations=ann, codebook=book, name=Path(annotations).stem), reference)
    seen = corpus.seen_by(reference)
    evaluated = corpus.subset(np.asarray(corpus.quote_ids, dtype=object)[seen])
    codes = corpus.codes
    labels = evaluated.label_matrix(reference, codes)
    scores, predicted = _prediction_matrix(predictions, evaluated.quote_ids, codes)
    evaluation = EvaluationConfig(groups=groups, n_boot=n_boot)
    output = {"scores": scores, "predicted": predicted, "fold": np.full(len(labels), None), "seconds": {"fit": None, "predict": None}}
    result = evaluate_predictions(evaluated, labels, output, codes=codes, scheme="external", coder=model_name, reference=reference,
                                  evaluation=evaluation, seed=seed)
    humans = corpus.human_coders  # models and consensus coders never count as human
    metrics = jsonable({
        "experiment": f"evaluate {Path(predictions).name}",
        "description": f"predictions {predictions} against {annotations}",
        "reference": reference,
        "n_quotes": len(corpus),
        "n_evaluated": int(seen.sum()),
        "not_evaluated": [{"quote_id": q, "reason": f"not coded by reference coder {reference}"} for q in np.asarray(corpus.quote_ids, dtype=object)[~seen]],
        "codes": codes,
        "code_labels": {c: (book.code(c).label if book else c) for c in codes},
        "excluded_codes": [],
        "human_coders": humans,
        "groups": groups,
        "warnings": result.pop("warnings", []),
        "results": [result],
        "human_agreement": human_agreement(evaluated, codes, humans, evaluation, seed=seed),
    })
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False), encoding="utf-8")
    try:
        from lived_themes.report.build import write_report
    except ImportError:
        return out
    write_report(out, metrics, config=None, run_info=None)
    return out
