"""``lived-themes evaluate``: score predictions made elsewhere against human coders, by group.

Predictions may be ``lived-themes predict`` output (``id, codes, scores``), a long annotations table
(``quote_id, code`` and optionally ``coder, scheme, score, fold``: a run's ``model_annotations.csv``),
a run's ``predictions.jsonl``, or a run folder (its ``predictions.jsonl``). Each (scheme, model) in
the file is scored as one more coder by the same scorer and metrics builder as a run.

Only quotes with a prediction are evaluated; quotes the reference coder saw but no prediction
covers are listed with the reason "no prediction". Two lines for the same quote and model that
disagree are an error naming both rows.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lived_themes.codebook import Codebook, load_codebook
from lived_themes.corpus import Corpus, load_annotations, read_table
from lived_themes.corpus.validate import normalise_ids
from lived_themes.errors import InputError, shown
from lived_themes.experiment.coding import resolve_reference
from lived_themes.config.base import EvaluationConfig
from lived_themes.experiment.scoring import evaluate_predictions, human_agreement, metrics_document, privacy_floor
from lived_themes.corpus.free_text import check_group_columns
from lived_themes.corpus.tables import apply_mapping
from lived_themes.evaluation.leakage import overlap_warning, training_overlap
from lived_themes.experiment.run_folder import METRICS_JSON, RunFolder

log = logging.getLogger(__name__)

#: One prediction: (codes or None when untested, {code: score} or None, fold).
Prediction = tuple[list[str] | None, dict[str, float] | None, Any]


def _predictions_file(path: Path) -> Path:
    """A run folder stands for its predictions.jsonl (or, failing that, its model_annotations.csv)."""
    if path.is_dir():
        for name in ("predictions.jsonl", "model_annotations.csv"):
            if (path / name).exists():
                return path / name
        raise FileNotFoundError(f"{path} is a folder without predictions.jsonl or model_annotations.csv")
    return path


def _add(table: dict[tuple[str, str], dict[str, tuple[int, Prediction]]], key: tuple[str, str], qid: str, row: int,
         value: Prediction, name: str) -> None:
    """Record one quote's prediction; a second, different one for the same quote and model is a located error."""
    seen = table.setdefault(key, {})
    if qid in seen and seen[qid][1] != value:
        raise InputError(f"quote {shown(qid)} has two different predictions for {key[1]} (rows {seen[qid][0]} and {row}); keep one",
                         file=name, row=row, field="id")
    seen.setdefault(qid, (row, value))


def read_predictions(path: Path, *, model_name: str) -> dict[tuple[str, str], dict[str, tuple[int, Prediction]]]:
    """{(scheme, model): {quote_id: (row, (codes, scores, fold))}} from any of the accepted formats."""
    frame, name = read_table(_predictions_file(Path(path)))
    for column in ("id", "quote_id"):  # the same id rule as every other input: 1.0 -> "1"
        if column in frame.columns:
            frame[column] = normalise_ids(frame[column].tolist(), file=name, field=column)
    table: dict[tuple[str, str], dict[str, tuple[int, Prediction]]] = {}
    columns = set(frame.columns)
    if {"quote_id", "models"} <= columns:  # a run's predictions.jsonl
        for row, (qid, models) in enumerate(zip(frame["quote_id"], frame["models"]), start=1):
            if not isinstance(models, dict):
                continue
            for scheme, coders in models.items():
                for coder, entry in coders.items():
                    _add(table, (scheme, coder), str(qid), row, (entry.get("codes"), entry.get("scores"), entry.get("fold")), name)
    elif {"id", "codes"} <= columns:  # lived-themes predict output
        scores = frame["scores"] if "scores" in columns else [None] * len(frame)
        for row, (qid, codes, row_scores) in enumerate(zip(frame["id"], frame["codes"], scores), start=1):
            codes = list(codes) if isinstance(codes, (list, tuple, np.ndarray)) else []
            _add(table, ("external", model_name), str(qid), row, (codes, row_scores if isinstance(row_scores, dict) else None, None), name)
    elif {"quote_id", "code"} <= columns:  # a long table, e.g. model_annotations.csv
        coders = frame["coder"].astype(str) if "coder" in columns else pd.Series([model_name] * len(frame))
        schemes = frame["scheme"].astype(str) if "scheme" in columns else pd.Series(["external"] * len(frame))
        long: dict[tuple[str, str, str], dict[str, Any]] = {}
        for row, (qid, code, coder, scheme) in enumerate(zip(frame["quote_id"].astype(str), frame["code"], coders, schemes), start=1):
            entry = long.setdefault((scheme, coder.removeprefix("model:"), qid), {"row": row, "codes": [], "scores": {}})
            if isinstance(code, str) and code:
                entry["codes"].append(code)
                if "score" in columns and pd.notna(frame["score"].iloc[row - 1]):
                    entry["scores"][code] = float(frame["score"].iloc[row - 1])
        for (scheme, coder, qid), entry in long.items():
            table.setdefault((scheme, coder), {})[qid] = (entry["row"], (entry["codes"], entry["scores"] or None, None))
    else:
        raise InputError(f"expected columns (id, codes, scores), (quote_id, code) or a run's predictions.jsonl; found {list(frame.columns)}",
                         file=name, row=0)
    return table


