"""One run machinery: top_k reaches run and predict, run folders cannot be mistaken, the model is one more coder.

Everything runs on a tiny corpus with the null (hashing) encoder and TF-IDF, so it takes seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lived_themes.cli import app
from lived_themes.codebook import Code, Codebook
from lived_themes.corpus import Corpus, save_corpus
from lived_themes.config.load import load_config
from lived_themes.experiment.run import run

THEMES = {
    "access": ["I waited months for an appointment", "the waiting list was a year long", "no appointment and a long wait",
               "waiting for a referral letter for months", "the wait for therapy was too long", "another long wait for help"],
    "relationship": ["my nurse listened and was kind", "staff were kind and listened", "the doctor listened to me",
                     "kind staff who listen to us", "she listened without judging me", "a kind nurse listened to me"],
    "crisis": ["the crisis team never came at night", "in crisis at night nobody answered", "crisis line at night helped me",
               "a crisis and no help at night", "at night in crisis I went to A&E", "crisis care at night failed me"],
}


def _corpus() -> Corpus:
    quotes, annotations = [], []
    for theme, texts in THEMES.items():
        for i, text in enumerate(texts):
            qid = f"{theme}-{i}"
            quotes.append({"quote_id": qid, "text": text, "site": "north" if i % 2 else "south"})
            annotations.append({"quote_id": qid, "coder": "A", "code": theme})
            if i == 0:  # a second code on some quotes, so top_k=1 has something to cut
                annotations.append({"quote_id": qid, "coder": "A", "code": "crisis" if theme != "crisis" else "access"})
    book = Codebook(name="tiny", version="1", codes=[
        Code(id="access", label="Access", definition="waiting lists, a long wait, appointments"),
        Code(id="relationship", label="Relationship", definition="kind staff who listened"),
        Code(id="crisis", label="Crisis", definition="crisis care at night"),
    ])
    return Corpus(quotes=pd.DataFrame(quotes), annotations=pd.DataFrame(annotations), codebook=book)


@pytest.fixture
def experiment(tmp_path: Path) -> Path:
    save_corpus(_corpus(), tmp_path / "corpus")
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "defaults.yaml").write_text("seed: 0\n", encoding="utf-8")
    exp = tmp_path / "exp.yaml"
    exp.write_text(
        "name: tiny\n"
        "data: {path: corpus}\n"  # relative: resolved beside this file
        "reference: {coder: A}\n"
        "splits: [{kind: kfold, n_splits: 3}]\n"
        "coders: [{name: codebook-similarity.v1, params: {encoder: hashing, threshold: 0.0}}, {name: tfidf-logreg.v1}]\n"
        "evaluation: {groups: [site], n_boot: 5, min_group_size: 2}\n"
        "final_model: {coder: codebook-similarity.v1}\n"
        "output: {html: false, figures: false}\n",
        encoding="utf-8",
    )
    return exp


def _cli(*args: str) -> object:
    return CliRunner().invoke(app, [str(a) for a in args])


def _codes_per_quote(run_dir: Path, coder: str = "codebook-similarity.v1") -> list[int]:
    lines = [json.loads(x) for x in (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    return [len(x["models"]["kfold-3"][coder]["codes"]) for x in lines]


def test_top_k_changes_run_and_predict_outputs(experiment: Path, tmp_path: Path) -> None:
    plain = _cli("run", experiment, "--out", tmp_path / "plain", "-q")
    assert plain.exit_code == 0, plain.output
    top1 = _cli("run", experiment, "--set", "coders.0.params.top_k=1", "--out", tmp_path / "top1", "-q")
    assert top1.exit_code == 0, top1.output
    assert max(_codes_per_quote(tmp_path / "plain")) > 1  # threshold 0: every code with a positive cosine
    assert _codes_per_quote(tmp_path / "top1") == [1] * 18
    table = pd.read_csv(tmp_path / "top1" / "model_annotations.csv")
    assert table[table["coder"] == "model:codebook-similarity.v1"].groupby("quote_id").size().eq(1).all()

    texts = tmp_path / "new.csv"
    pd.DataFrame({"quote_id": ["n1", "n2"], "text": ["a long wait at night in crisis", "kind staff listened"]}).to_csv(texts, index=False)
    for name in ("plain", "top1"):  # a run folder is accepted: predict finds its model/
        result = _cli("predict", tmp_path / name, texts, "-o", tmp_path / f"{name}.jsonl")
        assert result.exit_code == 0, result.output
    counts = {n: [len(json.loads(x)["codes"]) for x in (tmp_path / f"{n}.jsonl").read_text().splitlines()] for n in ("plain", "top1")}
    assert counts["top1"] == [1, 1] and max(counts["plain"]) > 1

    config = (tmp_path / "top1" / "config.yaml").read_text(encoding="utf-8")
    resolved = load_config(tmp_path / "top1" / "config.yaml", defaults_dir=tmp_path / "configs")
    assert resolved.coders[0].params["top_k"] == 1 and resolved.coders[1].params["solver"] == "lbfgs"  # full params recorded
    assert "params: {}" not in config
    report = (tmp_path / "top1" / "report.md").read_text(encoding="utf-8")
    assert "`model/`" in report and f"lived-themes predict {tmp_path / 'top1'}" in report


def test_unknown_param_stops_at_load(experiment: Path, tmp_path: Path) -> None:
    result = _cli("run", experiment, "--set", "coders.1.params.Cee=0.5", "--out", tmp_path / "bad")
    assert result.exit_code == 2
    assert "coders.1.params: tfidf-logreg.v1 takes no parameter 'Cee'" in result.output
    assert not (tmp_path / "bad").exists()  # nothing written before the config is valid


def test_model_annotations_have_the_human_format_and_evaluate_reads_them(experiment: Path, tmp_path: Path) -> None:
    run_dir = run(load_config(experiment, overrides=["final_model.coder=null"]), out_dir=tmp_path / "run")
    table = pd.read_csv(run_dir / "model_annotations.csv")
    assert list(table.columns[:3]) == ["quote_id", "coder", "code"] and {"score", "fold", "scheme"} <= set(table.columns)
    assert set(table["coder"]) == {"model:codebook-similarity.v1", "model:tfidf-logreg.v1"}
    per_model = table.groupby("coder")["quote_id"].nunique()
    assert (per_model == 18).all()  # every tested quote has a row, an empty code when the model assigned none
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    from lived_themes.experiment.scoring import METRICS_KEYS

    assert tuple(metrics) == METRICS_KEYS  # the schema, from the real scorer and the one builder
    assert {"scheme", "coder", "n_tested", "summary", "summary_ci", "per_code", "by_group", "agreement"} <= set(metrics["results"][0])

    annotations = tmp_path / "annotations.csv"
    _corpus().annotations.to_csv(annotations, index=False)
    for source in (run_dir, run_dir / "predictions.jsonl", run_dir / "model_annotations.csv"):
        out = tmp_path / f"eval-{source.name}"
        result = _cli("evaluate", "--annotations", annotations, "--predictions", source, "--reference", "A", "--n-boot", "5",
                      "--out", out)
        assert result.exit_code == 0, result.output
        again = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
        assert tuple(again) == METRICS_KEYS and again["n_evaluated"] == 18 and again["not_evaluated"] == []
        for mine, theirs in zip(sorted(metrics["results"], key=lambda r: r["coder"]), sorted(again["results"], key=lambda r: r["coder"])):
            assert (mine["scheme"], mine["coder"]) == (theirs["scheme"], theirs["coder"])
            assert theirs["summary"]["macro_f1"] == pytest.approx(mine["summary"]["macro_f1"])  # the same codes, the same scores


def test_evaluate_counts_only_predicted_quotes_and_refuses_conflicts(tmp_path: Path) -> None:
    corpus = _corpus()
    annotations = tmp_path / "annotations.csv"
    corpus.annotations.to_csv(annotations, index=False)
    lines = [{"id": q, "codes": ["access"], "scores": {"access": 0.9, "relationship": 0.1, "crisis": 0.1}} for q in corpus.quote_ids]
    partial = tmp_path / "partial.jsonl"
    partial.write_text("".join(json.dumps(x) + "\n" for x in lines[:15]), encoding="utf-8")
    result = _cli("evaluate", "--annotations", annotations, "--predictions", partial, "--reference", "A", "--n-boot", "5", "--out", tmp_path / "e1")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "e1" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["n_evaluated"] == 15 and metrics["results"][0]["n_tested"] == 15
    assert [x["reason"] for x in metrics["not_evaluated"]] == ["no prediction"] * 3
    assert not any("test fold" in w for w in metrics["warnings"])

    duplicate = tmp_path / "dup.jsonl"
    conflicting = {**lines[0], "codes": ["crisis"]}
    duplicate.write_text("".join(json.dumps(x) + "\n" for x in [*lines, conflicting]), encoding="utf-8")
    result = _cli("evaluate", "--annotations", annotations, "--predictions", duplicate, "--reference", "A", "--out", tmp_path / "e2")
    assert result.exit_code == 2
    assert "row 19" in result.output and "rows 1 and 19" in result.output and "access-0" in result.output


def test_failed_run_is_marked_and_out_must_be_empty(experiment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lived_themes.experiment import coding

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("fold fitting failed")

    monkeypatch.setattr(coding, "cross_predict", boom)
    with pytest.raises(RuntimeError):
        run(load_config(experiment), out_dir=tmp_path / "failed")
    info = json.loads((tmp_path / "failed" / "run.json").read_text(encoding="utf-8"))
    assert info["status"] == "failed" and info["error"] == {"type": "RuntimeError", "message": "fold fitting failed"}
    assert (tmp_path / "failed" / "INCOMPLETE").exists() and not (tmp_path / "failed" / "metrics.json").exists()

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(coding, "cross_predict", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(load_config(experiment), out_dir=tmp_path / "stopped")
    assert json.loads((tmp_path / "stopped" / "run.json").read_text(encoding="utf-8"))["status"] == "interrupted"
    assert (tmp_path / "stopped" / "INCOMPLETE").exists()

    result = _cli("run", experiment, "--out", tmp_path / "failed")
    assert result.exit_code == 2 and "is not empty" in result.output


def test_error_messages_never_quote_input_text(tmp_path: Path) -> None:
    from lived_themes.experiment.run_folder import RunFolder

    folder = RunFolder.create(tmp_path / "run", root=tmp_path, experiment="x", kind="coding", seed=0)
    folder.protect(["I waited months for an appointment"])
    folder.fail(ValueError("cannot parse 'I waited months for an appointment'"))
    info = json.loads((tmp_path / "run" / "run.json").read_text(encoding="utf-8"))
    assert "waited" not in json.dumps(info) and "waited" not in (tmp_path / "run" / "INCOMPLETE").read_text()


def test_sigterm_marks_the_folder_interrupted(tmp_path: Path) -> None:
    import os
    import signal

    from lived_themes.experiment.run_folder import RunFolder, RunInterrupted

    folder = RunFolder.create(None, root=tmp_path, experiment="x", kind="coding", seed=0)
    with pytest.raises(RunInterrupted), folder.running():
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 0.5) if hasattr(signal, "sigtimedwait") else None
    assert json.loads((folder.path / "run.json").read_text(encoding="utf-8"))["status"] == "interrupted"
    assert folder.path.parent == tmp_path / "x"  # runs/<experiment>/<timestamp>


def test_set_aside_quotes_keep_their_human_codes(tmp_path: Path) -> None:
    corpus = _corpus()
    quotes = corpus.quotes.copy()
    quotes.loc[0, "text"] = "   "
    (tmp_path / "c").mkdir()
    quotes.to_csv(tmp_path / "c" / "quotes.csv", index=False)
    corpus.annotations.to_csv(tmp_path / "c" / "annotations.csv", index=False)
    corpus.codebook.to_yaml(tmp_path / "c" / "codebook.yaml")
    exp = tmp_path / "exp.yaml"
    exp.write_text("data: {path: c, on_invalid: set_aside}\nreference: {coder: A}\nsplits: [{kind: kfold, n_splits: 3}]\n"
                   "coders: [{name: majority.v1}]\nevaluation: {n_boot: 0}\noutput: {html: false, figures: false}\n", encoding="utf-8")
    (tmp_path / "defaults.yaml").write_text("seed: 0\n", encoding="utf-8")
    run_dir = run(load_config(exp, defaults_dir=tmp_path), out_dir=tmp_path / "run")
    lines = {x["quote_id"]: x for x in map(json.loads, (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines())}
    assert lines["access-0"]["evaluated"] is False and lines["access-0"]["human"] == {"A": ["access", "crisis"]}
