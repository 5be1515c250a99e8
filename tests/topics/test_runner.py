"""run_topics end to end on a shrunk config: tables, model folders and PNGs land in the run folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
import yaml

from lived_themes.corpus import save_corpus
from lived_themes.errors import ConfigError
from lived_themes.experiment.topics.pipeline import load_data, resolve_config, run_topics

ROOT = Path(__file__).resolve().parents[2]
NSUN = ROOT / "data" / "nsun2014"


def _config(folder: Path, models: list[dict]) -> dict:
    return {"name": "tiny", "data": str(folder), "groups": ["site"], "date_column": "date", "models": models}


def test_lda_nmf_run(tiny_corpus, tmp_path) -> None:
    save_corpus(tiny_corpus, tmp_path / "corpus")
    models = [{"name": "lda.v1", "params": {"n_topics": 3}}, {"name": "nmf.v1", "params": {"n_topics": 3}}]
    run = run_topics(_config(tmp_path / "corpus", models), out_dir=tmp_path / "run")
    alignment = pd.read_csv(run / "alignment.csv").set_index("model")
    assert alignment.loc["lda", "nmi"] > 0.9 and alignment.loc["nmf", "purity"] > 0.9
    quality = pd.read_csv(run / "quality.csv")
    assert quality["model"].tolist() == ["lda", "nmf"] and quality["diversity"].between(0, 1).all()
    scores = pd.read_csv(run / "coder_scores.csv").set_index("model")
    assert scores.loc["lda", "macro_f1"] > scores.loc["base-rates", "macro_f1"]
    report = (run / "topics.md").read_text()  # the topic-by-topic reading; report.md holds the scores as coders
    assert "Too small to judge: 24 quotes" in report and "### Codes no topic captures" in report
    assert "## lda" in report and "## nmf" in report
    coverage = pd.read_csv(run / "lda" / "code_coverage.csv")
    assert set(coverage["code"]) == {"staff", "waiting", "medication"} and coverage["captured"].all()
    for text in tiny_corpus.texts:
        assert text not in report  # quotes by id only
    for file in ["alignment.md", "code_coverage.csv", "topics.csv", "contingency.csv", "assignments.csv", "groups_site.csv", "over_time.csv", "topic_sizes.png", "contingency.png", "model/topic_model.json"]:
        assert (run / "lda" / file).exists(), file
    table = pd.read_csv(run / "lda" / "topics.csv")
    assert table["representative_ids"].str.startswith("q").all()
    # each topic's label: its top words, then the label (not the id) of the code it matches best
    assert {label.split(" · ")[-1] for label in table["label"]} == {"Kind staff who listen", "Waiting times", "Medication"}
    assert all(label.startswith(f"{t}: ") for t, label in zip(table["topic"], table["label"]))
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["models"][0]["params"]["seed"] == 0 and resolved["alignment"]["multilabel"] == "expand"
    assert resolved["models"][0]["params"]["max_df"] == 0.95  # every constructor param recorded, not only those given
    annotations = pd.read_csv(run / "model_annotations.csv")
    assert set(annotations["coder"]) == {"model:topic-coder.v1:base-rates", "model:topic-coder.v1:lda", "model:topic-coder.v1:nmf"}
    # the same run-folder files as a coding run, scored by the coders' scorer (intervals and groups)
    for file in ["config.yaml", "run.json", "metrics.json", "report.md", "report.html"]:
        assert (run / file).exists(), file
    assert not (run / "INCOMPLETE").exists()
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "complete" and info["kind"] == "topics" and info["seed"] == 0 and "codebook_hash" in info
    metrics = json.loads((run / "metrics.json").read_text())
    lda = next(r for r in metrics["results"] if r["coder"] == "topic-coder.v1:lda")
    assert lda["summary"]["macro_f1"] == pytest.approx(scores.loc["lda", "macro_f1"])
    assert lda["summary_ci"]["macro_f1"][0] is not None and {r["group_column"] for r in lda["by_group"]} == {"site"}
    assert metrics["n_evaluated"] + len(metrics["not_evaluated"]) == metrics["n_quotes"]


def test_config_checks(tmp_path) -> None:
    with pytest.raises(ConfigError, match="modles: unknown key"):
        resolve_config({"data": "x", "modles": []})
    with pytest.raises(ConfigError, match="data: Field required"):
        resolve_config({})
    cfg, _ = resolve_config({"data": "x", "models": [{"name": "lda.v1"}, {"name": "lda.v1"}, {"name": "lda.v1", "label": "lda-3"}]})
    assert [m["label"] for m in cfg["models"]] == ["lda", "lda-2", "lda-3"]
    assert cfg["data"]["path"] == "x" and cfg["as_coder"] == {"test_size": 0.3}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"models": [{"name": "lda.v2"}]}, "models.0.name: unknown topic model 'lda.v2'"),
        ({"models": [{"name": "lda.v1", "params": {"ntopics": 5}}]}, "models.0.params: lda.v1 takes no parameter 'ntopics'"),
        ({"models": [{"name": "bertopic.v1", "params": {"mode": "guidd"}}]}, "mode must be one of"),
        ({"models": []}, "models: List should have at least 1 item"),
        ({"models": [{"name": "nmf.v1", "label": "a"}, {"name": "lda.v1", "label": "a"}]}, "labels must differ"),
        ({"seed": "many"}, "seed: Input should be a valid integer"),
        ({"alignment": {"multilabel": "all"}}, "alignment.multilabel: Input should be 'expand' or 'first'"),
        ({"as_coder": {"test_size": 1.5}}, "as_coder.test_size: Input should be less than 1"),
        ({"data": {"path": "x", "blank": "maybe"}}, "data.blank: Input should be 'error' or 'zero'"),
        ({"data": {"path": "x", "min_code_count": 20}}, r"\['min_code_count'\] apply to coding experiments only"),
        ({"data": {"path": "x", "colum_mapping": {}}}, "data.colum_mapping: unknown key"),
    ],
)
def test_config_errors_name_the_key(config: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_config({"data": "x", **config}, where="exp.yaml")


def test_config_error_names_the_file(tmp_path) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text("data: x\nmodels: [{name: lda.v1, params: {n_topic: 3}}]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"{path}: 1 problem"):
        resolve_config(path)


def test_wide_data_options_reach_the_loader(tmp_path) -> None:
    wide = tmp_path / "wide.csv"
    wide.write_text("id,comment,A,B\nr1,the ward was calm,1,\nr2,nobody listened,0,1\n", encoding="utf-8")
    data = {"path": str(wide), "format": "wide", "coder": "nhs", "code_columns": ["A", "B"], "blank": "zero", "column_mapping": {"id": "quote_id", "comment": "text"}}
    cfg, _ = resolve_config({"data": data})
    corpus = load_data(cfg)
    assert corpus.coders == ["nhs"] and corpus.label_matrix("nhs", ["A", "B"]).tolist() == [[1, 0], [0, 1]]


@pytest.mark.slow
def test_bertopic_run_with_figures(tiny_corpus, tmp_path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    save_corpus(tiny_corpus, tmp_path / "corpus")
    models = [{"name": "bertopic.v1"}, {"name": "bertopic.v1", "label": "zeroshot", "params": {"mode": "zeroshot"}}]
    run = run_topics(_config(tmp_path / "corpus", models), out_dir=tmp_path / "run")
    figures = json.loads((run / "bertopic" / "figures.json").read_text())
    assert (run / "bertopic" / "figures" / "plotly.min.js").stat().st_size > 1_000_000  # plotly.js beside the figures: opens offline
    assert 'src="plotly.min.js"' in Path(figures["barchart"]).read_text()
    labels = pd.read_csv(run / "bertopic" / "topics.csv")["label"]
    assert any(str(label).split(" · ")[-1] in Path(figures["barchart"]).read_text() for label in labels)  # readable labels in the figures
    assert all(not str(v).startswith("skipped") for k, v in figures.items() if k != "over_time"), figures
    assert pd.read_csv(run / "alignment.csv").set_index("model").loc["zeroshot", "purity"] > 0.9
    table = pd.read_csv(run / "zeroshot" / "topics.csv")
    assert set(table["code_from_codebook"].dropna()) == {"staff", "waiting", "medication"}


@pytest.mark.slow
@pytest.mark.skipif(not (NSUN / "annotations.csv").exists(), reason="data/nsun2014/annotations.csv not written yet")
def test_nsun2014_runs(tmp_path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cfg = {"name": "nsun", "data": str(NSUN), "groups": ["focus_group", "gender"], "outputs": {"html": False}}
    run = run_topics(cfg, out_dir=tmp_path / "run")
    assert len(pd.read_csv(run / "alignment.csv")) == 3
