"""Nothing fitted twice in a run (issue 24): the fit cache, ``final_model.refit: false``, and run.json's record of fits.

Tiny in-memory corpus, TF-IDF and majority coders; fits are counted by a spy on ``TfidfLogRegCoder._fit``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lived_themes.coders.base import load_coder
from lived_themes.coders.baselines import TfidfLogRegCoder
from lived_themes.coders.fit_cache import FitCache, fit_coder, fit_key
from lived_themes.config.load import load_config
from lived_themes.corpus import Corpus, save_corpus
from lived_themes.experiment.run import run

THEMES = {"access": ["waited months for an appointment", "the waiting list was long", "a long wait for a referral"],
          "kindness": ["the nurse listened and was kind", "kind staff who listened", "the doctor was kind to me"],
          "crisis": ["nobody came in a crisis at night", "the crisis line at night", "in crisis and no help"]}


def _corpus(n: int = 10) -> Corpus:
    quotes, annotations = [], []
    for theme, phrases in THEMES.items():
        for i in range(n):
            qid = f"{theme}-{i}"
            quotes.append({"quote_id": qid, "text": f"{phrases[i % 3]} ({i})", "person": f"p{i}", "site": "north" if i % 2 else "south"})
            annotations.append({"quote_id": qid, "coder": "A", "code": theme})
    return Corpus(quotes=pd.DataFrame(quotes), annotations=pd.DataFrame(annotations))


def _experiment(tmp_path: Path, final_model: str, splits: str = "[{kind: holdout, group: person, test_size: 0.3}]",
                label_mode: str = "multi") -> Path:
    save_corpus(_corpus(), tmp_path / "corpus")
    (tmp_path / "configs").mkdir(exist_ok=True)
    (tmp_path / "configs" / "defaults.yaml").write_text("seed: 0\n", encoding="utf-8")
    exp = tmp_path / "exp.yaml"
    exp.write_text(
        "name: reuse\n"
        f"data: {{path: corpus, label_mode: {label_mode}}}\n"
        "reference: {coder: A}\n"
        f"splits: {splits}\n"
        "coders: [{name: majority.v1}, {name: tfidf-logreg.v1},\n"
        "         {name: ensemble.v1, params: {members: [majority.v1, tfidf-logreg.v1], inner_folds: 2}}]\n"
        "evaluation: {n_boot: 0, adjudication: {enabled: false}}\n"
        f"final_model: {final_model}\n"
        "output: {html: false, figures: false}\n",
        encoding="utf-8",
    )
    return exp


@pytest.fixture
def tfidf_fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of rows of every real TF-IDF fit, in order."""
    seen: list[int] = []
    real = TfidfLogRegCoder._fit

    def spy(self, texts, labels, **kwargs):  # noqa: ANN001, ANN202
        seen.append(len(texts))
        return real(self, texts, labels, **kwargs)

    monkeypatch.setattr(TfidfLogRegCoder, "_fit", spy)
    return seen


def test_the_ensembles_member_on_all_training_rows_reuses_the_standalone_fit(tmp_path: Path, tfidf_fits: list[int]) -> None:
    said: list[str] = []
    run_dir = run(load_config(_experiment(tmp_path, "{coder: null}")), out_dir=tmp_path / "run", progress=said.append)
    assert any(m.startswith("reused the tfidf-logreg.v1 fit") for m in said) and any(m.startswith("fits: ") for m in said)
    # standalone on the holdout's training side once; the ensemble's 2 inner folds; its all-training member reused
    assert len(tfidf_fits) == 3
    fits = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["fits"]
    reused = [e for e in fits["log"] if e["status"] == "reused"]
    assert {e["coder"] for e in reused} == {"majority.v1", "tfidf-logreg.v1"} and fits["n_reused"] == 2
    tfidf = next(e for e in reused if e["coder"] == "tfidf-logreg.v1")
    assert "ensemble.v1 member tfidf-logreg.v1 on all its training rows" in tfidf["where"]
    assert tfidf["first_fitted"].startswith("holdout-person") and tfidf["key"] and tfidf["saved_seconds"] >= 0
    assert fits["fitted_by_coder"]["tfidf-logreg.v1"] == 3 and all(e["seconds"] >= 0 for e in fits["log"])


