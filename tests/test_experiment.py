"""The runner end to end: the main experiment with a tiny setting, and a two-coder corpus.

These shrink the real config (fewer resamples, fast coders) rather than mocking it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lived_themes.cli import app
from lived_themes.config.load import load_config
from lived_themes.corpus import Corpus, save_corpus
from lived_themes.experiment.coding import run_experiment

REPO = Path(__file__).resolve().parents[1]

THEMES = {
    "meds": ["too many pills", "the medication made me numb", "they just upped my dose", "tablets were all they offered"],
    "heard": ["nobody listened to me", "the doctor did not hear what I said", "I wanted to be heard", "they ignored what I told them"],
    "peer": ["the peer group saved me", "people with the same story helped", "my community group supported me", "peer support made a difference"],
}


def two_coder_corpus(n_per_theme: int = 8, seed: int = 0) -> Corpus:
    """Quotes with a known theme; coder A is right, coder B flips about 10% of decisions."""
    rng = np.random.default_rng(seed)
    quotes, annotations = [], []
    for theme, phrases in THEMES.items():
        for i in range(n_per_theme):
            qid = f"{theme}-{i}"
            quotes.append({"quote_id": qid, "text": f"{phrases[i % len(phrases)]} ({i})", "site": "north" if i % 2 else "south",
                           "participant": f"p{i % 5}"})
            annotations.append({"quote_id": qid, "coder": "A", "code": theme})
            other = theme if rng.random() > 0.1 else rng.choice([t for t in THEMES if t != theme])
            annotations.append({"quote_id": qid, "coder": "B", "code": other})
    return Corpus(quotes=pd.DataFrame(quotes), annotations=pd.DataFrame(annotations))


def test_main_experiment_runs_end_to_end_with_a_tiny_setting(tmp_path: Path) -> None:
    config = load_config(REPO / "experiments" / "nsun2014.yaml",
                         overrides=["evaluation.n_boot=20", "coders=[{name: majority.v1}, {name: tfidf-logreg.v1}]", "splits.1.n_splits=3"])
    run_dir = run_experiment(config, out_dir=tmp_path / "run", base_dir=REPO)
    for name in ("config.yaml", "run.json", "metrics.json", "predictions.jsonl", "report.md", "report.html"):
        assert (run_dir / name).exists(), name
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    quotes = [json.loads(line) for line in (REPO / "data" / "nsun2014" / "quotes.jsonl").read_text(encoding="utf-8").splitlines()]
    predictions = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [p["quote_id"] for p in predictions] == [q["quote_id"] for q in quotes]  # every quote accounted for, in order
    assert metrics["n_evaluated"] + len(metrics["not_evaluated"]) == len(quotes)
    schemes = {(r["scheme"], r["coder"]) for r in metrics["results"]}
    assert ("leave-one-focus_group-out", "tfidf-logreg.v1") in schemes and ("kfold-3", "majority.v1") in schemes
    for result in metrics["results"]:
        assert 0.0 <= result["summary"]["macro_f1"] <= 1.0
        assert {r["group_column"] for r in result["by_group"]} == {"focus_group", "gender"}
        assert any(r["coder_a"] == "report" or r["coder_b"] == "report" for r in result["agreement"])
    logo = next(r for r in metrics["results"] if r["scheme"].startswith("leave-one"))
    assert logo["n_tested"] == sum(q["focus_group"] != "survey" for q in quotes)
    assert "no human-human ceiling" in metrics["human_agreement"]["note"]
    run_info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert len(run_info["codebook_hash"]) == 64 and run_info["seed"] == 0 and "numpy" in run_info["packages"]


def test_same_seed_gives_the_same_metrics(tmp_path: Path) -> None:
    overrides = ["evaluation.n_boot=10", "coders=[{name: tfidf-logreg.v1}]", "splits=[{kind: kfold, n_splits: 3}]"]
    config = load_config(REPO / "experiments" / "nsun2014.yaml", overrides=overrides)
    a = json.loads((run_experiment(config, out_dir=tmp_path / "a", base_dir=REPO) / "metrics.json").read_text())
    b = json.loads((run_experiment(config, out_dir=tmp_path / "b", base_dir=REPO) / "metrics.json").read_text())
    assert a["results"][0]["summary"] == b["results"][0]["summary"]
    assert a["results"][0]["by_group"] == b["results"][0]["by_group"]


@pytest.fixture
def two_coder_experiment(tmp_path: Path) -> Path:
    save_corpus(two_coder_corpus(), tmp_path / "corpus")
    exp = tmp_path / "exp.yaml"
    exp.write_text(
        "name: two-coders\n"
        f"data: {{path: {tmp_path / 'corpus'}}}\n"
        "reference: {coder: 'consensus:majority'}\n"
        "splits: [{kind: group_kfold, group: participant, n_splits: 3}]\n"
        "coders: [{name: majority.v1}, {name: tfidf-logreg.v1}]\n"
        "evaluation: {groups: [site], cluster: participant, n_boot: 20, min_group_size: 5}\n"
        "final_model: {coder: tfidf-logreg.v1}\n",
        encoding="utf-8",
    )
    return exp


def test_two_human_coders_give_a_ceiling_and_a_saved_model(tmp_path: Path, two_coder_experiment: Path) -> None:
    result = CliRunner().invoke(app, ["run", str(two_coder_experiment), "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 0, result.output
    run_dir = Path(result.output.strip().splitlines()[-1])  # the last line printed is the run folder
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    human = metrics["human_agreement"]
    assert human["pairwise"] and human["alpha"] and human["by_group"]
    kappa_ab = [r["kappa"] for r in human["pairwise"] if r["code"] == "meds"][0]
    assert 0.5 < kappa_ab < 1.0  # B is A with about 10% noise
    tfidf = next(r for r in metrics["results"] if r["coder"] == "tfidf-logreg.v1")
    assert tfidf["substitution_alpha"] and tfidf["group_agreement"]
    assert {r["coder_b"] for r in tfidf["agreement"]} == {"model:tfidf-logreg.v1"}
    assert (run_dir / "model" / "coder.json").exists()

    texts = tmp_path / "new.csv"
    pd.DataFrame({"quote_id": ["x1", "x2", "x3"], "text": ["too many pills again", "", "nobody listened"]}).to_csv(texts, index=False)
    out = tmp_path / "pred.jsonl"
    result = CliRunner().invoke(app, ["predict", str(run_dir / "model"), str(texts), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["x1", "x2", "x3"]
    assert rows[1]["codes"] == [] and rows[1]["error"] == "empty text"
    assert set(rows[0]["scores"]) == {"meds", "heard", "peer"}


def test_evaluate_scores_external_predictions(tmp_path: Path) -> None:
    corpus = two_coder_corpus()
    annotations = tmp_path / "annotations.csv"
    corpus.annotations.to_csv(annotations, index=False)
    quotes = tmp_path / "quotes.csv"
    corpus.quotes.to_csv(quotes, index=False)
    predictions = tmp_path / "pred.csv"  # "model" = coder B's codes
    corpus.annotations[corpus.annotations["coder"] == "B"][["quote_id", "code"]].to_csv(predictions, index=False)
    result = CliRunner().invoke(app, ["evaluate", "--annotations", str(annotations), "--predictions", str(predictions), "--reference", "A",
                                      "--quotes", str(quotes), "--group", "site", "--out", str(tmp_path / "eval"), "--n-boot", "20"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text(encoding="utf-8"))
    kappa_model = {r["code"]: r["kappa"] for r in metrics["results"][0]["agreement"] if r["coder_a"] == "A" and r["coder_b"] == "model:external"}
    kappa_human = {r["code"]: r["kappa"] for r in metrics["human_agreement"]["pairwise"]}
    assert kappa_model == pytest.approx(kappa_human)  # the model IS coder B, so it agrees with A exactly as B does


def test_run_reports_config_errors_clearly(tmp_path: Path) -> None:
    exp = tmp_path / "bad.yaml"
    exp.write_text("coders: [{name: nope.v1}]\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(exp)])
    assert result.exit_code == 2
    assert "unknown coder 'nope.v1'" in result.output


def test_single_label_mode_best_coder_and_calibration(tmp_path: Path) -> None:
    """Each quote of the two-coder corpus has one code: auto finds single-label mode; 'best' saves the winner."""
    save_corpus(two_coder_corpus(), tmp_path / "corpus")
    exp = tmp_path / "exp.yaml"
    exp.write_text(
        "name: single\n"
        f"data: {{path: {tmp_path / 'corpus'}, label_mode: auto}}\n"
        "reference: {coder: A}\n"
        "splits: [{kind: kfold, n_splits: 3}]\n"
        "coders: [{name: majority.v1}, {name: tfidf-logreg.v1}, "
        "{name: ensemble.v1, params: {members: [majority.v1, tfidf-logreg.v1], combine: stack}}]\n"
        "evaluation: {n_boot: 10}\n"
        "final_model: {coder: best}\n"
        "output: {html: false}\n",
        encoding="utf-8",
    )
    run_dir = run_experiment(load_config(exp), out_dir=tmp_path / "run")
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "### Calibration" in report and "### Single-label scores" in report
    assert (run_dir / "figures" / "reliability__kfold-3.png").exists()
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["label_mode"] == "single"
    by_coder = {r["coder"]: r for r in metrics["results"]}
    for result in by_coder.values():
        single = result["single_label"]
        assert 0.0 <= single["accuracy"] <= 1.0 and single["multi_rate"] == 0.0
        calibration = result["calibration"]
        assert len(calibration["per_code"]) == 3 and 0.0 <= calibration["mean_brier"] <= 1.0
        assert sum(b["n"] for b in calibration["reliability"]) == 3 * result["n_tested"]
    chosen_by = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["model"]["chosen_by"]
    inner = chosen_by["inner_macro_f1"]  # chosen on inner validation; the majority floor has none and cannot win
    assert set(inner) == {"tfidf-logreg.v1", "ensemble.v1"} and all(0.0 <= f <= 1.0 for f in inner.values())
    best = max(inner, key=lambda c: (inner[c], -list(inner).index(c)))
    saved = json.loads((run_dir / "model" / "coder.json").read_text(encoding="utf-8"))
    assert saved["coder"] == best and saved["label_mode"] == "single"
    predictions = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    coded = [m["codes"] for p in predictions for by_coder in p["models"].values() for m in by_coder.values()]
    assert coded and all(len(c) <= 1 for c in coded) and any(len(c) == 1 for c in coded)
    texts = tmp_path / "new.csv"
    pd.DataFrame({"quote_id": ["x1", "x2"], "text": ["too many pills and nobody listened to me", "peer support"]}).to_csv(texts, index=False)
    out = tmp_path / "pred.jsonl"
    result = CliRunner().invoke(app, ["predict", str(run_dir / "model"), str(texts), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["x1", "x2"] and all(len(r["codes"]) <= 1 for r in rows)


def test_inner_macro_f1_cross_fits_thresholds_so_a_small_validation_set_is_not_favoured() -> None:
    """Thresholds tuned and scored on the same few quotes flatter a coder; cross-fitted ones do not."""
    from lived_themes.coders.baselines import MajorityCoder
    from lived_themes.experiment.coding import inner_macro_f1

    rng = np.random.default_rng(0)
    y = (rng.random((40, 6)) < 0.2).astype(float)
    noise = MajorityCoder()
    noise.codes_, noise.thresholds_ = list("abcdef"), np.full(6, 0.5)
    noise.tuning_ = (y, rng.random(y.shape))  # scores that know nothing about the codes
    from lived_themes.coders.base import tune_thresholds
    from lived_themes.evaluation.metrics import macro_f1

    same_quotes = macro_f1(y, (noise.tuning_[1] >= tune_thresholds(y, noise.tuning_[1])[None, :]).astype(float))
    assert inner_macro_f1(noise) < same_quotes  # tuning on the scored quotes is optimistic
    perfect = MajorityCoder()
    perfect.codes_, perfect.thresholds_ = list("abcdef"), np.full(6, 0.5)
    perfect.tuning_ = (y, y * 0.9 + 0.05)
    assert inner_macro_f1(perfect) == 1.0  # a coder identical to the reference scores perfectly
    perfect.tuning_ = None
    assert inner_macro_f1(perfect) is None
