"""Alt-test, AC1, the adjudication queue and stability inside a run; adjudicate round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lived_themes.cli import app
from lived_themes.corpus import Corpus, load_corpus, save_corpus
from lived_themes.errors import InputError
from lived_themes.evaluation.adjudication import disagreement_queue
from lived_themes.workflows.adjudicate import read_decisions

THEMES = {
    "meds": ["too many pills", "the medication made me numb", "they just upped my dose", "tablets were all they offered"],
    "heard": ["nobody listened to me", "the doctor did not hear what I said", "I wanted to be heard", "they ignored what I told them"],
    "peer": ["the peer group saved me", "people with the same story helped", "my community group supported me", "peer support made a difference"],
}


def three_coder_corpus(n_per_theme: int = 8, seed: int = 0) -> Corpus:
    """Quotes with a known theme; coders A, B, C each flip about 15% of decisions."""
    rng = np.random.default_rng(seed)
    quotes, annotations = [], []
    for theme, phrases in THEMES.items():
        for i in range(n_per_theme):
            qid = f"{theme}-{i}"
            quotes.append({"quote_id": qid, "text": f"{phrases[i % len(phrases)]} ({i})", "site": "north" if i % 2 else "south",
                           "participant": f"p{i % 5}"})
            for coder in "ABC":
                other = theme if rng.random() > 0.15 else str(rng.choice([t for t in THEMES if t != theme]))
                annotations.append({"quote_id": qid, "coder": coder, "code": other})
    return Corpus(quotes=pd.DataFrame(quotes), annotations=pd.DataFrame(annotations))


@pytest.fixture
def experiment(tmp_path: Path) -> Path:
    save_corpus(three_coder_corpus(), tmp_path / "corpus")
    exp = tmp_path / "exp.yaml"
    exp.write_text(
        "name: three-coders\n"
        f"data: {{path: {tmp_path / 'corpus'}}}\n"
        "reference: {coder: 'consensus:majority'}\n"
        "splits: [{kind: group_kfold, group: participant, n_splits: 3}]\n"
        "coders: [{name: majority.v1}, {name: tfidf-logreg.v1}]\n"
        "evaluation: {groups: [site], n_boot: 10, min_group_size: 5, stability_seeds: [0, 1],\n"
        "             alt_test: {epsilon: crowd}, adjudication: {top_n: 3}}\n",
        encoding="utf-8",
    )
    return exp


def _run(args: list[str]) -> Path:
    result = CliRunner().invoke(app, ["run", *args, "--quiet"])
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


def test_run_reports_alt_test_ac1_queue_and_stability(tmp_path: Path, experiment: Path) -> None:
    run_dir = _run([str(experiment), "--out", str(tmp_path / "run")])
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    tfidf = next(r for r in metrics["results"] if r["coder"] == "tfidf-logreg.v1")
    summary = tfidf["alt_test"]["summary"][0]
    assert summary["epsilon"] == 0.1 and summary["n_annotators"] == 3 and 0 <= summary["advantage_probability"] <= 1
    assert {a["test"] for a in tfidf["alt_test"]["annotators"]} <= {"wilcoxon", "constant"}  # 24 quotes < 30
    assert {r["family"] for r in tfidf["alt_test"]["by_group"]} == {"site=north | all", "site=south | all"}
    codes = {r["code"] for r in metrics["human_agreement"]["chance_corrected"]}
    assert codes == set(THEMES) and all(r["ac1"] is not None for r in metrics["human_agreement"]["chance_corrected"])
    assert tfidf["chance_corrected"]  # the model as one more coder
    queue = pd.read_csv(run_dir / "disagreements.csv")
    assert metrics["adjudication"]["n_items"] == len(queue) > 0
    assert list(queue["vote_entropy"]) == sorted(queue["vote_entropy"], reverse=True)
    assert set(queue.columns) >= {"quote_id", "code", "said_yes", "said_no", "model_score", "decision"}
    stab = metrics["stability"]
    assert stab["seeds"] == [0, 1] and {r["code"] for r in stab["per_code"]} == set(THEMES)
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "Alt-test" in report and "AC1" in report and "Adjudication queue" in report and "Stability across seeds" in report
    assert "too many pills" not in report  # ids only, never quote text
    from lived_themes.report.reliability import alt_test_table

    assert "| tfidf-logreg.v1 | all | 0.10 | 3 |" in alt_test_table(metrics)


def test_adjudicate_round_trip(tmp_path: Path, experiment: Path) -> None:
    run_dir = _run([str(experiment), "--out", str(tmp_path / "run")])
    queue = pd.read_csv(run_dir / "disagreements.csv", dtype=str, keep_default_na=False)
    truth = {qid: qid.split("-")[0] for qid in queue["quote_id"]}
    queue["decision"] = ["yes" if truth[q] == c else "no" for q, c in zip(queue["quote_id"], queue["code"])]
    queue.to_csv(run_dir / "disagreements.csv", index=False)
    out = tmp_path / "adjudicated"
    result = CliRunner().invoke(app, ["adjudicate", str(run_dir), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{len(queue)} decision(s)" in result.output
    corpus = load_corpus(out)
    assert "adjudicated" in corpus.coders
    matrix = corpus.label_matrix("adjudicated", list(THEMES))
    for q, c, d in zip(queue["quote_id"], queue["code"], queue["decision"]):
        assert matrix[corpus.quote_ids.index(q), list(THEMES).index(c)] == (1.0 if d == "yes" else 0.0)
    # every human disagreement was decided (the queue holds them all), so the coder is the truth here
    expected = np.array([[1.0 if q.split("-")[0] == t else 0.0 for t in THEMES] for q in corpus.quote_ids])
    assert (matrix == expected).all()
    # the next run takes the adjudicated coder as its reference
    second = _run([str(experiment), "--out", str(tmp_path / "run2"), "--set", "data.format=corpus", "--set", f"data.path={out}",
                   "--set", "reference.coder=adjudicated", "--set", "evaluation.stability_seeds=[]"])
    metrics = json.loads((second / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["reference"] == "adjudicated" and "adjudicated" not in metrics["human_coders"]  # never an independent human


def test_bad_decision_names_file_row_and_field(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    pd.DataFrame({"quote_id": ["a", "b"], "code": ["x", "x"], "decision": ["1", "maybe"]}).to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        read_decisions(path)
    assert err.value.row == 2 and err.value.field == "decision" and "maybe" not in str(err.value)


def test_queue_order_split_votes_first_then_model_surprise() -> None:
    nan = np.nan
    labels = {"a": np.array([[1.0], [1.0], [1.0], [0.0]]), "b": np.array([[0.0], [1.0], [1.0], [0.0]]),
              "c": np.array([[1.0], [1.0], [0.0], [nan]]), "m": np.array([[0.0], [0.0], [1.0], [0.0]])}
    scores = np.array([[0.45], [0.05], [0.9], [0.1]])
    queue = disagreement_queue(labels, ["k"], ["q1", "q2", "q3", "q4"], humans=["a", "b", "c"], model="m", model_scores=scores)
    # q1: 2 yes of 4 (entropy 1), q3: 3 of 4, q2: 3 of 4 but the model is surer against the humans; q4 all agree
    assert queue["quote_id"].tolist() == ["q1", "q2", "q3"]
    assert queue.loc[0, "said_yes"] == "a;c" and queue.loc[0, "said_no"] == "b;m"
