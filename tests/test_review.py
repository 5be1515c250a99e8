"""The review loop: batches proposed, codes read back (CSV and .qdpx), retraining, the rounds log, re-coding."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lived_themes.cli import app
from lived_themes.codebook import Codebook
from lived_themes.corpus import Corpus
from lived_themes.corpus.io import save_corpus
from lived_themes.errors import InputError
from lived_themes.workflows.review import read_returned_codes, review_round

CODES = ["staff", "food"]
STAFF = ["the nurse was kind", "doctors listened to me", "staff were rude", "the nurse ignored me", "kind helpful staff"]
FOOD = ["the food was cold", "meals were tasty", "lunch arrived late", "the food was awful", "dinner was warm"]


def _corpus(tmp_path: Path, n_coded: int = 12, two_coders: bool = False) -> Path:
    texts, truth = [], []
    for i in range(60):
        s, f = STAFF[i % 5], FOOD[(i * 3) % 5]
        kind = i % 3
        texts.append(f"{s} {i}" if kind == 0 else f"{f} {i}" if kind == 1 else f"{s}, and {f} {i}")
        truth.append(["staff"] if kind == 0 else ["food"] if kind == 1 else ["staff", "food"])
    quotes = pd.DataFrame({"quote_id": [f"q{i:02d}" for i in range(60)], "text": texts})
    rows = []
    for i in range(n_coded):
        coder = "ann" if not two_coders or i % 2 == 0 else "bob"
        rows += [{"quote_id": f"q{i:02d}", "coder": coder, "code": c} for c in truth[i]]
    corpus = Corpus(quotes=quotes, annotations=pd.DataFrame(rows), codebook=Codebook.from_codes(CODES, name="t"))
    folder = tmp_path / "corpus"
    save_corpus(corpus, folder)
    if not rows:  # a corpus nobody has coded yet: quotes and a codebook only
        (folder / "annotations.jsonl").unlink()
    (tmp_path / "truth.json").write_text(json.dumps(dict(zip(quotes["quote_id"], truth))))
    return folder


def _fill(batch: Path, truth: dict[str, list[str]], out: Path) -> Path:
    frame = pd.read_csv(batch, dtype=str, keep_default_na=False)
    for i, qid in enumerate(frame["quote_id"]):
        for code in CODES:
            frame.loc[i, code] = "1" if code in truth[qid] else ""
    frame.to_csv(out, index=False)
    return out


def test_rounds_propose_uncoded_quotes_read_codes_back_and_log_each_round(tmp_path):
    corpus = _corpus(tmp_path)
    truth = json.loads((tmp_path / "truth.json").read_text())
    review = tmp_path / "review"
    first = review_round(review, corpus=str(corpus), batch_size=8, held_out_fraction=0.25, strategy="uncertainty-mean")
    assert first["labels_used"] == 9 and first["held_out"] == 3 and first["macro_f1"] is not None
    batch = review / "round-001" / "batch.csv"
    frame = pd.read_csv(batch, dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["quote_id", "text", "coder", "no_code", *CODES, "accept", "suggested", "suggested_scores"]
    assert (frame["accept"] == "").all() and (frame["suggested"] != "").all()  # the model's suggestion, not yet accepted
    assert len(frame) == 8 and not set(frame["quote_id"]) & {f"q{i:02d}" for i in range(12)}  # only uncoded quotes
    assert (frame[CODES] == "").all().all()
    assert (review / "round-001" / "batch.qdpx").exists() and (review / "model" / "coder.json").exists()

    second = review_round(review, returned=_fill(batch, truth, tmp_path / "filled.csv"))
    assert second["returned"]["quotes"] == 8 and second["labels_used"] == 17 and second["held_out"] == 3
    assert second["strategy"] == "uncertainty-mean"  # remembered from the first round
    assert not set(second["proposed"]) & set(first["proposed"])
    log = [json.loads(line) for line in (review / "rounds.jsonl").read_text().splitlines()]
    assert [r["round"] for r in log] == [1, 2] and log[1]["labels_used"] == 17
    assert all(isinstance(r["macro_f1"], float) for r in log)
    labels = [json.loads(line) for line in (review / "labels.jsonl").read_text().splitlines()]
    assert {r["coder"] for r in labels} == {"reviewer"} and {r["quote_id"] for r in labels} == set(first["proposed"])
    text_free = (review / "rounds.jsonl").read_text()
    assert not any(t in text_free for t in pd.read_csv(batch)["text"])  # the log holds ids, never text


def test_a_coded_qdpx_comes_back_as_codes(tmp_path):
    from lived_themes.interop import import_project
    from lived_themes.interop.writer import export_project

    corpus = _corpus(tmp_path)
    review = tmp_path / "review"
    first = review_round(review, corpus=str(corpus), batch_size=5)
    # the researcher codes the batch project in their QDA program: simulate with the project's own documents
    project = import_project(review / "round-001" / "batch.qdpx", unit="document").corpus
    assert sorted(project.quote_ids) == sorted(first["proposed"])
    rows = [{"quote_id": q, "coder": "dana", "code": "food"} for q in project.quote_ids[:3]]
    coded = Corpus(quotes=project.quotes[["quote_id", "text"]], annotations=pd.DataFrame(rows), codebook=project.codebook)
    export_project(coded, tmp_path / "coded.qdpx")
    second = review_round(review, returned=tmp_path / "coded.qdpx")
    assert second["returned"] == {"file": str(tmp_path / "coded.qdpx"), "quotes": 3, "coders": ["dana"], "rows_left_uncoded": 0}
    assert second["labels_by_coder"]["dana"] == 3


def test_returned_files_are_checked_before_anything_is_written(tmp_path):
    corpus = _corpus(tmp_path)
    review = tmp_path / "review"
    review_round(review, corpus=str(corpus), batch_size=4)
    before = (review / "rounds.jsonl").read_text()
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"quote_id": ["q40"], "staff": ["maybe"]}).to_csv(bad, index=False)
    with pytest.raises(InputError) as err:
        review_round(review, returned=bad)
    assert "row 2" in str(err.value) and "staff" in str(err.value)
    pd.DataFrame({"quote_id": ["nope"], "staff": ["1"]}).to_csv(bad, index=False)
    with pytest.raises(InputError, match="not in the corpus"):
        review_round(review, returned=bad)
    pd.DataFrame({"quote_id": ["q40"], "staff": ["1"], "no_code": ["1"]}).to_csv(bad, index=False)
    with pytest.raises(InputError, match="no_code"):
        review_round(review, returned=bad)
    assert (review / "rounds.jsonl").read_text() == before and not (review / "labels.jsonl").exists()


def test_blank_rows_are_counted_not_taken_as_no_code(tmp_path):
    path = tmp_path / "b.csv"
    pd.DataFrame({"quote_id": ["a", "b", "c"], "text": ["x", "y", "z"], "coder": ["", "eve", ""], "no_code": ["", "", "1"],
                  "staff": ["1", "", ""], "food": ["", "x", ""]}).to_csv(path, index=False)
    rows, uncoded = read_returned_codes(path, CODES, default_coder="me")
    assert uncoded == 0
    records = [{**r, "code": r["code"] if isinstance(r["code"], str) else None} for r in rows.to_dict("records")]
    assert records == [{"quote_id": "a", "coder": "me", "code": "staff"}, {"quote_id": "b", "coder": "eve", "code": "food"},
                                       {"quote_id": "c", "coder": "me", "code": None}]
    pd.DataFrame({"quote_id": ["a"], "staff": [""]}).to_csv(path, index=False)
    rows, uncoded = read_returned_codes(path, CODES, default_coder="me")
    assert len(rows) == 0 and uncoded == 1


def test_cold_start_with_no_codes_picks_by_diversity(tmp_path):
    corpus = _corpus(tmp_path, n_coded=0)
    record = review_round(tmp_path / "review", corpus=str(corpus), batch_size=6)
    assert record["labels_used"] == 0 and record["strategy_used"] == "kmeans" and len(record["proposed"]) == 6
    assert record["macro_f1"] is None


def test_recode_proposes_single_coded_quotes_for_another_coder(tmp_path):
    corpus = _corpus(tmp_path, n_coded=20, two_coders=True)
    review = tmp_path / "review"
    record = review_round(review, corpus=str(corpus), batch_size=4, recode=3)
    frame = pd.read_csv(review / "round-001" / "recode.csv", dtype=str, keep_default_na=False)
    assert list(frame["quote_id"]) == record["recode"] and len(frame) == 3
    assert all(first != second for first, second in zip(frame["first_coder"], frame["coder"]))
    assert set(frame["first_coder"]) <= {"ann", "bob"}
    scores = frame["disagreement"].astype(float).tolist()
    assert scores == sorted(scores, reverse=True)


def test_cli_review_runs_a_round_and_prints_no_text(tmp_path):
    corpus = _corpus(tmp_path)
    result = CliRunner().invoke(app, ["review", str(tmp_path / "r"), "--corpus", str(corpus), "--batch-size", "5", "--strategy", "cvirs"])
    assert result.exit_code == 0, result.output
    assert "round 1" in result.output and "batch.csv" in result.output
    assert "nurse" not in result.output and "food was" not in result.output
    bad = CliRunner().invoke(app, ["review", str(tmp_path / "r"), "--strategy", "best"])
    assert bad.exit_code == 2 and "unknown strategy" in bad.output


def test_batches_carry_the_models_suggestion_to_accept_or_change(tmp_path):
    from lived_themes.interop import import_project

    corpus = _corpus(tmp_path)
    review = tmp_path / "review"
    first = review_round(review, corpus=str(corpus), batch_size=6, coder="tfidf-logreg.v1")
    frame = pd.read_csv(review / "round-001" / "batch.csv", dtype=str, keep_default_na=False)
    assert all(s == "(no code)" or set(s.split("; ")) <= set(CODES) for s in frame["suggested"])
    assert all(len(s.split("; ")) == 2 for s in frame["suggested_scores"])  # two codes: both scores shown
    # the .qdpx has the model's suggestions as codings by user model:<coder>, never read back as a person's
    project = import_project(review / "round-001" / "batch.qdpx", unit="document").corpus
    model_rows = project.annotations.dropna(subset=["code"])
    assert set(model_rows["coder"]) <= {"model:tfidf-logreg.v1"}
    assert len(read_returned_codes(review / "round-001" / "batch.qdpx", CODES, default_coder="reviewer")[0]) == 0
    # accept the first two rows, change the third, leave the rest
    frame.loc[0, "accept"] = "1"
    frame.loc[1, "accept"] = "x"
    frame.loc[2, "staff"] = "1"
    frame.to_csv(tmp_path / "back.csv", index=False)
    rows, left = read_returned_codes(tmp_path / "back.csv", CODES, default_coder="reviewer")
    assert left == len(frame) - 3
    accepted = rows[rows["quote_id"] == frame.loc[0, "quote_id"]]["code"].tolist()
    expected = [c for c in frame.loc[0, "suggested"].split("; ") if c != "(no code)"] or [None]
    assert [c if isinstance(c, str) else None for c in accepted] == expected
    assert rows[rows["quote_id"] == frame.loc[2, "quote_id"]]["code"].tolist() == ["staff"]
    frame.loc[2, "accept"] = "1"  # accept and codes: refused, located
    frame.to_csv(tmp_path / "both.csv", index=False)
    with pytest.raises(InputError, match="accept"):
        read_returned_codes(tmp_path / "both.csv", CODES, default_coder="reviewer")
    assert review_round(review, returned=tmp_path / "back.csv")["returned"]["quotes"] == 3 and first["proposed"]
