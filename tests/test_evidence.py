"""Evidence spans: verbatim, the span the same coder scores highest, one batched call, whole quote when one sentence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lived_themes.coders.evidence import evidence_offsets, find_evidence, spans


class KeywordCoder:
    """A coder whose score for a code is 0.9 when its keyword is in the text; counts predict_proba calls."""

    codes_ = ["staff", "food"]
    thresholds_ = np.array([0.5, 0.5])
    keywords = {"staff": "nurse", "food": "food"}

    def __init__(self):
        self.calls = []

    def predict_proba(self, texts, *, metadata=None):
        self.calls.append((list(texts), metadata))
        return np.array([[0.9 if self.keywords[c] in t.lower() else 0.1 for c in self.codes_] for t in texts])


def test_sentences_and_clauses_are_verbatim_offsets():
    text = "The nurse was kind.  But the food was cold; parking cost a fortune, and nobody helped!\nWaited 4 hrs."
    sentences = spans(text)
    assert [text[a:b] for a, b in sentences] == ["The nurse was kind.", "But the food was cold; parking cost a fortune, and nobody helped!", "Waited 4 hrs."]
    clauses = [text[a:b] for a, b in spans(text, "clause")]
    assert clauses[1:4] == ["But the food was cold;", "parking cost a fortune,", "and nobody helped!"]


def test_each_code_gets_the_span_that_supports_it_from_one_batched_call():
    texts = ["The nurse was lovely. The food was cold.", "Nothing to report here", "Food fine.  Nurse rude!"]
    coder = KeywordCoder()
    found = find_evidence(coder, texts)
    assert len(coder.calls) == 2  # the quotes, then every quote's spans together
    assert len(coder.calls[1][0]) == 4
    assert found[1] == {}
    for text, codes in zip(texts, found):
        for code, e in codes.items():
            assert text[e.start:e.end] == e.text and KeywordCoder.keywords[code] in e.text.lower()
    assert found[0]["staff"].text == "The nurse was lovely." and found[0]["food"].text == "The food was cold."
    assert evidence_offsets(found[2]) == {"food": {"start": 0, "end": 10}, "staff": {"start": 12, "end": 23}}
    assert evidence_offsets(found[2], with_text=True)["staff"]["text"] == "Nurse rude!"


def test_a_one_sentence_quote_is_its_own_evidence_and_needs_no_extra_call():
    coder = KeywordCoder()
    text = "  the nurse brought food  "
    found = find_evidence(coder, [text], quote_scores=np.array([[0.9, 0.9]]))
    assert coder.calls == []
    assert {c: (e.start, e.end, e.score) for c, e in found[0].items()} == {"staff": (0, len(text), 0.9), "food": (0, len(text), 0.9)}


def test_metadata_rows_follow_their_spans_and_unknown_codes_are_refused():
    import pandas as pd

    coder = KeywordCoder()
    meta = pd.DataFrame({"question": ["a", "b"]})
    find_evidence(coder, ["Nurse ok. Food ok.", "Food. Nurse."], codes=[["staff"], ["food"]], metadata=meta)
    assert coder.calls[-1][1]["question"].tolist() == ["a", "a", "b", "b"]
    with pytest.raises(ValueError, match="not one of the coder's codes"):
        find_evidence(coder, ["Nurse. Food."], codes=[["parking"]])


def test_a_real_coder_scores_its_own_spans():
    from lived_themes.registry import make_coder

    texts = ["The staff were kind.", "The food was cold.", "kind staff", "cold food"] * 5
    y = np.array([[1, 0], [0, 1], [1, 0], [0, 1]] * 5)
    coder = make_coder("tfidf-logreg.v1", tune=False).fit(texts, y, ["staff", "food"])
    found = find_evidence(coder, ["The food was cold. The staff were kind."], codes=[["staff", "food"]])[0]
    assert found["staff"].text == "The staff were kind." and found["food"].text == "The food was cold."


def test_predict_writes_evidence_and_export_codes_the_span(tmp_path):
    import json

    import pandas as pd
    from typer.testing import CliRunner

    from lived_themes.cli import app
    from lived_themes.codebook import Codebook
    from lived_themes.corpus import Corpus
    from lived_themes.corpus.io import save_corpus
    from lived_themes.interop import import_project
    from lived_themes.registry import make_coder

    texts = ["The staff were kind.", "The food was cold.", "kind staff", "cold food"] * 5
    y = np.array([[1, 0], [0, 1], [1, 0], [0, 1]] * 5)
    coder = make_coder("tfidf-logreg.v1", tune=False).fit(texts, y, ["staff", "food"])
    coder.thresholds_ = np.array([0.3, 0.3])  # a quote with both topics scores lower on each than a one-topic quote
    coder.save(tmp_path / "model")
    new = ["The food was cold. The staff were kind.", "kind staff", ""]
    quotes = pd.DataFrame({"quote_id": ["a", "b", "c"], "text": new})
    quotes.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "pred.jsonl"
    result = CliRunner().invoke(app, ["predict", str(tmp_path / "model"), str(tmp_path / "new.csv"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "food was cold" not in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert set(rows[0]["evidence"]) == set(rows[0]["codes"]) == {"staff", "food"}
    for row, text in zip(rows[:2], new):
        for where in row["evidence"].values():
            assert text[where["start"]:where["end"]] == where["text"]
    assert rows[0]["evidence"]["food"]["text"] == "The food was cold." and rows[1]["evidence"]["staff"]["start"] == 0
    assert "evidence" not in rows[2]  # the empty row keeps its error, no evidence
    plain = tmp_path / "plain.jsonl"
    assert CliRunner().invoke(app, ["predict", str(tmp_path / "model"), str(tmp_path / "new.csv"), "-o", str(plain), "--no-evidence"]).exit_code == 0
    assert all("evidence" not in json.loads(line) for line in plain.read_text().splitlines())

    corpus = Corpus(quotes=quotes.iloc[:2], codebook=Codebook.from_codes(["staff", "food"], name="t"))
    save_corpus(corpus, tmp_path / "corpus")
    (tmp_path / "corpus" / "annotations.jsonl").unlink()
    rows[2:] = []
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(app, ["export", str(tmp_path / "corpus"), "-o", str(tmp_path / "p.qdpx"), "--predictions", str(out)])
    assert result.exit_code == 0, result.output
    back = import_project(tmp_path / "p.qdpx").corpus  # segments: each coded range is a quote
    segments = dict(zip(back.annotations["code"], back.annotations["quote_id"]))
    text_of = dict(zip(back.quote_ids, back.texts))
    assert {text_of[q] for q in back.annotations.loc[back.annotations["quote_id"].str.startswith("a"), "quote_id"]} == {
        "The food was cold.", "The staff were kind."}
    assert set(back.annotations["coder"]) == {"model:model"} and segments


def test_a_run_with_output_evidence_records_offsets_and_the_report_shows_ids_not_text(tmp_path):
    import json

    from lived_themes.experiment.coding import run_experiment
    from lived_themes.config.load import load_config

    repo = Path(__file__).resolve().parents[1]
    config = load_config(repo / "experiments" / "nsun2014.yaml", overrides=[
        "evaluation.n_boot=0", "coders=[{name: tfidf-logreg.v1}]", "splits=[{kind: kfold, n_splits: 3}]", "output.evidence=true",
        "output.figures=false", "output.html=false"])
    run_dir = run_experiment(config, out_dir=tmp_path / "run", base_dir=repo)
    quotes = {json.loads(line)["quote_id"]: json.loads(line)["text"]
              for line in (repo / "data" / "nsun2014" / "quotes.jsonl").read_text(encoding="utf-8").splitlines()}
    n_spans = 0
    for line in (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        for out in (record.get("models") or {}).get("kfold-3", {}).values():
            assert set(out["evidence"]) == set(out["codes"])
            for where in out["evidence"].values():
                assert set(where) == {"start", "end"}  # offsets only in a run folder
                assert 0 <= where["start"] < where["end"] <= len(quotes[record["quote_id"]])
                n_spans += 1
    assert n_spans > 0
    examples = json.loads((run_dir / "metrics.json").read_text())["evidence_examples"]
    assert examples and set(examples[0]) == {"scheme", "coder", "code", "quote_id", "start", "end"}
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "Evidence examples" in report and examples[0]["quote_id"] in report
    for example in examples:
        span = quotes[example["quote_id"]][example["start"]:example["end"]]
        assert span not in report
