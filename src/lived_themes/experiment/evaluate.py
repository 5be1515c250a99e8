"""``lived-themes evaluate``: score predictions made elsewhere against human coders, by group."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from lived_themes.codebook import Codebook, load_codebook
from lived_themes.experiment.config import EvaluationConfig
from lived_themes.corpus import Corpus, load_annotations, read_table
from lived_themes.experiment.scoring import evaluate_predictions, human_agreement, privacy_floor
from lived_themes.experiment.coding import resolve_reference
from lived_themes.jsonutil import jsonable

log = logging.getLogger(__name__)


def _prediction_matrix(path: Path, quote_ids: list[str], codes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(scores, predicted) from predict output (id, codes, scores) or a long (quote_id, code) table; NaN where absent."""
    frame, name = read_table(path)
    index = {q: i for i, q in enumerate(quote_ids)}
    col = {c: j for j, c in enumerate(codes)}
    scores = np.full((len(quote_ids), len(codes)), np.nan)
    predicted = np.full_like(scores, np.nan)
    if {"id", "codes"} <= set(frame.columns):
        for row, (qid, row_codes, row_scores) in enumerate(zip(frame["id"], frame["codes"], frame.get("scores", [None] * len(frame))), start=1):
            if str(qid) not in index:
                raise ValueError(f"{name}: row {row}: prediction for unknown quote id {qid!r}")
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
                raise ValueError(f"{name}: row {row}: prediction for unknown quote id {qid!r}")
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


def training_overlap_warnings(model: Path | None, quote_ids: list[str]) -> list[str]:
    """A warning when quotes being scored were in the training data of ``model`` (a model or run folder)."""
    if model is None:
        return []
    from lived_themes.evaluation.leakage import overlap_warning, training_overlap

    candidates = [Path(model) / "training_ids.json", Path(model) / "model" / "training_ids.json"]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        if not Path(model).exists():
            raise FileNotFoundError(f"--model {model}: no such folder")
        return [f"--model {model}: no training_ids.json, so overlap with the model's training data cannot be checked"]
    try:
        record = json.loads(found.read_text(encoding="utf-8"))
        n = training_overlap(record, quote_ids)
    except (ValueError, UnicodeDecodeError, AttributeError) as exc:
        raise ValueError(f"{found}: not a training ids record ({exc})") from None
    return [overlap_warning(n, len(set(quote_ids)), str(model))] if n else []


def evaluate_external(*, annotations: Path, predictions: Path, reference: str, quotes: Path | None, codebook: Path | None,
                      groups: list[str], model_name: str, out: Path, n_boot: int = 1000, seed: int = 0,
                      model: Path | None = None, min_report_group_size: int = 5) -> Path:
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
    evaluation = EvaluationConfig(groups=groups, n_boot=n_boot, min_report_group_size=min_report_group_size)
    predicted_ids = [q for q, row in zip(evaluated.quote_ids, predicted) if not np.isnan(row).all()]
    leaks = training_overlap_warnings(model, predicted_ids)
    for warning in leaks:
        log.warning(warning)
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
        "warnings": leaks + result.pop("warnings", []),
        "privacy": privacy_floor(evaluated, evaluation),
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
