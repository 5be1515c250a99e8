"""``run_topics(config) -> run folder``: fit every configured topic model, align it with a reference coder,
score its quality, break topics down by group and over time, and write tables and figures.

One plain function that the CLI, notebooks and tests all call. The config is a dict (or a YAML path),
validated by :class:`lived_themes.experiment.topic_config.TopicExperimentConfig`; missing keys take its defaults,
and the resolved config is written to the run folder.
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
import yaml

from lived_themes.topics import alignment, groups
from lived_themes.report import topic_outputs as outputs
from lived_themes.experiment.topic_scoring import LABEL_MODES

log = logging.getLogger(__name__)

def resolve_config(config: dict[str, Any] | str | Path, *, where: str | None = None) -> tuple[dict[str, Any], Path | None]:
    """Validate a topic config (see :mod:`lived_themes.experiment.topic_config`) and return it with every default filled in."""
    from pydantic import ValidationError

    from lived_themes.experiment.config import config_error
    from lived_themes.experiment.topic_config import TopicExperimentConfig

    source = None
    if not isinstance(config, dict):
        source = Path(config)
        config = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    try:
        resolved = TopicExperimentConfig.model_validate(config)
    except ValidationError as exc:
        raise config_error(exc, where or (str(source) if source else "topic config")) from None
    return resolved.model_dump(mode="json"), source


def load_data(cfg: dict[str, Any], source: Path | None = None) -> Any:
    """The corpus named by ``data`` (read as coding experiments read it), optionally a seeded sample of it."""
    from lived_themes.experiment.config import DataConfig
    from lived_themes.experiment.data import load_from_config

    corpus = load_from_config(DataConfig.model_validate(cfg["data"]), base_dir=source.parent if source else None)
    if cfg["sample"] and cfg["sample"] < len(corpus):
        rng = np.random.default_rng(cfg["seed"])
        corpus = corpus.subset(rng.choice(corpus.quote_ids, int(cfg["sample"]), replace=False).tolist())
    return corpus


def reference_labels(corpus: Any, reference: str | None) -> tuple[str, np.ndarray]:
    """(coder name, (n, k) matrix) for the reference coder or a consensus of the human coders."""
    from lived_themes.corpus import consensus

    if reference and reference.startswith("consensus:"):
        corpus = consensus(corpus, reference.split(":", 1)[1], name=reference)
    name = reference or (corpus.human_coders[0] if corpus.human_coders else None)
    if name is None or name not in corpus.coders:
        raise ValueError(f"reference coder {reference!r} not found; coders: {corpus.coders}")
    return name, corpus.label_matrix(name, corpus.codes)


def _safe(name: str) -> str:
    """A column name usable in a file name ("Service type 1" -> "Service_type_1")."""
    return re.sub(r"[^\w.-]+", "_", str(name)).strip("_") or "group"


def _model_params(spec: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    from lived_themes.topics.base import make_topic_model

    params = dict(spec["params"])
    defaults = make_topic_model(spec["name"]).get_params()
    if "seed" in defaults:
        params.setdefault("seed", cfg["seed"])
    if "encoder" in defaults:
        params.setdefault("encoder", cfg["encoder"])
    return params


def run_topics(config: dict[str, Any] | str | Path, *, out_dir: str | Path | None = None) -> Path:
    """Run a topic experiment and return its run folder (see the module docstring for what it holds)."""
    from lived_themes.topics.base import make_topic_model
    from lived_themes.topics.quality import quality_table

    cfg, source = resolve_config(config)
    run = Path(out_dir) if out_dir else Path("runs") / "topics" / f"{cfg['name']}-{time.strftime('%Y%m%d-%H%M%S')}"
    run.mkdir(parents=True, exist_ok=True)
    corpus = load_data(cfg, source)
    coder, labels = reference_labels(corpus, cfg["reference_coder"])
    codes, texts = corpus.codes, corpus.texts
    log.info("topic run %s: %d quotes, %d codes, reference coder %s", cfg["name"], len(texts), len(codes), coder)
    for spec in cfg["models"]:
        spec["params"] = _model_params(spec, cfg)
    (run / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")

    embeddings = None
    if any(make_topic_model(s["name"]).uses_embeddings for s in cfg["models"]):
        from lived_themes.coders.embeddings import encode

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
    pd.DataFrame(rows).to_csv(run / "alignment.csv", index=False)
    quality = quality_table(fitted, texts)
    quality.to_csv(run / "quality.csv", index=False)
    if cfg["outputs"]["png"]:
        outputs.plot_quality(quality, run / "quality.png")
    if cfg["as_coder"]:
        from lived_themes.experiment.topic_scoring import score_as_coders

        scores, model_codes = score_as_coders(fitted, cfg, corpus=corpus, coder=coder, labels=labels, embeddings=embeddings)
        scores.to_csv(run / "coder_scores.csv", index=False)
        model_codes.to_csv(run / "model_annotations.csv", index=False)
    report = outputs.topic_report(cfg["name"], len(texts), coder, quality, pd.DataFrame(rows), sections)
    (run / "report.md").write_text(report, encoding="utf-8")
    summary = {"name": cfg["name"], "n_quotes": len(texts), "n_codes": len(codes), "reference_coder": coder, "fit_seconds": timings}
    (run / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return run


def _write_model(folder: Path, model: Any, cfg: dict[str, Any], *, corpus: Any, labels: np.ndarray, embeddings: np.ndarray | None) -> str:
    """Per-model files: assignments, topic table, contingency, code coverage, group and time shares, saved model, figures.

    Returns the model's alignment section (Markdown) for the run's report.
    """
    folder.mkdir(parents=True, exist_ok=True)
    out, codes, ids, texts = cfg["outputs"], corpus.codes, corpus.quote_ids, corpus.texts
    table = alignment.contingency_table(model.topics_, labels, codes, **cfg["alignment"])
    table.to_csv(folder / "contingency.csv")
    topics = outputs.topic_table(model, ids, texts, n_words=out["n_words"], n_examples=out["n_examples"], best=alignment.best_codes(table))
    topics.to_csv(folder / "topics.csv", index=False)
    coverage = alignment.code_coverage(table)
    coverage.to_csv(folder / "code_coverage.csv", index=False)
    section = outputs.alignment_markdown(folder.name, topics, coverage)
    (folder / "alignment.md").write_text(section, encoding="utf-8")
    pd.DataFrame({"quote_id": ids, "topic": model.topics_}).to_csv(folder / "assignments.csv", index=False)
    shares: dict[str, pd.DataFrame] = {}
    for column in cfg["groups"]:
        if column not in corpus.quotes.columns:
            raise ValueError(f"group column {column!r} not in the quotes table; columns: {list(corpus.quotes.columns)}")
        shares[column] = groups.topic_share_by_group(model.topics_, corpus.quotes[column], name=column)
        shares[column].to_csv(folder / f"groups_{_safe(column)}.csv", index=False)
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
        share.index = [model.topic_label(t) for t in share.index]
        outputs.plot_heatmap(share, folder / "contingency.png", title="share of each topic's codes", xlabel="code", ylabel="topic")
        for column, long in shares.items():
            outputs.plot_heatmap(groups.share_matrix(long, by=column), folder / f"groups_{_safe(column)}.png", title=f"topic share by {column}", xlabel="topic")
    if out["html"] and getattr(model, "model_", None) is not None and hasattr(model.model_, "visualize_barchart"):
        classes = {c: corpus.quotes[c].fillna(groups.MISSING).tolist() for c in cfg["groups"]}
        written = outputs.write_bertopic_figures(
            model, folder / "figures", texts=texts, embeddings=embeddings, classes=classes, dates=dates, seed=cfg["seed"], self_contained=out["html_self_contained"]
        )
        (folder / "figures.json").write_text(json.dumps(written, indent=2), encoding="utf-8")
    return section