def test_refit_false_saves_the_evaluated_model_with_no_extra_fit(tmp_path: Path, tfidf_fits: list[int]) -> None:
    exp = _experiment(tmp_path, "{coder: tfidf-logreg.v1, refit: false}")
    run_dir = run(load_config(exp), out_dir=tmp_path / "run")
    assert len(tfidf_fits) == 3  # as without a final model: nothing refitted
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert info["model"]["refit"] is False and info["model"]["n_training_quotes"] == max(tfidf_fits) < 30
    model = load_coder(run_dir / "model")
    corpus = _corpus()
    texts = dict(zip(corpus.quotes["quote_id"], corpus.quotes["text"]))
    held_out = _held_out_scores(run_dir, model.codes_)
    assert held_out and len(held_out) + max(tfidf_fits) == 30  # the test side, and the training side the model saw
    scores = model.predict_proba([texts[i] for i in held_out])
    assert np.allclose(scores, np.array(list(held_out.values())), atol=1e-6)  # predictions.jsonl rounds to 6 places


def _held_out_scores(run_dir: Path, codes: list[str]) -> dict[str, list[float]]:
    """tfidf-logreg.v1's held-out scores per tested quote, in ``codes`` order, from predictions.jsonl."""
    out = {}
    for line in (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        for by_coder in record.get("models", {}).values():
            scores = by_coder.get("tfidf-logreg.v1", {}).get("scores")
            if scores:
                out[record["quote_id"]] = [scores[c] for c in codes]
    return out


def test_refit_true_keeps_the_old_default_and_refit_false_needs_a_holdout(tmp_path: Path, tfidf_fits: list[int]) -> None:
    config = load_config(_experiment(tmp_path, "{coder: tfidf-logreg.v1}"))
    assert config.final_model.refit is True
    run_dir = run(config, out_dir=tmp_path / "run")
    assert len(tfidf_fits) == 4 and max(tfidf_fits) == 30  # the final model on all 30 quotes, as before
    assert json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["model"]["n_training_quotes"] == 30
    with pytest.raises(Exception, match="holdout"):
        load_config(_experiment(tmp_path, "{coder: best, refit: false}", splits="[{kind: kfold, n_splits: 3}]"))


def test_single_label_saved_model_gives_at_most_one_code(tmp_path: Path) -> None:
    """mhstigma.yaml's case: single-label run, the best coder saved; its predict gives each answer one code or none."""
    exp = _experiment(tmp_path, "{coder: best}", splits="[{kind: group_kfold, group: person, n_splits: 3}]", label_mode="single")
    run_dir = run(load_config(exp), out_dir=tmp_path / "run")
    model = load_coder(run_dir / "model")
    texts = list(_corpus().quotes["text"]) + ["a long wait and kind staff in a crisis", "nothing to do with anything"]
    assert model.predict(texts).sum(axis=1).max() <= 1


def test_fit_cache_key_changes_with_rows_params_and_labels() -> None:
    texts, labels, codes = ["a b", "c d", "a c"], np.array([[1.0], [0.0], [1.0]]), ["x"]
    base = fit_key(TfidfLogRegCoder(), texts, labels, codes)
    assert base == fit_key(TfidfLogRegCoder(), list(texts), labels.copy(), codes)
    assert base != fit_key(TfidfLogRegCoder(seed=1), texts, labels, codes)
    assert base != fit_key(TfidfLogRegCoder(), texts[:2], labels[:2], codes)
    assert base != fit_key(TfidfLogRegCoder(), texts, 1 - labels, codes)
    assert base != fit_key(TfidfLogRegCoder(), texts, labels, codes, metadata=pd.DataFrame({"q": ["x", "y", "z"]}))
    cache = FitCache()
    with cache.active():
        first = fit_coder(TfidfLogRegCoder(), texts, labels, codes)
        assert fit_coder(TfidfLogRegCoder(), texts, labels, codes) is first
    assert fit_coder(TfidfLogRegCoder(), texts, labels, codes) is not first  # no cache outside a run
    assert [e["status"] for e in cache.events] == ["fitted", "reused"]
