"""Measurements that cannot mislead: a perfect coder scores 1 everywhere, small groups are never
named, and leakage is warned about. Through the real pipeline (CLI, scoring, run folders)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lived_themes.cli import app
from lived_themes.corpus import Corpus, load_corpus, save_corpus
from lived_themes.evaluation.leakage import is_person_id_column, training_ids_record, training_overlap
from lived_themes.experiment.coding import run_experiment
from lived_themes.config.base import EvaluationConfig
from lived_themes.config.load import load_config
from lived_themes.experiment.scoring import evaluate_predictions

REPO = Path(__file__).resolve().parents[1]
NSUN = REPO / "data" / "nsun2014"
SECRET_GROUP = "Transgender Woman"


def _perfect_predictions(tmp_path: Path) -> Path:
    ann = pd.read_csv(NSUN / "annotations.csv")
    path = tmp_path / "perfect.csv"
    ann[ann["coder"] == "report"][["quote_id", "code"]].to_csv(path, index=False)
    return path


def _evaluate(tmp_path: Path, predictions: Path, *extra: str) -> dict:
    out = tmp_path / "eval"
    args = ["evaluate", "--annotations", str(NSUN / "annotations.csv"), "--predictions", str(predictions), "--reference", "report",
            "--quotes", str(NSUN / "quotes.jsonl"), "--codebook", str(NSUN / "codebook.yaml"), "--group", "focus_group",
            "--out", str(out), "--n-boot", "200", *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads((out / "metrics.json").read_text(encoding="utf-8"))


def _assert_perfect(rows: list[dict]) -> None:
    assert rows
    for r in rows:
        assert r["value"] == 1.0 and r["ci_low"] == 1.0 and r["ci_high"] == 1.0, r
        assert r["n_codes"] >= 1


def test_perfect_coder_scores_one_in_every_focus_group_via_evaluate(tmp_path: Path) -> None:
    metrics = _evaluate(tmp_path, _perfect_predictions(tmp_path), "--min-report-group-size", "1")
    result = metrics["results"][0]
    assert result["summary"]["macro_f1"] == 1.0 and result["summary_ci"]["macro_f1"] == [1.0, 1.0]
    macro = [r for r in result["by_group"] if r["metric"] == "macro_f1"]
    assert {r["group"] for r in macro} == {"overall", "Lambeth", "Southwark", "Teesside", "survey"}
    _assert_perfect(macro)
    lambeth = next(r for r in macro if r["group"] == "Lambeth")
    assert lambeth["n_codes"] + len(lambeth["codes_absent"]) == len(metrics["codes"])  # absent codes listed, not scored
    assert result["codes_without_test_examples"] == []
    md = (tmp_path / "eval" / "report.md").read_text(encoding="utf-8")
    assert "Codes absent" in md and "Codes with no test examples" in md


def test_perfect_coder_through_scoring_with_the_cluster_bootstrap() -> None:
    corpus = load_corpus(NSUN)
    codes = corpus.codes
    labels = corpus.label_matrix("report", codes)
    out = {"scores": labels.copy(), "predicted": labels.copy(), "fold": np.full(len(labels), None), "seconds": {}}
    evaluation = EvaluationConfig(groups=["focus_group", "gender"], cluster="speaker_notation", n_boot=200, min_report_group_size=1)
    result = evaluate_predictions(corpus, labels, out, codes=codes, scheme="oracle", coder="reference", reference="report",
                                  evaluation=evaluation, seed=0)
    assert result["summary"]["macro_f1"] == 1.0 and result["summary_ci"]["macro_f1"] == [1.0, 1.0]
    _assert_perfect([r for r in result["by_group"] if r["metric"] in ("macro_f1", "micro_f1")])


def test_permuted_coder_scores_below_one(tmp_path: Path) -> None:
    ann = pd.read_csv(NSUN / "annotations.csv")
    ref = ann[ann["coder"] == "report"][["quote_id", "code"]]
    ids = ref["quote_id"].unique()
    shuffled = dict(zip(ids, np.random.default_rng(0).permutation(ids)))
    path = tmp_path / "permuted.csv"
    ref.assign(quote_id=ref["quote_id"].map(shuffled)).to_csv(path, index=False)
    metrics = _evaluate(tmp_path, path, "--min-report-group-size", "1")
    assert metrics["results"][0]["summary"]["macro_f1"] < 0.5


def _privacy_corpus() -> Corpus:
    """Three sites; one quote from a group of one person whose label must never be named."""
    rng = np.random.default_rng(3)
    quotes, annotations = [], []
    for i in range(36):
        code = ["meds", "heard", "peer"][i % 3]
        gender = SECRET_GROUP if i == 7 else ("woman" if i % 2 else "man")
        quotes.append({"quote_id": f"q{i}", "text": f"{code} words {rng.integers(100)}", "gender": gender,
                       "participant_id": f"p{i % 12}"})
        annotations.append({"quote_id": f"q{i}", "coder": "A", "code": code})
    return Corpus(quotes=pd.DataFrame(quotes), annotations=pd.DataFrame(annotations))


def _experiment(tmp_path: Path, extra: str = "") -> Path:
    save_corpus(_privacy_corpus(), tmp_path / "corpus")
    exp = tmp_path / "exp.yaml"
    exp.write_text(
        f"name: privacy\ndata: {{path: {tmp_path / 'corpus'}}}\nreference: {{coder: A}}\n"
        "coders: [{name: majority.v1}]\n"
        "evaluation: {groups: [gender], cluster: participant_id, n_boot: 10}\n" + extra,
        encoding="utf-8",
    )
    return exp


def test_a_group_of_one_is_never_named_in_the_run_folder(tmp_path: Path) -> None:
    config = load_config(_experiment(tmp_path, "splits: [{kind: group_kfold, group: participant_id, n_splits: 3}]\n"))
    run_dir = run_experiment(config, out_dir=tmp_path / "run")
    needle = SECRET_GROUP.lower()
    for name in ("report.md", "report.html", "metrics.json"):
        text = (run_dir / name).read_text(encoding="utf-8").lower()
        assert needle not in text and "transgender" not in text, name
    assert not [p for p in run_dir.rglob("*") if "transgender" in p.name.lower()]
    assert list((run_dir / "figures").glob("*.png"))
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    groups = {r["group"] for r in metrics["results"][0]["by_group"]}
    assert groups == {"overall", "man", "woman", "suppressed (n < 5)"}
    assert metrics["privacy"]["suppressed_groups"] == {"gender": 1}
    assert "suppressed (n < 5)" in (run_dir / "report.md").read_text(encoding="utf-8")
    assert not metrics["warnings"] or all("both the training and the test" not in w for w in metrics["warnings"])

    lowered = load_config(_experiment(tmp_path), overrides=["evaluation.min_report_group_size=1"])
    named = json.loads((run_experiment(lowered, out_dir=tmp_path / "named") / "metrics.json").read_text(encoding="utf-8"))
    assert SECRET_GROUP in {r["group"] for r in named["results"][0]["by_group"]}  # only when the researcher lowers it


def test_kfold_that_splits_participants_is_warned_about(tmp_path: Path) -> None:
    config = load_config(_experiment(tmp_path, "splits: [{kind: kfold, n_splits: 3}]\nfinal_model: {coder: majority.v1}\n"))
    run_dir = run_experiment(config, out_dir=tmp_path / "run")
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    leak = [w for w in metrics["warnings"] if "participant_id" in w and "both the training and the test" in w]
    assert len(leak) == 1 and leak[0].startswith("kfold-3:")
    assert "both the training and the test" in (run_dir / "report.md").read_text(encoding="utf-8")

    record = json.loads((run_dir / "model" / "training_ids.json").read_text(encoding="utf-8"))
    raw = (run_dir / "model" / "training_ids.json").read_text(encoding="utf-8")
    assert record["n"] == 36 and '"q1"' not in raw and training_overlap(record, ["q1", "q2", "nope"]) == 2

    predictions = tmp_path / "pred.csv"
    pd.DataFrame({"quote_id": [f"q{i}" for i in range(36)], "code": "meds"}).to_csv(predictions, index=False)
    corpus = _privacy_corpus()
    corpus.annotations.to_csv(tmp_path / "ann.csv", index=False)
    args = ["evaluate", "--annotations", str(tmp_path / "ann.csv"), "--predictions", str(predictions), "--reference", "A",
            "--out", str(tmp_path / "eval"), "--n-boot", "10", "--model", str(run_dir)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    warnings = json.loads((tmp_path / "eval" / "metrics.json").read_text(encoding="utf-8"))["warnings"]
    assert any(w.startswith("36 of 36 evaluated quote(s) were in the training data") for w in warnings)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("participant_id", True), ("RespondentID", True), ("speaker", True), ("speaker-no", True), ("participantid", True),
     ("subject_ids", True), ("speaker_notation", False), ("author_role", False), ("username", False), ("focus_group", False),
     ("quote_id", False)],
)
def test_person_id_column_rule(name: str, expected: bool) -> None:
    assert is_person_id_column(name) is expected


def test_training_ids_are_salted_hashes() -> None:
    a, b = training_ids_record(["1", "2"]), training_ids_record(["1", "2"])
    assert a["salt"] != b["salt"] and set(a["ids"]).isdisjoint(b["ids"]) and all(len(h) == 64 for h in a["ids"])
    with pytest.raises(ValueError):
        training_overlap({"ids": []}, ["1"])


def test_describe_suppresses_small_group_values(tmp_path: Path) -> None:
    save_corpus(_privacy_corpus(), tmp_path / "corpus")
    hidden = CliRunner().invoke(app, ["describe", str(tmp_path / "corpus"), "--by", "gender"])
    assert hidden.exit_code == 0, hidden.output
    assert "transgender" not in hidden.output.lower() and "suppressed (n < 5)" in hidden.output
    shown = CliRunner().invoke(app, ["describe", str(tmp_path / "corpus"), "--by", "gender", "--min-report-group-size", "1"])
    assert shown.exit_code == 0 and SECRET_GROUP in shown.output


def test_topic_shares_by_group_respect_the_privacy_floor(tmp_path: Path) -> None:
    from lived_themes.experiment.topics.pipeline import run_topics

    cfg = {"name": "floor", "data": str(NSUN), "groups": ["focus_group"], "outputs": {"html": False, "png": False},
           "as_coder": None, "models": [{"name": "lda.v1", "params": {"n_topics": 2}}]}
    shares = (run_topics(cfg, out_dir=tmp_path / "run") / "lda" / "groups_focus_group.csv").read_text(encoding="utf-8")
    assert "Lambeth" not in shares and "suppressed (n < 5)" in shares and "Southwark" in shares  # Lambeth has 3 quotes
