"""``run_topics(config) -> run folder``: fit every configured topic model, align it with a reference coder,
score its quality, break topics down by group and over time, and write tables and figures.

One plain function that the CLI (through :func:`lived_themes.experiment.run.run`), notebooks and tests
call. The config comes from the one loader (:func:`lived_themes.config.load.load_config`) or is a
dict validated by :class:`lived_themes.config.topics.TopicExperimentConfig`. The run folder is
written by :class:`lived_themes.experiment.run_folder.RunFolder`, like a coding run's: ``config.yaml``
(each model's full params), ``run.json``, ``metrics.json`` and the report, where each topic model is
scored as one more coder by the coders' own scorer (intervals, groups, agreement).
Embeddings are computed once per run (and cached on disk when ``embedding_cache`` is set) and shared
by every BERTopic model that uses the run's encoder.
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lived_themes.topics import alignment, groups
from lived_themes.report import topic_outputs as outputs
from lived_themes.experiment.topics.scoring import LABEL_MODES, score_as_coders
from lived_themes.config.base import config_error, DataConfig
from lived_themes.config.load import load_config, resolved_params, read_yaml
from lived_themes.config.topics import TopicExperimentConfig
from lived_themes.encoders.sentence import encode
from lived_themes.evaluation.disclosure import suppress_small_groups
from lived_themes.experiment.coding import resolve_reference
from lived_themes.experiment.data import load_from_config
from lived_themes.experiment.predictions import model_annotations
from lived_themes.experiment.run_folder import RunFolder, METRICS_JSON
from lived_themes.experiment.scoring import evaluate_predictions, human_agreement, human_coders, metrics_document, privacy_floor
from lived_themes.topics.base import make_topic_model
from lived_themes.topics.quality import quality_table
from lived_themes.errors import InputError
from lived_themes.corpus.free_text import check_corpus_groups
from lived_themes.files import csv_for_people, write_text_atomic
from lived_themes.coders.onnx_backend import encoder_backend

log = logging.getLogger(__name__)

def resolve_config(config: dict[str, Any] | str | Path, *, where: str | None = None) -> tuple[dict[str, Any], Path | None]:
    """Validate a topic config (see :mod:`lived_themes.config.topics`) and return it with every default filled in."""
    from pydantic import ValidationError

    source = None
    if not isinstance(config, dict):
        source = Path(config)

        config = read_yaml(source)
    try:
        resolved = TopicExperimentConfig.model_validate(config)
    except ValidationError as exc:
        raise config_error(exc, where or (str(source) if source else "topic config")) from None
    return resolved.model_dump(mode="json"), source


def typed_config(config: Any, *, where: str | None = None) -> Any:
    """A TopicExperimentConfig from a typed config (as :func:`load_config` returns), a dict, or a YAML path."""
    from pydantic import ValidationError

    if isinstance(config, TopicExperimentConfig):
        return config
    if not isinstance(config, dict):
        return load_config(config)
    try:
        return TopicExperimentConfig.model_validate(config)
    except ValidationError as exc:
        raise config_error(exc, where or "topic config") from None


def load_data(cfg: dict[str, Any], source: Path | None = None) -> Any:
    """The corpus named by ``data`` (read as coding experiments read it), optionally a seeded sample of it."""

    corpus = load_from_config(DataConfig.model_validate(cfg["data"]), base_dir=source.parent if source else None)
    if cfg["sample"] and cfg["sample"] < len(corpus):
        rng = np.random.default_rng(cfg["seed"])
        corpus = corpus.subset(rng.choice(corpus.quote_ids, int(cfg["sample"]), replace=False).tolist())
    return corpus


def check_topic_counts(typed: Any, n_quotes: int) -> None:
    """A topic count asked for in the config fits the data: no more topics than quotes (a located line, before any fit)."""

    for i, spec in enumerate(typed.models):
        asked = spec.params.get("n_topics")
        if isinstance(asked, (int, float)) and not isinstance(asked, bool) and asked > n_quotes:
            raise InputError(f"{asked} topics asked for {n_quotes} quotes: a topic model finds at most one topic per quote; "
                             f"ask for at most {n_quotes} (a handful per hundred quotes is usual)",
                             file=typed.source or "config", field=f"models.{i}.params.n_topics")


def reference_labels(corpus: Any, reference: str | None) -> tuple[Any, str, np.ndarray]:
    """(corpus, coder name, (n, k) matrix) for the reference coder, or a consensus, resolved as coding runs resolve it."""

    name = reference or (corpus.human_coders[0] if corpus.human_coders else None)
    if name is None:
        raise ValueError(f"no human coder in the data to use as the reference; coders: {corpus.coders}")
    corpus = resolve_reference(corpus, name)
    return corpus, name, corpus.label_matrix(name, corpus.codes)


def _safe(name: str) -> str:
    """A column name usable in a file name ("Service type 1" -> "Service_type_1")."""
    return re.sub(r"[^\w.-]+", "_", str(name)).strip("_") or "group"


def _model_params(spec: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    params = dict(spec["params"])
    defaults = make_topic_model(spec["name"]).get_params()
    if "seed" in defaults:
        params.setdefault("seed", cfg["seed"])
    if "encoder" in defaults:
        params.setdefault("encoder", cfg["encoder"])
    return params


def run_topics(config: Any, *, out_dir: str | Path | None = None) -> Path:
    """Run a topic experiment and return its run folder (see the module docstring for what it holds).

    ``config`` is a typed config from :func:`lived_themes.config.load.load_config`, a YAML path,
    or a dict (validated, no project defaults merged).
    """

    typed = typed_config(config).model_copy(deep=True)
    for spec in typed.models:
        spec.params = _model_params(spec.model_dump(mode="json"), typed.model_dump(mode="json"))
    folder = RunFolder.create(out_dir, root=typed.output.dir, experiment=typed.name, kind="topics", seed=typed.seed)

    with folder.running(), encoder_backend(typed.encoder_backend):
        folder.info["encoder_backend"] = typed.encoder_backend
        folder.write_config(typed)
        _run(typed, folder)
    return folder.path


def _run(typed: Any, folder: Any) -> None:
    cfg, run = typed.model_dump(mode="json"), folder.path
    corpus = load_data(cfg, typed.source)

    check_corpus_groups(corpus, dict.fromkeys([*typed.groups, *_evaluation(typed).groups]),
                        role="a group (groups / evaluation.groups)",
                        allowed=typed.data.allow_free_text_columns)
    check_topic_counts(typed, len(corpus))
    folder.protect(corpus.texts)
    folder.info["codebook_hash"] = corpus.codebook.content_hash() if corpus.codebook else None
    corpus, coder, labels = reference_labels(corpus, cfg["reference_coder"])
    codes, texts = corpus.codes, corpus.texts
    log.info("topic run %s: %d quotes, %d codes, reference coder %s", cfg["name"], len(texts), len(codes), coder)

    embeddings = None
    if any(make_topic_model(s["name"]).uses_embeddings for s in cfg["models"]):
        start = time.perf_counter()
        embeddings = encode(texts, encoder=cfg["encoder"], cache_dir=cfg["embedding_cache"])
        log.info("embeddings: %d x %d in %.1f s", *embeddings.shape, time.perf_counter() - start)

    fitted, rows, timings, sections = {}, [], {}, []
    for spec in cfg["models"]:
        label, model = spec["label"], make_topic_model(spec["name"], **spec["params"])
        shared = embeddings if getattr(model, "encoder", None) == cfg["encoder"] else None
        start = time.perf_counter()
        model.fit(texts, embeddings=shared, codebook=corpus.codebook, labels=labels if spec["params"].get("mode") in LABEL_MODES else None)
        timings[label] = time.perf_counter() - start
        log.info("%s: %d topics in %.1f s", label, len(model.topic_ids), timings[label])
        fitted[label] = model
        rows.append({"model": label, **alignment.alignment_scores(model.topics_, labels, codes, **cfg["alignment"]), "fit_seconds": timings[label]})
        sections.append(_write_model(run / label, model, cfg, corpus=corpus, labels=labels, embeddings=shared))
    folder.write_text("alignment.csv", pd.DataFrame(rows).to_csv(index=False))
    quality = quality_table(fitted, texts)
    folder.write_text("quality.csv", quality.to_csv(index=False))
    if cfg["outputs"]["png"]:
        outputs.plot_quality(quality, run / "quality.png")
    results, not_evaluated, n_evaluated = [], [], 0
    if cfg["as_coder"]:
        results, not_evaluated, n_evaluated = _score_as_coders(typed, folder, fitted, corpus=corpus, coder=coder, labels=labels,
                                                               embeddings=embeddings, model_annotations=model_annotations)
    metrics = _metrics(typed, corpus, coder, codes, results, not_evaluated, n_evaluated)
    folder.write_json(METRICS_JSON, metrics)
    # topics.md: per model, the best code of each topic, the topics carrying each code, codes no topic captures
    folder.write_text("topics.md", outputs.topic_report(cfg["name"], len(texts), coder, quality, pd.DataFrame(rows), sections))
    summary = {"name": cfg["name"], "n_quotes": len(texts), "n_codes": len(codes), "reference_coder": coder, "fit_seconds": timings}
    folder.write_json("summary.json", summary)
    folder.write_report(metrics, config=resolved_params(typed), figures=typed.output.figures, html=typed.output.html)
    folder.finish()


def _evaluation(typed: Any) -> Any:
    """The run's evaluation settings; its groups default to the topic experiment's ``groups``."""
    return typed.evaluation if typed.evaluation.groups else typed.evaluation.model_copy(update={"groups": list(typed.groups)})


def _score_as_coders(typed: Any, folder: Any, fitted: dict[str, Any], *, corpus: Any, coder: str, labels: np.ndarray,
                     embeddings: np.ndarray | None, model_annotations: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Each topic model scored as one more coder by the coders' own scorer: intervals, groups, agreement."""

    cfg = typed.model_dump(mode="json")
    outputs_by_label, train, test = score_as_coders(fitted, cfg, corpus=corpus, labels=labels, embeddings=embeddings)
    scheme = f"holdout-{typed.as_coder.test_size:g}"
    keyed = {(scheme, f"topic-coder.v1:{label}"): out for label, out in outputs_by_label.items()}
    results = [evaluate_predictions(corpus, labels, out, codes=corpus.codes, scheme=s, coder=name, reference=coder,
                                    evaluation=_evaluation(typed), seed=typed.seed) for (s, name), out in keyed.items()]
    table = [{"model": label, "reference_coder": coder, "n_train": len(train), "n_test": len(test), **r["summary"]}
             for label, r in zip(outputs_by_label, results)]
    folder.write_text("coder_scores.csv", pd.DataFrame(table).to_csv(index=False))
    folder.write_text("model_annotations.csv", model_annotations(corpus.quote_ids, corpus.codes, keyed).to_csv(index=False))
    ids = np.asarray(corpus.quote_ids, dtype=object)
    seen = ~np.isnan(labels).all(axis=1)
    not_evaluated = [{"quote_id": q, "reason": "training quote for the topic -> code map"} for q in ids[train]]
    not_evaluated += [{"quote_id": q, "reason": f"not coded by reference coder {coder}"} for q in ids[~seen]]
    return results, not_evaluated, len(test)


