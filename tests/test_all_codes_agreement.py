"""Human agreement, disagreements.csv and adjudicate cover every code a coder used, not only the model's codes;
an adjudicated reference never counts as an independent human in the ceiling."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from lived_themes.cli import app
from lived_themes.corpus import Corpus, load_corpus, save_corpus

CODES = ["meds", "heard", "peer"]


def two_coder_corpus() -> Corpus:
    """A is the reference and uses meds/heard/peer (and 'rare' once); B agrees on those but also gives 'other',
    a code A never used, on every fourth quote."""
    quotes, ann = [], []
    for i in range(24):
        qid, code = f"q{i}", CODES[i % 3]
        quotes.append({"quote_id": qid, "text": f"{code} words number {i}", "site": "north" if i % 2 else "south"})
        ann.append({"quote_id": qid, "coder": "A", "code": "rare" if i == 23 else code})
        ann.append({"quote_id": qid, "coder": "B", "code": code})
        if i % 4 == 0:
            ann.append({"quote_id": qid, "coder": "B", "code": "other"})
    return Corpus(quotes=pd.DataFrame(quotes), annotations=pd.DataFrame(ann))


def _run(args: list[str]) -> Path:
    result = CliRunner().invoke(app, ["run", *args, "--quiet"])
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


def test_codes_the_reference_never_used_enter_agreement_queue_and_adjudication(tmp_path: Path) -> None:
    save_corpus(two_coder_corpus(), tmp_path / "corpus")
    exp = tmp_path / "exp.yaml"
    exp.write_text(
        "name: all-codes\n"
        f"data: {{path: {tmp_path / 'corpus'}, min_code_count: 2}}\n"
        "reference: {coder: A}\n"
        "splits: [{kind: kfold, n_splits: 2}]\n"
        "coders: [{name: majority.v1}, {name: tfidf-logreg.v1}]\n"
        "evaluation: {n_boot: 5, adjudication: {coder: tfidf-logreg.v1}}\n",
        encoding="utf-8",
    )
    run_dir = _run([str(exp), "--out", str(tmp_path / "run")])
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert "other" not in metrics["codes"] and "rare" not in metrics["codes"]  # the model does not learn them
    human = metrics["human_agreement"]
    assert {"other", "rare"} <= set(human["codes"])
    pairs = {r["code"]: r for r in human["pairwise"]}
    assert pairs["other"]["percent_agreement"] < 1.0 and pairs["rare"]["n_units"] == 24
    assert {r["code"] for r in human["alpha"]} >= {"other", "rare"}
    queue = pd.read_csv(run_dir / "disagreements.csv", dtype=str, keep_default_na=False)
    assert {"other", "rare"} <= set(queue["code"])
    assert len(queue[queue["code"] == "other"]) == 6  # q0, q4, ... q20: B said other, A did not
    assert metrics["adjudication"]["per_code"]["other"] == 6
    # the researcher decides for 'other' on q0: a code the reference never used is accepted
    queue["decision"] = ["yes" if (q, c) == ("q0", "other") else "" for q, c in zip(queue["quote_id"], queue["code"])]
    queue.to_csv(run_dir / "disagreements.csv", index=False)
    out = tmp_path / "adjudicated"
    result = CliRunner().invoke(app, ["adjudicate", str(run_dir), "--output", str(out)])
    assert result.exit_code == 0, result.output
    corpus = load_corpus(out)
    assert corpus.label_matrix("adjudicated", ["other"])[corpus.quote_ids.index("q0"), 0] == 1.0
    assert "adjudicated" in corpus.derived_coders and corpus.human_coders == ["A", "B"]
    # the suggested re-run: the adjudicated reference is not a third human, so the ceiling is still A vs B
    second = _run([str(exp), "--out", str(tmp_path / "run2"), "--set", "data.format=corpus", "--set", f"data.path={out}",
                   "--set", "reference.coder=adjudicated", "--set", "evaluation.adjudication.coder=null"])
    again = json.loads((second / "metrics.json").read_text(encoding="utf-8"))
    assert again["human_coders"] == ["A", "B"]
    assert {(r["coder_a"], r["coder_b"]) for r in again["human_agreement"]["pairwise"]} == {("A", "B")}


def test_a_renamed_adjudicated_coder_is_flagged_not_human(tmp_path: Path) -> None:
    from lived_themes.workflows.adjudicate import mark_derived

    corpus = two_coder_corpus()
    agreed = corpus.with_coder("final", corpus.label_matrix("A", CODES), CODES)
    flagged = mark_derived(agreed, "final")
    save_corpus(flagged, tmp_path / "c", format="csv")
    back = load_corpus(tmp_path / "c")
    assert back.human_coders == ["A", "B"] and "final" in back.derived_coders
