"""Single-label done right: the floor is the most frequent code, one macro-F1, kappa and percent agreement with the
reference, and a confusion matrix (table and figure)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lived_themes.coders.baselines import MajorityCoder
from lived_themes.corpus import Corpus, save_corpus
from lived_themes.evaluation.single_label import confusion, single_label_scores
from lived_themes.experiment.coding import run_experiment
from lived_themes.config import load_config

PHRASES = {"meds": "too many pills and tablets", "heard": "nobody listened to what I said", "peer": "the peer group helped me"}
COUNTS = {"meds": 12, "heard": 6, "peer": 6}


def unbalanced() -> Corpus:
    quotes, ann = [], []
    for code, n in COUNTS.items():
        for i in range(n):
            qid = f"{code}-{i}"
            quotes.append({"quote_id": qid, "text": f"{PHRASES[code]} ({i})"})
            ann.append({"quote_id": qid, "coder": "A", "code": code})
            ann.append({"quote_id": qid, "coder": "B", "code": code if i % 3 else "meds"})
    return Corpus(quotes=pd.DataFrame(quotes), annotations=pd.DataFrame(ann))


def test_majority_floor_gives_the_most_frequent_code_in_single_label_mode() -> None:
    y = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=float)
    coder = MajorityCoder().fit(["t"] * 5, y, ["a", "b", "c"], label_mode="single")
    np.testing.assert_array_equal(coder.predict(["x", "y"]), [[1, 0, 0], [1, 0, 0]])
    multi = MajorityCoder().fit(["t"] * 5, y, ["a", "b", "c"])  # multi-label: prevalence 0.6 >= 0.5 still gives a
    np.testing.assert_array_equal(multi.predict(["x"]), [[1, 0, 0]])
    mostly_none = np.array([[1, 0], [0, 0], [0, 0], [0, 0], [0, 1]], dtype=float)
    none = MajorityCoder().fit(["t"] * 5, mostly_none, ["a", "b"], label_mode="single")
    np.testing.assert_array_equal(none.predict(["x"]), [[0, 0]])  # "none" is the majority class here


def test_confusion_and_kappa_by_hand() -> None:
    y = np.array([[1, 0], [0, 1], [0, 0], [1, 0]], dtype=float)
    p = np.array([[1, 0], [1, 1], [0, 0], [0, 1]], dtype=float)
    out = confusion(y, p, ["a", "b"])
    assert out["reference"] == ["a", "b", "(none)"] and out["predicted"] == ["a", "b", "(none)", "(several)"]
    assert out["matrix"] == [[1, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]
    scores = single_label_scores(y, p)
    assert scores["percent_agreement"] == pytest.approx(0.5) == scores["accuracy"]
    assert np.isfinite(scores["kappa"]) and scores["kappa"] < 0.5


def test_single_label_run_floor_kappa_agreement_and_confusion_matrix(tmp_path: Path) -> None:
    save_corpus(unbalanced(), tmp_path / "corpus")
    exp = tmp_path / "exp.yaml"
    exp.write_text(
        "name: single\n"
        f"data: {{path: {tmp_path / 'corpus'}, label_mode: single}}\n"
        "reference: {coder: A}\n"
        "splits: [{kind: kfold, n_splits: 3}]\n"
        "coders: [{name: majority.v1}, {name: tfidf-logreg.v1}]\n"
        "evaluation: {n_boot: 5}\n"
        "output: {html: true}\n",
        encoding="utf-8",
    )
    run_dir = run_experiment(load_config(exp), out_dir=tmp_path / "run")
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    floor = next(r for r in metrics["results"] if r["coder"] == "majority.v1")
    assert floor["single_label"]["none_rate"] == 0.0
    assert floor["single_label"]["accuracy"] == pytest.approx(12 / 24)  # every quote gets meds, the most frequent code
    matrix = floor["single_label"]["confusion"]
    meds = matrix["predicted"].index("meds")
    assert [row[meds] for row in matrix["matrix"]] == [6, 12, 6, 0]  # all in the meds column (codes sorted: heard, meds, peer)
    tfidf = next(r for r in metrics["results"] if r["coder"] == "tfidf-logreg.v1")["single_label"]
    assert {"kappa", "percent_agreement", "confusion"} <= set(tfidf)
    humans = metrics["human_agreement"]["single_label"]
    assert humans[0]["coder"] == "B" and humans[0]["percent_agreement"] == pytest.approx(20 / 24)
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "Cohen's κ with reference" in report and "% agreement with reference" in report
    assert "Confusion matrix of tfidf-logreg.v1" in report and "macro-F1 (codes + none)" not in report
    assert list((run_dir / "figures").glob("confusion__*tfidf*.png"))
    assert "Confusion matrix" in (run_dir / "report.html").read_text(encoding="utf-8")