def _metrics(typed: Any, corpus: Any, coder: str, codes: list[str], results: list[dict[str, Any]],
             not_evaluated: list[dict[str, Any]], n_evaluated: int) -> dict[str, Any]:
    evaluation = _evaluation(typed)
    humans = human_coders(corpus, evaluation)
    aside = [{"quote_id": q, "reason": f"set aside on load: {r}"} for q, r in zip(corpus.set_aside.get("quote_id", []), corpus.set_aside.get("reason", []))]
    return metrics_document(
        experiment=typed.name, description=typed.description or "topic models scored as coders on held-out quotes",
        reference=coder, corpus=corpus, n_quotes=len(corpus) + len(corpus.set_aside), n_evaluated=n_evaluated,
        not_evaluated=aside + not_evaluated, codes=codes, excluded_codes=[], humans=humans, groups=evaluation.groups,
        results=results, human_agreement=human_agreement(corpus, codes, humans, evaluation, seed=typed.seed),
        privacy=privacy_floor(corpus, evaluation),
    )


def _write_model(folder: Path, model: Any, cfg: dict[str, Any], *, corpus: Any, labels: np.ndarray, embeddings: np.ndarray | None) -> str:
    """Per-model files: assignments, topic table, contingency, code coverage, group and time shares, saved model, figures.

    Returns the model's alignment section (Markdown) for the run's report.
    """

    folder.mkdir(parents=True, exist_ok=True)
    out, codes, ids, texts = cfg["outputs"], corpus.codes, corpus.quote_ids, corpus.texts
    table = alignment.contingency_table(model.topics_, labels, codes, **cfg["alignment"])
    table.to_csv(folder / "contingency.csv")
    topics = outputs.topic_table(model, ids, texts, n_words=out["n_words"], n_examples=out["n_examples"], best=alignment.best_codes(table))
    # one label per topic for every table and figure: its top words and the label of the code it matches best
    labels = outputs.readable_labels(topics, {c.id: c.label for c in corpus.codebook.codes})
    topics["label"] = topics["topic"].map(labels)
    write_text_atomic(folder / "topics.csv", csv_for_people(topics))  # example quotes: opened in spreadsheets, formulas escaped
    coverage = alignment.code_coverage(table)
    coverage.to_csv(folder / "code_coverage.csv", index=False)
    section = outputs.alignment_markdown(folder.name, topics, coverage)
    (folder / "alignment.md").write_text(section, encoding="utf-8")
    pd.DataFrame({"quote_id": ids, "topic": model.topics_}).to_csv(folder / "assignments.csv", index=False)
    shares: dict[str, pd.DataFrame] = {}
    for column in cfg["groups"]:
        if column not in corpus.quotes.columns:
            raise ValueError(f"group column {column!r} not in the quotes table; columns: {list(corpus.quotes.columns)}")

    # groups below the privacy floor are never named in a table or figure
    floored = suppress_small_groups(corpus.quotes[list(cfg["groups"])].fillna(groups.MISSING), cfg.get("min_report_group_size", 5))[0]
    for column in cfg["groups"]:
        shares[column] = groups.topic_share_by_group(model.topics_, floored[column], name=column)
        write_text_atomic(folder / f"groups_{_safe(column)}.csv", csv_for_people(shares[column]))
    dates = None
    if cfg["date_column"] and cfg["date_column"] in corpus.quotes.columns:
        dates = corpus.quotes[cfg["date_column"]].tolist()
        if cfg["date_dayfirst"]:  # hand BERTopic ISO dates so it cannot misread 03/04 as 4 March
            dates = pd.to_datetime(pd.Series(dates, dtype=object), errors="coerce", dayfirst=True, format="mixed").dt.strftime("%Y-%m-%d").tolist()
        groups.topics_over_time(model.topics_, dates, dayfirst=cfg["date_dayfirst"]).to_csv(folder / "over_time.csv", index=False)
    model.save(folder / "model")
    if out["png"]:
        outputs.plot_topic_sizes(topics, folder / "topic_sizes.png", title=folder.name)
        share = table.div(table.sum(axis=1).replace(0, 1), axis=0)
        share.index = [labels.get(int(t), model.topic_label(t)) for t in share.index]
        outputs.plot_heatmap(share, folder / "contingency.png", title="share of each topic's codes", xlabel="code", ylabel="topic")
        for column, long in shares.items():
            outputs.plot_heatmap(groups.share_matrix(long, by=column), folder / f"groups_{_safe(column)}.png", title=f"topic share by {column}", xlabel="topic")
    if out["html"] and getattr(model, "model_", None) is not None and hasattr(model.model_, "visualize_barchart"):
        classes = {c: floored[c].tolist() for c in cfg["groups"]}
        written = outputs.write_bertopic_figures(
            model, folder / "figures", texts=texts, embeddings=embeddings, classes=classes, dates=dates, seed=cfg["seed"], self_contained=out["html_self_contained"],
            labels=labels,
        )
        (folder / "figures.json").write_text(json.dumps(written, indent=2), encoding="utf-8")
    return section
