"""The one orchestrator: load -> split -> fit -> predict -> evaluate -> write a run folder.

``run_experiment(config)`` is what the CLI, the notebooks and the tests all call. Each model's
out-of-fold codes are added to the corpus as one more coder, so model-vs-human and human-vs-human
agreement come from the same functions on the same data.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lived_themes.config.coding import ExperimentConfig, SplitConfig
from lived_themes.config.load import resolved_params
from lived_themes.corpus import Corpus, consensus
from lived_themes.corpus.free_text import check_corpus_groups
from lived_themes.experiment.data import check_group_columns, load_from_config
from lived_themes.experiment.scoring import evaluate_predictions, human_agreement, human_coders, metrics_document, privacy_floor
from lived_themes.experiment.reliability import write_disagreements
from lived_themes.experiment.predictions import model_annotations, write_predictions
from lived_themes.experiment.run_folder import METRICS_JSON, RunFolder
from lived_themes.coders.cross_validation import cross_val_scores
from lived_themes.coders.decision import chosen_names, tuned_macro_f1
from lived_themes.coders.cost import estimate_seconds
from lived_themes.coders.fit_cache import FitCache, fit_coder, where
from lived_themes.coders.evidence import evidence_examples, evidence_rows
from lived_themes.registry import make_coder, constructor_params, get_coder_class
from lived_themes import splits
from lived_themes.evaluation.agreement import krippendorff_alpha
from lived_themes.evaluation.leakage import person_columns, split_leaks, training_ids_record
from lived_themes.evaluation.single_label import is_single_label
from lived_themes.coders.llm.transport import connected_to
from lived_themes.experiment.scoring import human_single_label
from lived_themes.coders.onnx_backend import backend_precision, encoder_backend, export_saved_model

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
#: The models' codes as a long annotations table, in the human annotations' format.
MODEL_ANNOTATIONS = "model_annotations.csv"


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


def coder_params(coder_cfg: Any, label_mode: str, labels: np.ndarray) -> dict[str, Any]:
    """A coder's params for this run: its own ``label_mode`` when set (``auto`` read on all the run's labels,
    as the run's is), else the run's resolved label mode, so every fold decides the same way."""
    own = coder_cfg.params.get("label_mode")
    return {**coder_cfg.params, "label_mode": label_mode if own is None else resolve_label_mode(own, labels)}


def cross_predict(config: ExperimentConfig, coder_cfg: Any, folds: list[Any], texts: list[str], labels: np.ndarray,
                  meta: pd.DataFrame, codes: list[str], corpus: Corpus, progress: Progress, *, label_mode: str = "multi",
                  fitted: list[Any] | None = None) -> dict[str, Any]:
    """Out-of-fold scores and codes for one coder under one split scheme; untested rows stay NaN.

    ``fitted``, when given, receives each fold's fitted coder (``final_model.refit: false`` saves the holdout's)."""
    n = len(texts)
    evidence: list[dict[str, Any] | None] = [None] * n
    errors: list[str | None] = [None] * n
    checks: dict[str, int] | None = None
    inner: list[float | None] = []
    evidence_s = 0.0

    def announce(i: int, fold: Any) -> None:
        progress(f"{coder_cfg.name}: fold {i}/{len(folds)} ({fold.name})")

    def keep(fold: Any, coder: Any, test: np.ndarray, fold_scores: np.ndarray) -> None:
        nonlocal checks, evidence_s
        inner.append(inner_macro_f1(coder))
        if fitted is not None:
            fitted.append(coder)
        notes = _coder_notes(coder, len(test))
        if notes is not None:  # a coder that reports per-quote errors and answer checks (llm.v1)
            checks = checks or dict.fromkeys(notes["counts"], 0)
            checks = {key: checks.get(key, 0) + int(value) for key, value in notes["counts"].items()}
            for j, error in zip(test, notes["errors"]):
                errors[j] = error
        if config.output.evidence:
            t2 = time.perf_counter()
            given = coder.codes_from_scores(fold_scores)
            if notes is not None and "evidence" in notes:  # the coder's own spans (llm.v1), kept for the codes it was given
                names = chosen_names(given, codes)
                spans = [None if row is None else {c: v for c, v in row.items() if c in set(kept)} for row, kept in zip(notes["evidence"], names)]
            else:
                spans = evidence_rows(coder, [texts[j] for j in test], fold_scores, metadata=meta.iloc[test].reset_index(drop=True),
                                      predicted=given)
            for j, row in zip(test, spans):
                evidence[j] = row
            evidence_s += time.perf_counter() - t2

    params = coder_params(coder_cfg, label_mode, labels)
    result = cross_val_scores(lambda: make_coder(coder_cfg.name, **params), texts, labels, codes, folds, codebook=corpus.codebook,
                              metadata=meta, before_fold=announce, after_fold=keep)
    out = {"scores": result.scores, "predicted": result.predicted, "fold": result.fold,
           "seconds": {"fit": result.fit_seconds, "predict": result.predict_seconds},
           "inner_macro_f1": float(np.mean(inner)) if inner and None not in inner else None}
    if config.output.evidence:
        out["evidence"], out["seconds"]["evidence"] = evidence, evidence_s
    if checks is not None:
        out["errors"], out["checks"] = errors, checks
    return out


def inner_macro_f1(coder: Any, *, seed: int = 0) -> float | None:
    """Macro-F1 of a fitted coder on the held-out scores it tuned itself on (``tuning_``); None without.

    Inner validation only (out-of-fold scores, or the coder's validation split), never the outer test
    quotes, so choosing a coder by it leaves the held-out figures unbiased. Thresholds are cross-fitted
    (tuned on one half of those quotes, scored on the other, and back), so a coder that tuned 30
    thresholds on a few hundred validation quotes does not look better than one tuned on thousands
    of out-of-fold scores merely because its thresholds fit its own validation set.
    """

    tuning = getattr(coder, "tuning_", None)
    if tuning is None or len(tuning[0]) < 4:
        return None
    single = getattr(coder, "none_threshold_", None) is not None  # single-label mode: top code or none
    return tuned_macro_f1(tuning[0], tuning[1], single_label=single, cross_fit=True, seed=seed)


def _coder_notes(coder: Any, n: int) -> dict[str, Any] | None:
    """A coder's notes on its last ``predict_proba`` (``last_notes_``: counts, one error or None per quote), if it keeps them."""
    notes = getattr(coder, "last_notes_", None)
    if not isinstance(notes, dict) or len(notes.get("errors", ())) != n:
        return None
    return notes


def text_destinations(config: ExperimentConfig) -> list[dict[str, Any]]:
    """Where each coder sends quote text, for run.json (coders with a ``destination()``; none of the others send any)."""
    out = []
    for coder_cfg in config.coders:
        coder = make_coder(coder_cfg.name, **coder_cfg.params)
        if callable(getattr(coder, "destination", None)):
            out.append({"coder": coder_cfg.name, **coder.destination()})
    return out


def with_connections(destinations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each HTTP destination with the addresses actually connected to (every one checked: loopback unless allow_remote)."""
    if not any("endpoint" in d for d in destinations):
        return destinations

    return [{**d, "connected_to": connected_to(d["endpoint"])} if "endpoint" in d else d for d in destinations]


def resolve_label_mode(setting: str, labels: np.ndarray) -> str:
    """``auto`` becomes ``single`` when every reference-coded quote has at most one code, else ``multi``."""

    if setting == "auto":
        return "single" if is_single_label(labels) else "multi"
    return setting


def best_coder(outputs: dict[tuple[str, str], dict[str, Any]], scheme: str) -> tuple[str, dict[str, float]]:
    """The coder with the highest inner-validation macro-F1 under ``scheme`` (ties: the first listed), and every coder's.

    Chosen on the coders' own inner validation (:func:`inner_macro_f1`), not on the outer held-out
    quotes, so the held-out figures reported for the chosen coder are not inflated by the choice.
    Coders without inner validation (the majority floor, zero-shot coders) cannot be chosen.
    """
    scored = {coder: out["inner_macro_f1"] for (s, coder), out in outputs.items() if s == scheme and out.get("inner_macro_f1") is not None}
    if not scored:
        raise ValueError(f"final_model.coder is 'best' but no coder under {scheme} has an inner validation to choose by")
    names = list(scored)
    return max(names, key=lambda c: (scored[c], -names.index(c))), scored


def run_experiment(config: ExperimentConfig, *, out_dir: str | Path | None = None, base_dir: Path | None = None,
                   progress: Progress | None = None) -> Path:
    """Run one experiment end to end and return its run folder (marked INCOMPLETE until the very end)."""
    folder = RunFolder.create(out_dir, root=config.output.dir, experiment=config.name, kind="coding", seed=config.seed)

    with folder.running(), encoder_backend(config.encoder_backend):
        folder.info["encoder_backend"] = config.encoder_backend
        folder.info["encoder_precision"] = backend_precision(config.encoder_backend)
        folder.write_config(config)
        say = progress or (lambda message: log.info(message))
        fits = FitCache(report=say)  # one run's fits: the same coder on the same rows is fitted once
        with fits.active():
            _run(config, folder, fits, base_dir=base_dir if base_dir is not None else config.base_dir, say=say)
    return folder.path


def _run(config: ExperimentConfig, folder: RunFolder, fits: FitCache, *, base_dir: Path | None, say: Progress) -> None:
    _seed_everything(config.seed)
    corpus = load_from_config(config.data, base_dir=base_dir)
    check_group_columns(corpus, config)  # one plain value per quote, before any rule reads the values
    check_corpus_groups(corpus, config.evaluation.groups, role="a group (evaluation.groups)",
                        allowed=config.data.allow_free_text_columns)
    for i, split in enumerate(config.splits):  # each left-out group names its fold in the outputs
        if split.kind == "leave_one_group_out" and split.group:
            check_corpus_groups(corpus, [split.group], role=f"the group of a leave-one-group-out split (splits.{i}.group)",
                                allowed=config.data.allow_free_text_columns)
    folder.protect(corpus.texts)
    folder.info["codebook_hash"] = corpus.codebook.content_hash() if corpus.codebook else None
    folder.info["text_sent_to"] = text_destinations(config)  # recorded before any coder runs
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
    all_texts = corpus.texts  # read once: the property builds a new list on every access
    texts = [all_texts[i] for i in index]
    meta = corpus.quotes.iloc[index].reset_index(drop=True)
    labels = corpus.label_matrix(reference, codes)[index]
    label_mode = resolve_label_mode(config.data.label_mode, labels)
    if label_mode == "single":
        say("single-label mode: each quote gets its top code or none")
    sparse = sparse_codes_warning(codes, labels, reference=reference)

    outputs: dict[tuple[str, str], dict[str, Any]] = {}
    leaks: list[str] = [sparse] if sparse else []
    if sparse:
        log.warning(sparse)
    cluster = config.evaluation.cluster if config.evaluation.cluster != "group" else None
    final_cfg = config.final_model
    held_out: dict[str, Any] = {}  # final_model.refit false: each candidate's fit on the holdout's training side
    held_out_train: np.ndarray | None = None
    for scheme, split in enumerate(config.splits):
        folds = make_folds(split, labels, meta, config.seed)
        for warning in split_leaks(folds, meta, person_columns(meta.columns, cluster), split_label=split.label):
            log.warning(warning)  # shown even with --quiet; also in metrics.json and the report
            leaks.append(warning)
        for coder_cfg in config.coders:
            say(f"{split.label}: {coder_cfg.name} over {len(folds)} fold(s)")
            keep = [] if scheme == 0 and not final_cfg.refit and final_cfg.coder in ("best", coder_cfg.name) else None
            with where(split.label):
                outputs[(split.label, coder_cfg.name)] = cross_predict(config, coder_cfg, folds, texts, labels, meta, codes, corpus,
                                                                       say, label_mode=label_mode, fitted=keep)
            if keep:
                held_out[coder_cfg.name], held_out_train = keep[0], np.asarray(folds[0].train_idx)
        if not (scheme == 0 and len(config.evaluation.stability_seeds) >= 2):  # stability reruns the first scheme
            fits.forget()  # no later step trains on this scheme's rows (the final model trains on all)

    say("evaluating")
    eval_corpus = corpus.subset(meta["quote_id"])
    results = [
        evaluate_predictions(eval_corpus, labels, out, codes=codes, scheme=scheme, coder=coder, reference=reference,
                             evaluation=config.evaluation, seed=config.seed, label_mode=label_mode)
        for (scheme, coder), out in outputs.items()
    ]
    humans = human_coders(corpus, config.evaluation)
    several = int(((labels > 0.5).sum(axis=1) > 1).sum())
    if label_mode == "single" and several:
        leaks.append(f"single-label mode, but {several} reference-coded quote(s) have more than one code: "
                     "a coder gives at most one, so those quotes cannot be coded fully right")
    evaluated_ids = meta["quote_id"].tolist()
    ceiling = human_agreement(eval_corpus, codes, humans, config.evaluation, seed=config.seed)
    if label_mode == "single":

        ceiling["single_label"] = human_single_label(eval_corpus, codes, humans, reference)
    extras = _reliability_extras(folder.path, eval_corpus, codes, outputs, config, texts, labels, meta, corpus, say)
    metrics = metrics_document(
        experiment=config.name, description=config.description, reference=reference, corpus=corpus,
        n_quotes=len(corpus) + len(corpus.set_aside), n_evaluated=len(index), not_evaluated=not_evaluated, codes=codes,
        excluded_codes=excluded, humans=humans, groups=config.evaluation.groups, results=results,
        human_agreement=ceiling, warnings=leaks, privacy=privacy_floor(eval_corpus, config.evaluation), label_mode=label_mode, **extras,
    )
    if config.output.evidence:
        metrics["evidence_examples"] = [{"scheme": scheme, "coder": coder, **example} for (scheme, coder), out in outputs.items()
                                        for example in evidence_examples(evaluated_ids, codes, labels, out["predicted"], out["evidence"])]
    checks = [{"scheme": scheme, "coder": coder, **out["checks"]} for (scheme, coder), out in outputs.items() if "checks" in out]
    if checks:
        metrics["answer_checks"] = checks
    folder.write_json(METRICS_JSON, metrics)
    write_predictions(folder.path / "predictions.jsonl", corpus, evaluated_ids, codes, outputs, not_evaluated)
    folder.write_text(MODEL_ANNOTATIONS, model_annotations(evaluated_ids, codes, outputs).to_csv(index=False))

    if config.final_model.coder:
        chosen, inner = config.final_model.coder, None
        if chosen == "best":
            chosen, inner = best_coder(outputs, config.splits[0].label)
            say(f"best on inner validation: {chosen} (" + ", ".join(f"{c} {f:.3f}" for c, f in inner.items()) + ")")
        coder_cfg = next(c for c in config.coders if c.name == chosen)
        if final_cfg.refit:
            say(f"training the final {coder_cfg.name} on all {len(texts)} quotes")
            with where("final model, all quotes"):
                final = fit_coder(make_coder(coder_cfg.name, **coder_params(coder_cfg, label_mode, labels)), texts, labels, codes,
                                  codebook=corpus.codebook, metadata=meta)
            trained_rows = np.arange(len(texts))
        else:
            assert held_out_train is not None
            final, trained_rows = held_out[coder_cfg.name], held_out_train
            say(f"saving the {coder_cfg.name} that {config.splits[0].label} evaluated (trained on {len(trained_rows)} quotes; "
                "final_model.refit: false, so nothing is refitted)")
        final.save(folder.path / "model")
        export_saved_model(final, folder.path / "model", config.encoder_backend)  # at save time, next to the weights

        record = training_ids_record(meta["quote_id"].iloc[trained_rows].tolist())  # salted hashes, never raw ids
        folder.write_json("model/training_ids.json", record)
        folder.write_json("model/training_columns.json", training_columns(config, corpus))
        if corpus.codebook is not None:
            corpus.codebook.to_yaml(folder.path / "model" / "codebook.yaml")
        folder.info["model"] = {"folder": "model", "coder": coder_cfg.name,
                                "use": f"lived-themes predict {folder.path} INPUT.csv -o OUTPUT.jsonl",
                                "refit": final_cfg.refit, "n_training_quotes": int(len(trained_rows)),
                                "trained_on": f"all {len(texts)} reference-coded quotes" if final_cfg.refit else
                                f"the training side of {config.splits[0].label}: the model whose held-out figures are reported"}
        if inner is not None:
            folder.info["model"]["chosen_by"] = {"rule": "highest inner-validation macro-F1 (never the held-out quotes)",
                                                 "inner_macro_f1": inner}
    folder.info["fits"] = fits.summary()
    say(f"fits: {folder.info['fits']['n_fitted']} done, {folder.info['fits']['n_reused']} reused "
        f"({folder.info['fits']['reused_seconds_saved']:.0f} s saved; run.json 'fits' lists each)")
    folder.info["text_sent_to"] = with_connections(folder.info["text_sent_to"])
    folder.info["load_reports"] = [r.summary() for r in corpus.reports]
    folder.write_report(metrics, config=resolved_params(config), figures=config.output.figures, html=config.output.html)
    folder.finish()


def stability_section(config: ExperimentConfig, texts: list[str], labels: np.ndarray, meta: pd.DataFrame, codes: list[str],
                      corpus: Corpus, progress: Any) -> dict[str, Any]:
    """Each non-floor coder retrained with each seed in ``evaluation.stability_seeds`` (new folds, new coder
    seed) on the first split scheme; Krippendorff's alpha across the seeds' out-of-fold codes, per code."""

    seeds = list(config.evaluation.stability_seeds)
    if len(seeds) < 2:
        return {}
    split = config.splits[0]
    threshold = config.evaluation.stability_min_alpha
    rows, flagged = [], []
    for coder_cfg in config.coders:
        if "majority" in coder_cfg.name.lower():
            continue
        accepts = [p for p in ("seed", "random_state") if p in constructor_params(get_coder_class(coder_cfg.name))]
        runs = []
        for s in seeds:
            cfg = coder_cfg.model_copy(update={"params": {**coder_cfg.params, **({accepts[0]: s} if accepts else {})}})
            folds = make_folds(split, labels, meta, s)
            progress(f"stability: {coder_cfg.name} seed {s}")
            with where(f"stability seed {s}, {split.label}"):
                runs.append(cross_predict(config, cfg, folds, texts, labels, meta, codes, corpus, progress)["predicted"])
        stack = np.stack(runs)  # (seeds, n, k)
        for j, code in enumerate(codes):
            res = krippendorff_alpha(stack[:, :, j])
            col = stack[:, :, j][:, ~np.isnan(stack[:, :, j]).any(axis=0)]
            changed = float(np.mean(col.max(axis=0) != col.min(axis=0))) if col.size else float("nan")
            unstable = bool(np.isfinite(res.value) and res.value < threshold)
            rows.append({"coder": coder_cfg.name, "code": code, "alpha_across_seeds": res.value, "share_changed": changed,
                         "n_units": res.n_units, "unstable": unstable, "note": res.note})
            if unstable:
                flagged.append(f"{coder_cfg.name}: {code}")
    return {"scheme": split.label, "seeds": seeds, "min_alpha": threshold, "per_code": rows, "unstable": flagged,
            "seed_param": "varied where the coder takes a seed; folds always reshuffled"}
def training_columns(config: ExperimentConfig, corpus: Corpus) -> dict[str, str | None]:
    """The training file's own names for the text and id columns (before data.column_mapping), for ``predict``;
    id null where the ids were row numbers (the file had no id column)."""
    inverse = {target: source for source, target in config.data.column_mapping.items()}
    generated = any("ids generated from row numbers" in note for report in corpus.reports for note in report.notes)
    return {"text_column": inverse.get("text", "text"), "id_column": None if generated else inverse.get("quote_id", "quote_id")}


def _reliability_extras(run_dir: Path, eval_corpus: Corpus, codes: list[str], outputs: dict, config: ExperimentConfig,
                        texts: list[str], labels: np.ndarray, meta: pd.DataFrame, corpus: Corpus, say: Progress) -> dict[str, Any]:
    """disagreements.csv (two or more coders, the model included) and the stability across seeds; None where not run."""
    extras: dict[str, Any] = {"adjudication": None, "stability": None}
    derived = eval_corpus.derived_coders  # an adjudicated reference is not a voter in the next queue
    humans = [h for h in human_coders(eval_corpus, config.evaluation) if h not in derived and not h.startswith("consensus:")]
    if config.evaluation.adjudication.enabled and humans:
        extras["adjudication"] = write_disagreements(run_dir, eval_corpus, codes, outputs, config, humans)
    if len(config.evaluation.stability_seeds) >= 2:
        extras["stability"] = stability_section(config, texts, labels, meta, codes, corpus, say)
    return extras


# ----- the plan (run --dry-run) ------------------------------------------------------------------------------
#: codes with fewer reference examples than this are named in a run's warnings (metrics.json, report) and the plan
SPARSE_BELOW = 5


def sparse_codes_warning(codes: list[str], labels: np.ndarray, *, reference: str, below: int = SPARSE_BELOW) -> str | None:
    """One warning naming the kept codes with fewer than ``below`` examples: their scores rest on too few quotes."""
    counts = np.nansum(labels, axis=0) if len(labels) else np.zeros(len(codes))
    sparse = [f"{c} ({int(n)})" for c, n in zip(codes, counts) if n < below]
    if not sparse:
        return None
    return (f"{len(sparse)} of {len(codes)} code(s) have fewer than {below} examples from {reference}: they are trained and "
            f"scored on too few quotes to trust (raise data.min_code_count to leave them out): {', '.join(sparse[:20])}"
            + (" ..." if len(sparse) > 20 else ""))


def build_plan(config: ExperimentConfig, *, base_dir: Path | None = None) -> dict[str, Any]:
    """``run --dry-run``: the plan as a dict (text-free: counts, code ids and group names only), built from the run's own
    steps (load, reference, ``select_codes``, ``make_folds``) so it is the run's plan, not a second guess; nothing is fitted."""
    corpus = load_from_config(config.data, base_dir=base_dir if base_dir is not None else config.base_dir)
    reference = config.reference.coder
    corpus = resolve_reference(corpus, reference)
    codes, dropped = select_codes(corpus, reference, min_count=config.data.min_code_count, exclude=config.data.exclude_codes)
    index = np.flatnonzero(corpus.seen_by(reference))
    if config.data.max_quotes is not None:
        index = index[: config.data.max_quotes]
    meta = corpus.quotes.iloc[index].reset_index(drop=True)
    labels = corpus.label_matrix(reference, codes)[index]
    splits, sizes = [], []
    for split in config.splits:
        folds = make_folds(split, labels, meta, config.seed)
        fold_rows = [{"fold": str(f.name), "train": int(len(f.train_idx)), "test": int(len(f.test_idx))}
                     for f in folds]
        sizes += [r["train"] for r in fold_rows]
        splits.append({"split": split.label, "n_folds": len(folds), "folds": fold_rows})
    final = config.final_model.coder
    if final == "best":
        final = config.coders[0].name if config.coders else None
    listed = [(c.name, c.params) for c in config.coders]
    final_spec = next((spec for spec in listed if spec[0] == final), final)
    estimate = estimate_seconds(listed, sizes, n_codes=len(codes), n_rows=len(index), n_boot=config.evaluation.n_boot,
                                final_coder=final_spec if config.final_model.refit else None, n_schemes=len(config.splits))
    if final is not None and not config.final_model.refit:
        final = f"{config.final_model.coder} (the fit {config.splits[0].label} evaluated; not refitted)"
    counts = np.nansum(labels, axis=0).astype(int)
    return {
        "experiment": config.name, "reference": reference, "n_quotes": len(corpus), "n_evaluated": int(len(index)),
        "label_mode": resolve_label_mode(config.data.label_mode, labels),
        "codes_kept": [{"code": c, "count": int(n)} for c, n in zip(codes, counts)], "codes_dropped": dropped,
        "min_code_count": config.data.min_code_count, "splits": splits, "coders": [c.name for c in config.coders],
        "final_model": final, "estimated_seconds": round(estimate.seconds, 1), "estimate": estimate.text(),
        "sparse_warning": sparse_codes_warning(codes, labels, reference=reference),
    }


def plan_text(plan: dict[str, Any]) -> str:
    """The plan for a person, one fact a line."""
    lines = [f"dry run of {plan['experiment']}: nothing is fitted or written",
             f"quotes: {plan['n_quotes']} read, {plan['n_evaluated']} coded by {plan['reference']} ({plan['label_mode']}-label)",
             f"codes kept ({len(plan['codes_kept'])}, min_code_count {plan['min_code_count']}): "
             + ", ".join(f"{c['code']} ({c['count']})" for c in plan["codes_kept"])]
    if plan["codes_dropped"]:
        lines.append(f"codes dropped ({len(plan['codes_dropped'])}): "
                     + ", ".join(f"{c['code']} ({c['count']}: {c['reason']})" for c in plan["codes_dropped"]))
    for split in plan["splits"]:
        sizes = ", ".join(f"{f['train']}/{f['test']}" for f in split["folds"][:12])
        more = f", ... {split['n_folds'] - 12} more" if split["n_folds"] > 12 else ""
        lines.append(f"split {split['split']}: {split['n_folds']} fold(s), train/test rows {sizes}{more}")
    lines.append(f"coders: {', '.join(plan['coders'])}" + (f"; final model: {plan['final_model']}" if plan["final_model"] else ""))
    if plan.get("sparse_warning"):
        lines.append(f"warning: {plan['sparse_warning']}")
    lines.append(f"estimated time: {plan['estimate']}")
    return "\n".join(lines)
