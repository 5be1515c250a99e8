"""The one orchestrator: load -> split -> fit -> predict -> evaluate -> write a run folder.

``run_experiment(config)`` is what the CLI, the notebooks and the tests all call. Each model's
out-of-fold codes are added to the corpus as one more coder, so model-vs-human and human-vs-human
agreement come from the same functions on the same data.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lived_themes.experiment.config import ExperimentConfig, SplitConfig, dump_config
from lived_themes.corpus import Corpus, consensus
from lived_themes.experiment.data import load_from_config
from lived_themes.jsonutil import jsonable
from lived_themes.experiment.scoring import evaluate_predictions, human_agreement, human_coders
from lived_themes.coders.evidence import evidence_examples, evidence_rows
from lived_themes.experiment.predictions import write_predictions
from lived_themes.experiment.provenance import run_info, utc_now
from lived_themes.registry import make_coder

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch  # only when already installed; seeding is cheap

        torch.manual_seed(seed)
    except ImportError:
        pass


def resolve_reference(corpus: Corpus, reference: str) -> Corpus:
    """Add a consensus coder when the reference names one; check a named coder exists."""
    if reference.startswith("consensus:"):
        return consensus(corpus, reference.split(":", 1)[1], name=reference)
    if reference not in corpus.coders:
        raise ValueError(f"reference coder {reference!r} is not in the data; coders: {corpus.coders}")
    return corpus


def select_codes(corpus: Corpus, reference: str, *, min_count: int, exclude: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """Codes with at least ``min_count`` reference examples; the rest are listed with the reason."""
    matrix = corpus.label_matrix(reference)
    counts = np.nansum(matrix, axis=0).astype(int)
    kept, dropped = [], []
    for code, count in zip(corpus.codes, counts):
        if code in exclude:
            dropped.append({"code": code, "count": int(count), "reason": "excluded in config"})
        elif count < min_count:
            dropped.append({"code": code, "count": int(count), "reason": f"fewer than {min_count} examples from {reference}"})
        else:
            kept.append(code)
    if not kept:
        raise ValueError(f"no code has at least {min_count} examples from coder {reference!r}")
    return kept, dropped


def make_folds(split: SplitConfig, labels: np.ndarray, meta: pd.DataFrame, seed: int) -> list[Any]:
    from lived_themes import splits

    groups = None
    if split.group:
        if split.group not in meta.columns:
            raise ValueError(f"split group column {split.group!r} not in the quotes; columns: {list(meta.columns)}")
        groups = meta[split.group].astype(object).where(meta[split.group].notna(), "unknown").astype(str).to_numpy()
    if split.kind == "kfold":
        return splits.kfold_multilabel(labels, n_splits=split.n_splits, seed=seed)
    if split.kind == "group_kfold":
        return splits.group_kfold(labels, groups, n_splits=split.n_splits, seed=seed)
    if split.kind == "leave_one_group_out":
        include = [g for g in dict.fromkeys(groups) if g not in set(split.exclude)]
        return splits.leave_one_group_out(groups, include=include)
    row_groups = groups if groups is not None else np.arange(len(labels)).astype(str)
    return splits.train_test_split_by_group(labels, row_groups, test_size=split.test_size, seed=seed)


def cross_predict(config: ExperimentConfig, coder_cfg: Any, folds: list[Any], texts: list[str], labels: np.ndarray,
                  meta: pd.DataFrame, codes: list[str], corpus: Corpus, progress: Progress) -> dict[str, Any]:
    """Out-of-fold scores and codes for one coder under one split scheme; untested rows stay NaN."""
    n, k = labels.shape
    scores = np.full((n, k), np.nan)
    predicted = np.full((n, k), np.nan)
    fold_of = np.full(n, None, dtype=object)
    fit_s = predict_s = evidence_s = 0.0
    evidence: list[dict[str, Any] | None] = [None] * n
    for i, fold in enumerate(folds, start=1):
        progress(f"{coder_cfg.name}: fold {i}/{len(folds)} ({fold.name})")
        coder = make_coder(coder_cfg.name, **coder_cfg.params)
        train, test = np.asarray(fold.train_idx), np.asarray(fold.test_idx)
        t0 = time.perf_counter()
        coder.fit([texts[j] for j in train], labels[train], codes, codebook=corpus.codebook, metadata=meta.iloc[train].reset_index(drop=True))
        t1 = time.perf_counter()
        fold_scores = coder.predict_proba([texts[j] for j in test], metadata=meta.iloc[test].reset_index(drop=True))
        predict_s += time.perf_counter() - t1
        fit_s += t1 - t0
        scores[test] = fold_scores
        predicted[test] = (fold_scores >= coder.thresholds_[None, :]).astype(float)
        fold_of[test] = fold.name
        if config.output.evidence:
            t2 = time.perf_counter()
            spans = evidence_rows(coder, [texts[j] for j in test], fold_scores, metadata=meta.iloc[test].reset_index(drop=True))
            for j, row in zip(test, spans):
                evidence[j] = row
            evidence_s += time.perf_counter() - t2
    out = {"scores": scores, "predicted": predicted, "fold": fold_of, "seconds": {"fit": fit_s, "predict": predict_s}}
    if config.output.evidence:
        out["evidence"], out["seconds"]["evidence"] = evidence, evidence_s
    return out


def default_run_dir(config: ExperimentConfig) -> Path:
    stamp = utc_now().strftime("%Y%m%d-%H%M%S")
    folder = Path(config.output.dir) / config.name / stamp
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = Path(config.output.dir) / config.name / f"{stamp}-{suffix}"
    return folder


def run_experiment(config: ExperimentConfig, *, out_dir: str | Path | None = None, base_dir: Path | None = None,
                   progress: Progress | None = None) -> Path:
    """Run one experiment end to end and return its run folder."""
    say = progress or (lambda message: log.info(message))
    started = utc_now()
    _seed_everything(config.seed)
    corpus = load_from_config(config.data, base_dir=base_dir)
    say(corpus.describe())
    reference = config.reference.coder
    corpus = resolve_reference(corpus, reference)
    codes, excluded = select_codes(corpus, reference, min_count=config.data.min_code_count, exclude=config.data.exclude_codes)

    not_evaluated = [{"quote_id": q, "reason": f"set aside on load: {r}"} for q, r in zip(corpus.set_aside.get("quote_id", []), corpus.set_aside.get("reason", []))]
    seen = corpus.seen_by(reference)
    for qid in np.asarray(corpus.quote_ids, dtype=object)[~seen]:
        not_evaluated.append({"quote_id": qid, "reason": f"not coded by reference coder {reference}"})
    index = np.flatnonzero(seen)
    if config.data.max_quotes is not None and config.data.max_quotes < len(index):
        for qid in np.asarray(corpus.quote_ids, dtype=object)[index[config.data.max_quotes:]]:
            not_evaluated.append({"quote_id": qid, "reason": "beyond data.max_quotes"})
        index = index[: config.data.max_quotes]
    texts = [corpus.texts[i] for i in index]
    meta = corpus.quotes.iloc[index].reset_index(drop=True)
    labels = corpus.label_matrix(reference, codes)[index]

    run_dir = Path(out_dir) if out_dir else default_run_dir(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(dump_config(config), encoding="utf-8")

    outputs: dict[tuple[str, str], dict[str, Any]] = {}
    for split in config.splits:
        folds = make_folds(split, labels, meta, config.seed)
        for coder_cfg in config.coders:
            say(f"{split.label}: {coder_cfg.name} over {len(folds)} fold(s)")
            outputs[(split.label, coder_cfg.name)] = cross_predict(config, coder_cfg, folds, texts, labels, meta, codes, corpus, say)

    say("evaluating")
    eval_corpus = corpus.subset(meta["quote_id"])
    results = [
        evaluate_predictions(eval_corpus, labels, out, codes=codes, scheme=scheme, coder=coder, reference=reference,
                             evaluation=config.evaluation, seed=config.seed)
        for (scheme, coder), out in outputs.items()
    ]
    metrics = {
        "experiment": config.name,
        "description": config.description,
        "reference": reference,
        "n_quotes": len(corpus) + len(corpus.set_aside),
        "n_evaluated": len(index),
        "not_evaluated": not_evaluated,
        "codes": codes,
        "code_labels": {c: corpus.codebook.code(c).label for c in codes} if corpus.codebook else {c: c for c in codes},
        "excluded_codes": excluded,
        "human_coders": human_coders(corpus, config.evaluation),
        "groups": config.evaluation.groups,
        "results": results,
        "human_agreement": human_agreement(eval_corpus, codes, human_coders(corpus, config.evaluation), config.evaluation, seed=config.seed),
        "warnings": [w for r in results for w in r.pop("warnings", [])],
    }
    if config.output.evidence:
        metrics["evidence_examples"] = [{"scheme": scheme, "coder": coder, **example} for (scheme, coder), out in outputs.items()
                                        for example in evidence_examples(meta["quote_id"].tolist(), codes, labels, out["predicted"], out["evidence"])]
    metrics = jsonable(metrics)
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False), encoding="utf-8")
    write_predictions(run_dir / "predictions.jsonl", corpus, meta["quote_id"].tolist(), codes, outputs, not_evaluated)

    if config.final_model.coder:
        coder_cfg = next(c for c in config.coders if c.name == config.final_model.coder)
        say(f"training the final {coder_cfg.name} on all {len(texts)} quotes")
        final = make_coder(coder_cfg.name, **coder_cfg.params)
        final.fit(texts, labels, codes, codebook=corpus.codebook, metadata=meta)
        final.save(run_dir / "model")
        if corpus.codebook is not None:
            corpus.codebook.to_yaml(run_dir / "model" / "codebook.yaml")

    info = run_info(seed=config.seed, codebook_hash=corpus.codebook.content_hash() if corpus.codebook else None, started=started)
    info["finished_utc"] = utc_now().isoformat(timespec="seconds")
    info["load_reports"] = [r.summary() for r in corpus.reports]
    (run_dir / "run.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    _write_report(run_dir, metrics, config, info)
    return run_dir




def _write_report(run_dir: Path, metrics: dict[str, Any], config: ExperimentConfig, info: dict[str, Any]) -> None:
    try:
        from lived_themes.report.build import write_report
    except ImportError:  # the report module is optional while it is being built
        log.warning("report module not available; wrote metrics.json only")
        return
    write_report(run_dir, metrics, config=config.model_dump(mode="json"), run_info=info, figures=config.output.figures, html=config.output.html)
