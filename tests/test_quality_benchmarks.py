"""The learning-curve and transformer-ablation benchmarks run end to end on tiny data (the real runs are long)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"


def _benchmark(name: str):  # noqa: ANN202 - a script module
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def tiny_task(lc):  # noqa: ANN001, ANN201
    rng = np.random.default_rng(0)
    words = {"a": "wait list months", "b": "staff kind listened", "c": "pill dose tablets"}
    texts, labels, people = [], [], []
    for i in range(120):
        code = rng.integers(3)
        key = "abc"[code]
        texts.append(f"{words[key]} {rng.integers(1000)}")
        labels.append(np.eye(3)[code])
        people.append(f"p{i // 2}")
    meta = pd.DataFrame({"quote_id": [f"q{i}" for i in range(120)], "person": people})
    positions = np.arange(120)
    test = np.isin(np.array(people), [f"p{i}" for i in range(0, 60, 5)])
    return lc.Task("tiny", texts, np.array(labels), ["a", "b", "c"], positions[~test], positions[test], "person", meta, None)


def test_learning_curve_rows_and_figure(tmp_path: Path) -> None:
    lc = _benchmark("learning_curve")
    args = lc.parse_args(["--sizes", "25,50,all", "--n-boot", "20"])
    task = tiny_task(lc)
    sizes = lc.sizes_for(args.sizes, len(task.train_idx))
    assert sizes == [25, 50, len(task.train_idx)]
    rows = lc.run_curve(task, ["majority.v1", "tfidf-logreg.v1"], sizes, args)
    assert len(rows) == 6 and all("error" not in r for r in rows)
    tfidf = [r for r in rows if r["coder"] == "tfidf-logreg.v1"]
    assert tfidf[-1]["macro_f1"] > 0.8  # the words give the code away
    assert all(r["ci_low"] <= r["macro_f1"] <= r["ci_high"] for r in rows)
    assert lc.plot(rows, tmp_path / "curve.png").stat().st_size > 0
    lc.print_table(rows)


def test_learning_curve_skips_expensive_coders_above_the_cap_and_says_so() -> None:
    lc = _benchmark("learning_curve")
    args = lc.parse_args(["--n-boot", "5", "--expensive-max", "25"])
    rows = lc.run_curve(tiny_task(lc), ["majority.v1", "transformer.v1"], [50], args)
    skipped = [r for r in rows if r["coder"] == "transformer.v1"]
    assert skipped[0]["skipped"].startswith("not run above --expensive-max 25") and "macro_f1" not in skipped[0]
    assert "macro_f1" in next(r for r in rows if r["coder"] == "majority.v1")
    lc.print_table(rows)


def test_learning_curve_reports_a_failing_coder_instead_of_crashing(monkeypatch: pytest.MonkeyPatch) -> None:
    lc = _benchmark("learning_curve")

    def failing(name, task, args):  # noqa: ANN001, ANN202
        raise ValueError("too few quotes")

    monkeypatch.setattr(lc, "make", failing)
    rows = lc.run_curve(tiny_task(lc), ["majority.v1"], [25], lc.parse_args(["--n-boot", "5"]))
    assert rows[0]["error"] == "ValueError: too few quotes"


@pytest.mark.slow
def test_learning_curve_on_a_small_slice_of_the_real_files(tmp_path: Path) -> None:
    if not (SHARED / "nhs_patient_experience" / "v6framework_train.csv").exists():
        pytest.skip("the NHS file is not present")
    lc = _benchmark("learning_curve")
    code = lc.main(["--sizes", "25,50", "--coders", "majority.v1,tfidf-logreg.v1", "--max-test", "300", "--n-boot", "20",
                    "--png", str(tmp_path / "lc.png"), "--out", str(tmp_path / "lc.json")])
    assert code == 0 and (tmp_path / "lc.png").exists()


@pytest.fixture(scope="module")
def tiny_encoder(make_tiny_bert) -> str:  # noqa: ANN001
    """A random-init two-layer BERT with the MiniLM tokenizer (tests/conftest.py)."""
    return make_tiny_bert(2)


def test_transformer_ablation_table(tiny_encoder: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ab = _benchmark("transformer_ablation")
    lc = _benchmark("learning_curve")
    task = tiny_task(lc)
    task.metadata["FFT question"] = "What went well?"
    rows = "baseline,layer_decay_0.8,no_tuning,question_context,seeds_3"
    code = ab.main(["--rows", rows, "--encoder", tiny_encoder, "--max-steps", "1", "--n-seeds", "2", "--n-boot", "10",
                    "--out", str(tmp_path / "ab.json")], task=task)
    assert code == 0
    table = capsys.readouterr().out
    assert "| layer-wise learning-rate decay 0.8 |" in table and "failed" not in table
    import json

    out = json.loads((tmp_path / "ab.json").read_text())
    assert [r["row"] for r in out] == rows.split(",") and all(0 <= r["macro_f1"] <= 1 for r in out)
    with pytest.raises(SystemExit, match="unknown row"):
        ab.main(["--rows", "nope", "--encoder", tiny_encoder], task=task)


def test_nhs_quality_runs_on_a_tiny_wide_file_with_the_question_as_context(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    nq = _benchmark("nhs_quality")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(120):
        good = i % 2 == 0
        rows.append({"Comment ID": f"c{i}", "Respondent ID": f"r{i // 2}", "FFT question": "What was good?" if good else "How could we improve?",
                     "FFT answer": f"the staff {rng.integers(50)}", "Not assigned": 0,
                     "Positive experience & gratitude": int(good), "Negative experience & dissatisfaction": int(not good)})
    data = tmp_path / "nhs.csv"
    pd.DataFrame(rows).to_csv(data, index=False)
    out = tmp_path / "q.json"
    assert nq.main(["--data", str(data), "--coders", "majority.v1,tfidf-logreg.v2+chars", "--min-examples", "5", "--out", str(out)]) == 0
    assert "context read with the text: ['FFT question']" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["context_columns"] == ["FFT question"]
    # the answers say nothing: only the question separates the two codes
    assert result["results"]["tfidf-logreg.v2+chars"]["macro_f1"] == 1.0
    assert nq.main(["--data", str(data), "--coders", "tfidf-logreg.v2+chars", "--min-examples", "5", "--context", "none",
                    "--out", str(out)]) == 0
    assert json.loads(out.read_text())["results"]["tfidf-logreg.v2+chars"]["macro_f1"] < 0.8


def _tiny_nhs_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(160):
        good = i % 2 == 0
        words = "kind staff listened" if good else "long wait months"
        rows.append({"Comment ID": f"c{i}", "Respondent ID": f"r{i // 2}", "FFT question": "What was good?" if good else "How could we improve?",
                     "FFT answer": f"{words} {rng.integers(50)}", "Not assigned": 0,
                     "Positive experience & gratitude": int(good), "Negative experience & dissatisfaction": int(not good)})
    data = tmp_path / "nhs.csv"
    pd.DataFrame(rows).to_csv(data, index=False)
    return data


def test_nhs_recipe_cpu_compares_cached_members_and_scores_bagged_members_from_their_inner_fits(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    rc = _benchmark("nhs_recipe_cpu")
    data, cache, out = _tiny_nhs_file(tmp_path), tmp_path / "cache", tmp_path / "r.json"
    common = ["--data", str(data), "--cache", str(cache), "--min-examples", "5"]
    assert rc.main([*common, "--members", "lr,svm", "--precompute"]) == 0
    assert len(list(cache.glob("*.oof.npz"))) == 2 and len(list(cache.glob("*.test.npz"))) == 2
    assert rc.main([*common, "--members", "lr,svm", "--combines", "mean,stack", "--threshold-rules", "--bag", "lr", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| threshold rule |" in printed and "held-out respondents" in printed
    result = json.loads(out.read_text())
    assert result["bagged"] == ["lr"]
    assert {r["candidate"] for r in result["candidates"]} == {"lr", "svm", "mean(lr+svm)", "stack(lr+svm)"}
    assert result["held_out"]["macro_f1"] == 1.0  # the words tell the codes apart: any honest recipe gets them all
    assert rc.main([*common, "--members", "lr", "--bag", "svm"]) == 2  # a bagged member must be one of the members


def test_nhs_recipe_cpu_plain_threshold_rule_is_the_package_rule() -> None:
    from lived_themes.coders.decision import tune_thresholds

    rc = _benchmark("nhs_recipe_cpu")
    rng = np.random.default_rng(1)
    y = (rng.random((200, 4)) < 0.2).astype(float)
    scores = np.clip(0.6 * y + rng.random((200, 4)) * 0.5, 0, 1)
    label, grid, window, shrink = rc.THRESHOLD_RULES[0]
    assert "the package's" in label
    np.testing.assert_allclose(rc.rule_thresholds(y, scores, grid, window, shrink), tune_thresholds(y, scores))
    shrunk = rc.rule_thresholds(y, scores, grid, 1, 1e9)  # infinite shrinkage: one common threshold for every code
    assert np.ptp(shrunk) < 1e-6
