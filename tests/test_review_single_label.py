"""Review respects single-label mode (coder, held-out figures, suggestions, recodes), and its held-out figures
come with a bootstrap interval over the held-out quotes, in the rounds log and the printed summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from lived_themes.cli import app
from lived_themes.codebook import Codebook
from lived_themes.corpus import Corpus
from lived_themes.corpus.io import save_corpus
from lived_themes.workflows import review as review_module
from lived_themes.workflows.review import review_round

CODES = ["staff", "food", "wait"]
WORDS = {"staff": ["the nurse was kind", "doctors listened", "staff were rude", "kind helpful staff"],
         "food": ["the food was cold", "meals were tasty", "lunch arrived late", "dinner was warm"],
         "wait": ["waited for hours", "a long queue", "the wait was long", "hours in the waiting room"]}


def _corpus(tmp_path: Path, *, single: bool = True, n: int = 60, n_coded: int = 30) -> Path:
    texts, truth = [], []
    for i in range(n):
        code = CODES[i % 3]
        if single or i % 4:
            texts.append(f"{WORDS[code][i % 4]} {i}")
            truth.append([code])
        else:
            texts.append(f"{WORDS['staff'][i % 4]} and {WORDS['food'][i % 4]} {i}")
            truth.append(["staff", "food"])
    quotes = pd.DataFrame({"quote_id": [f"q{i:02d}" for i in range(n)], "text": texts})
    rows = [{"quote_id": f"q{i:02d}", "coder": "ann", "code": c} for i in range(n_coded) for c in truth[i]]
    folder = tmp_path / "corpus"
    save_corpus(Corpus(quotes=quotes, annotations=pd.DataFrame(rows), codebook=Codebook.from_codes(CODES, name="t")), folder)
    return folder


def test_single_label_review_builds_the_coder_single_and_suggests_one_code(tmp_path: Path, monkeypatch) -> None:
    seen: list[np.ndarray] = []
    real = review_module.choose_recodes

    def spy(labels, scores, n, predicted=None):  # the recode ranking gets the out-of-fold coders' own decisions
        seen.append(np.asarray(predicted))
        return real(labels, scores, n, predicted)

    monkeypatch.setattr(review_module, "choose_recodes", spy)
    folder = tmp_path / "review"
    record = review_round(folder, corpus=str(_corpus(tmp_path)), label_mode="single", held_out_fraction=0.3, batch_size=10, recode=3)
    assert record["label_mode"] == "single"
    saved = json.loads((folder / "model" / "coder.json").read_text(encoding="utf-8"))
    assert saved["label_mode"] == "single" and saved["params"]["label_mode"] == "single"
    batch = pd.read_csv(folder / "round-001" / "batch.csv", dtype=str, keep_default_na=False)
    assert len(batch) == 10 and all(";" not in s for s in batch["suggested"])  # at most one code per suggestion
    single = record["single_label"]
    assert single["n"] == record["held_out"] == 9 and {"kappa", "percent_agreement", "accuracy"} <= set(single)
    assert seen and all((p[~np.isnan(p).any(axis=1)] > 0.5).sum(axis=1).max() <= 1 for p in seen)
    assert len(record["recode"]) == 3
    assert json.loads((folder / "review.json").read_text(encoding="utf-8"))["label_mode"] == "single"


def test_auto_reads_the_coded_quotes_and_a_coder_param_wins(tmp_path: Path) -> None:
    single = review_round(tmp_path / "a", corpus=str(_corpus(tmp_path / "s")), label_mode="auto", batch_size=5)
    multi = review_round(tmp_path / "b", corpus=str(_corpus(tmp_path / "m", single=False)), label_mode="auto", batch_size=5)
    assert single["label_mode"] == "single" and multi["label_mode"] == "multi"
    own = review_round(tmp_path / "c", corpus=str(_corpus(tmp_path / "o")), params={"label_mode": "single"}, label_mode="multi",
                       batch_size=5)
    assert own["label_mode"] == "single"
    default = review_round(tmp_path / "d", corpus=str(_corpus(tmp_path / "x")), batch_size=5)
    assert default["label_mode"] == "multi" and "single_label" not in default


def test_held_out_figures_have_a_bootstrap_interval_in_the_log_and_the_summary(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path, single=False)
    result = CliRunner().invoke(app, ["review", str(tmp_path / "review"), "--corpus", str(corpus), "--held-out-fraction", "0.4",
                                      "--batch-size", "5"])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "review" / "rounds.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert record["held_out"] == 12 and record["ci"] == 0.95 and record["n_boot"] == 1000
    for name in ("macro_f1", "micro_f1"):
        low, high = record[f"{name}_ci"]
        assert 0.0 <= low <= high <= 1.0
    assert f"[{record['macro_f1_ci'][0]:.2f}, {record['macro_f1_ci'][1]:.2f}]" in result.output
    assert "bootstrap over held-out quotes" in result.output and "multi-label" in result.output


def test_the_interval_resamples_held_out_quotes_and_narrows_with_more_of_them() -> None:
    rng = np.random.default_rng(0)
    few, many = (rng.integers(0, 2, size=(n, 3)).astype(float) for n in (10, 400))
    noisy = [np.where(rng.random(y.shape) < 0.2, 1 - y, y) for y in (few, many)]
    small = review_module.held_out_intervals(few, noisy[0])["macro_f1_ci"]
    large = review_module.held_out_intervals(many, noisy[1])["macro_f1_ci"]
    assert large[1] - large[0] < small[1] - small[0]
    again = review_module.held_out_intervals(few, noisy[0])["macro_f1_ci"]
    assert again == small  # seeded: the same round gives the same interval