def _outputs(table: dict[tuple[str, str], dict[str, tuple[int, Prediction]]], quote_ids: list[str], codes: list[str],
             name: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (scheme, model): scores and codes over ``quote_ids``, NaN where the model has no prediction."""
    index = {q: i for i, q in enumerate(quote_ids)}
    col = {c: j for j, c in enumerate(codes)}
    outputs = {}
    for key, rows in table.items():
        scores = np.full((len(quote_ids), len(codes)), np.nan)
        predicted = np.full_like(scores, np.nan)
        fold = np.full(len(quote_ids), None, dtype=object)
        for qid, (row, (row_codes, row_scores, row_fold)) in rows.items():
            if qid not in index or row_codes is None:
                continue
            i = index[qid]
            predicted[i] = 0.0
            for code in row_codes:
                if code not in col:
                    raise InputError(f"code {code!r} is not among the annotated codes {codes}", file=name, row=row, field="code")
                predicted[i, col[code]] = 1.0
            scores[i] = [float((row_scores or {}).get(c, predicted[i, j])) for j, c in enumerate(codes)]
            fold[i] = row_fold
        outputs[key] = {"scores": scores, "predicted": predicted, "fold": fold, "seconds": {"fit": None, "predict": None}}
    return outputs


def refuse_same_file(annotations: Path, predictions: Path) -> None:
    """The human annotations given again as predictions would score the humans as a model: refused, located."""
    import filecmp

    pred = _predictions_file(Path(predictions)) if Path(predictions).is_dir() else Path(predictions)
    try:
        same = Path(annotations).samefile(pred) or filecmp.cmp(annotations, pred, shallow=False)
    except OSError:
        return  # a missing file is reported by the reader, with its name
    if same:
        raise InputError("--predictions is the same file as --annotations (or an identical copy): the human codes would be "
                         "scored as a model's; give the model's predictions", file=str(pred))


def refuse_human_coders(table: dict[tuple[str, str], dict[str, tuple[int, Prediction]]], humans: list[str], *, name: str) -> None:
    """A predictions table whose coder column names the annotations' human coders holds human codes, not a model's."""
    clash = sorted({coder for (_, coder) in table} & set(humans))
    if clash:
        first = min(row for (_, coder), rows in table.items() if coder == clash[0] for row, _ in rows.values())
        raise InputError(f"the predictions name human coder(s) {[shown(c) for c in clash]} of --annotations: this looks like human "
                         "coding, not a model's predictions; give the model's output (or name its coder model:<name>)",
                         file=name, row=first, field="coder")


def training_overlap_warnings(model: Path | None, quote_ids: list[str]) -> list[str]:
    """A warning when quotes being scored were in the training data of ``model`` (a model or run folder)."""
    if model is None:
        return []

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
                      groups: list[str], model_name: str, out: Path | None, n_boot: int = 1000, seed: int = 0,
                      model: Path | None = None, min_report_group_size: int = 5, cluster: str | None = None,
                      column_mapping: dict[str, str] | None = None, annotation_mapping: dict[str, str] | None = None,
                      allow_free_text: list[str] | None = None) -> Path:
    """``cluster``: a quotes column of participant ids, so the intervals resample whole participants (as evaluation.cluster).

    ``allow_free_text``: group columns meant as groups although their values look like free text
    (:mod:`lived_themes.corpus.free_text`); the quote text column is never a group.
    """

    refuse_same_file(annotations, predictions)
    ann, _ = load_annotations(annotations, column_mapping=annotation_mapping)
    if cluster is not None and cluster != "group" and quotes is None:
        raise ValueError("--cluster names a quotes column: give --quotes too")
    quotes_name: str | None = None
    if quotes is not None:
        quote_table, quotes_name = read_table(quotes)
        quote_table = apply_mapping(quote_table, column_mapping, source=quotes_name)
        if cluster is not None and cluster != "group" and cluster not in quote_table.columns:
            raise InputError(f"--cluster column {cluster!r} not found; columns present: {list(quote_table.columns)}", file=quotes_name,
                             row=0, field=cluster)
    else:
        ids = list(dict.fromkeys(ann["quote_id"].astype(str)))
        quote_table = pd.DataFrame({"quote_id": ids, "text": ["(text not provided)"] * len(ids)})
    check_group_columns(quote_table, groups, role="a group (--group)", file=quotes_name, allowed=allow_free_text or [])
    book: Codebook | None = load_codebook(codebook) if codebook else None
    corpus = resolve_reference(Corpus(quotes=quote_table, annotations=ann, codebook=book, name=Path(annotations).stem), reference)
    codes = corpus.codes
    name = str(_predictions_file(Path(predictions)))
    table = read_predictions(Path(predictions), model_name=model_name)
    refuse_human_coders(table, corpus.human_coders, name=name)
    known = set(corpus.quote_ids)
    for rows in table.values():
        for qid, (row, _) in rows.items():
            if qid not in known:
                raise InputError(f"prediction for unknown quote id {shown(qid)}", file=name, row=row, field="id")
    predicted_ids = {qid for rows in table.values() for qid, (_, (c, _, _)) in rows.items() if c is not None}
    ids = np.asarray(corpus.quote_ids, dtype=object)
    seen = corpus.seen_by(reference)
    has = np.array([q in predicted_ids for q in ids], dtype=bool)
    not_evaluated = [{"quote_id": q, "reason": f"not coded by reference coder {reference}"} for q in ids[~seen]]
    not_evaluated += [{"quote_id": q, "reason": "no prediction"} for q in ids[seen & ~has]]
    if not (seen & has).any():
        raise InputError(f"no prediction covers a quote that reference coder {reference!r} coded", file=name)
    evaluated = corpus.subset(ids[seen & has])
    labels = evaluated.label_matrix(reference, codes)
    evaluation = EvaluationConfig(groups=groups, n_boot=n_boot, min_report_group_size=min_report_group_size, cluster=cluster)
    leaks = training_overlap_warnings(model, evaluated.quote_ids)
    for warning in leaks:
        log.warning(warning)
    outputs = _outputs(table, evaluated.quote_ids, codes, name)
    results = [evaluate_predictions(evaluated, labels, output, codes=codes, scheme=scheme, coder=coder, reference=reference,
                                    evaluation=evaluation, seed=seed) for (scheme, coder), output in outputs.items()]
    humans = corpus.human_coders  # models and consensus coders never count as human
    metrics = metrics_document(
        experiment=f"evaluate {Path(predictions).name}", description=f"predictions {predictions} against {annotations}",
        reference=reference, corpus=corpus, n_quotes=len(corpus), n_evaluated=len(evaluated), not_evaluated=not_evaluated,
        codes=codes, excluded_codes=[], humans=humans, groups=groups, results=results,
        human_agreement=human_agreement(evaluated, codes, humans, evaluation, seed=seed),
        warnings=leaks, privacy=privacy_floor(evaluated, evaluation),
    )
    folder = RunFolder.create(out, root="runs", experiment="evaluate", kind="evaluate", seed=seed)
    with folder.running():
        folder.protect(corpus.texts)
        folder.info["codebook_hash"] = book.content_hash() if book else None
        folder.info["predictions"] = name
        folder.write_json(METRICS_JSON, metrics)
        folder.write_report(metrics, config=None, figures=True, html=True)
        folder.finish()
    return folder.path
