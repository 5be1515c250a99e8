"""One decision rule: scores become codes only through ``coders.decision``; evidence, folds and params follow it.

Tiny in-memory data and TF-IDF or the hashing encoder, so each test takes seconds.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lived_themes.coders.decision import Decision, tune_decision, tuned_macro_f1
from lived_themes.registry import make_coder

SRC = Path(__file__).resolve().parents[1] / "src" / "lived_themes"
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
#: Comparisons with a "threshold" that do not turn a model's scores into codes.
NOT_SCORES = {
    "evaluation/soft_labels.py": "annotators' shares of yes votes into hard labels",
    "evaluation/alt_test.py": "Benjamini-Hochberg cut-offs for p-values",
    "experiment/coding.py": "Krippendorff's alpha against the stability floor",
}
#: Scripts that run where the package is not installed, so they cannot call the Decision: each re-implements the rule.
STANDALONE = {
    "benchmarks/nhs_recipe_gpu.py": "runs on a GPU machine without the package (issue 24's recipe study)",
}

TEXTS = ["long wait for an appointment", "kind nurse listened", "crisis at night no help", "wait and crisis at night",
         "kind staff at night in crisis", "waiting list a year long", "nurse was kind", "crisis team never came"] * 3
CODES = ["access", "relationship", "crisis"]
LABELS = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]] * 3)


def _orders(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Compare) and any(isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) for op in n.ops)
               for n in ast.walk(node))


def _threshold_comparisons(path: Path) -> list[int]:
    """Lines of statements (or conditions) that order values (<, <=, >, >=) and mention a threshold.

    Statement-wide, so ``[c for c, s, t in zip(codes, row, coder.thresholds_) if s >= t]`` is caught too.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    compound = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.While, ast.With, ast.Try)
    lines = []
    for node in ast.walk(tree):
        part = node.test if isinstance(node, (ast.If, ast.While)) else node if isinstance(node, ast.stmt) and not isinstance(node, compound) else None
        if part is not None and "thresh" in ast.unparse(part).lower() and _orders(part):
            lines.append(node.lineno)
    return lines


def test_no_module_turns_scores_into_codes_except_through_the_decision() -> None:
    offenders = []
    for path in sorted([*SRC.rglob("*.py"), *BENCHMARKS.glob("*.py")]):
        rel = path.relative_to(SRC).as_posix() if SRC in path.parents else f"benchmarks/{path.name}"
        if rel == "coders/decision.py" or rel in NOT_SCORES or rel in STANDALONE:
            continue
        offenders += [f"{rel}:{line}" for line in _threshold_comparisons(path)]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):  # a coder may not bring its own rule: it sets thresholds, top_k or label_mode
            if isinstance(node, ast.FunctionDef) and node.name == "codes_from_scores" and rel != "coders/base.py":
                offenders.append(f"{rel}:{node.lineno} overrides codes_from_scores")
    assert not offenders, f"scores compared with thresholds outside coders/decision.py: {offenders}"


def test_the_rule_catches_a_comparison(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f(scores, coder, order):\n    return scores >= coder.thresholds_[None, :]\n"
                   "def g(scores, coder, order):\n    return [[c for c, s, t in zip(order, row, coder.thresholds_) if s >= t] for row in scores]\n",
                   encoding="utf-8")
    assert _threshold_comparisons(bad) == [2, 4]


def test_decision_rules() -> None:
    scores = np.array([[0.9, 0.8, 0.1], [0.2, 0.3, 0.1], [0.6, 0.7, 0.65]])
    t = np.full(3, 0.5)
    assert Decision(t).codes_from_scores(scores).tolist() == [[1, 1, 0], [0, 0, 0], [1, 1, 1]]
    assert Decision(t, top_k=1).codes_from_scores(scores).tolist() == [[1, 0, 0], [0, 0, 0], [0, 1, 0]]
    assert Decision(t, top_k=2).chosen(scores, CODES) == [["access", "relationship"], [], ["relationship", "crisis"]]
    assert Decision(t, none_threshold=0.25).codes_from_scores(scores).tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 0]]
    single = tune_decision(LABELS, LABELS * 0.8 + 0.1, label_mode="single")
    assert single.single_label and tune_decision(LABELS, LABELS * 0.8 + 0.1, top_k=2).top_k == 2


def test_tuned_macro_f1_is_the_old_three_figures() -> None:
    """Same numbers as the three copies it replaced: tuned on the scores, and cross-fitted halves."""
    from lived_themes.coders.base import tune_thresholds
    from lived_themes.evaluation.metrics import macro_f1

    rng = np.random.default_rng(0)
    scores = np.clip(LABELS * 0.4 + rng.random(LABELS.shape) * 0.6, 0, 1)
    old = float(macro_f1(LABELS, (scores >= tune_thresholds(LABELS, scores)[None, :]).astype(float)))
    assert tuned_macro_f1(LABELS, scores) == old
    halves = np.array_split(np.random.default_rng(3).permutation(len(LABELS)), 2)
    predicted = np.zeros(LABELS.shape)
    for a, b in (halves, halves[::-1]):
        predicted[b] = scores[b] >= tune_thresholds(LABELS[a], scores[a])[None, :]
    assert tuned_macro_f1(LABELS, scores, cross_fit=True, seed=3) == float(macro_f1(LABELS, predicted))


@pytest.mark.parametrize("decision_params", [{"label_mode": "single"}, {"top_k": 1}])
def test_predict_evidence_only_for_codes_the_quote_was_given(decision_params: dict, tmp_path: Path) -> None:
    from lived_themes.coders import load_coder
    from lived_themes.coders.evidence import find_evidence
    from lived_themes.predict.local import predict_records

    coder = make_coder("tfidf-logreg.v1", tune=False, **decision_params).fit(TEXTS, LABELS, CODES)
    coder.thresholds_ = np.full(3, 0.05)  # every code would pass its threshold: only the rule keeps one
    coder.save(tmp_path / "model")
    new = ["A long wait. Then a crisis at night. The nurse was kind.", "Kind staff. Crisis at night.", "waiting list"]
    for model in (coder, load_coder(tmp_path / "model")):
        assert model.get_params()["label_mode"] == decision_params.get("label_mode", "multi")
        rows = list(predict_records(model, pd.DataFrame({"quote_id": ["a", "b", "c"], "text": new}), evidence=True))
        assert [len(r["codes"]) for r in rows] == [1, 1, 1]
        for row in rows:
            assert set(row["evidence"]) == set(row["codes"])  # spans for the code it was given, and only that
        found = find_evidence(model, new)  # no codes given: the coder's decision chooses them
        assert [sorted(f) for f in found] == [sorted(r["codes"]) for r in rows]


@pytest.mark.parametrize("override", ["data.label_mode=single", "coders.0.params.top_k=1"])
def test_run_evidence_only_for_codes_the_quote_was_given(override: str, tmp_path: Path) -> None:
    from lived_themes.codebook import Codebook
    from lived_themes.corpus import Corpus, save_corpus
    from lived_themes.config import load_config
    from lived_themes.experiment.run import run

    annotations = [{"quote_id": f"q{i}", "coder": "A", "code": CODES[j]} for i, row in enumerate(LABELS) for j in np.flatnonzero(row)]
    quotes = pd.DataFrame({"quote_id": [f"q{i}" for i in range(len(TEXTS))],
                           "text": [f"{t}. Also {TEXTS[(i + 3) % len(TEXTS)]}." for i, t in enumerate(TEXTS)]})
    save_corpus(Corpus(quotes=quotes, annotations=pd.DataFrame(annotations), codebook=Codebook.from_codes(CODES, name="t")),
                tmp_path / "corpus")
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "defaults.yaml").write_text("seed: 0\n", encoding="utf-8")
    exp = tmp_path / "exp.yaml"
    exp.write_text("name: tiny\ndata: {path: corpus}\nreference: {coder: A}\nsplits: [{kind: kfold, n_splits: 3}]\n"
                   "coders: [{name: tfidf-logreg.v1, params: {tune: false}}]\nevaluation: {n_boot: 5}\n"
                   "final_model: {coder: tfidf-logreg.v1}\noutput: {html: false, figures: false, evidence: true}\n", encoding="utf-8")
    run_dir = run(load_config(exp, overrides=[override]), out_dir=tmp_path / "run")
    lines = [json.loads(x) for x in (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    given = [x["models"]["kfold-3"]["tfidf-logreg.v1"] for x in lines]
    assert all(len(g["codes"]) <= 1 for g in given) and any(g["codes"] for g in given)
    for g in given:
        assert set(g["evidence"] or {}) <= set(g["codes"])
    resolved = load_config(run_dir / "config.yaml", defaults_dir=tmp_path / "configs")
    saved = json.loads((run_dir / "model" / "coder.json").read_text(encoding="utf-8"))
    if override.startswith("data"):  # the mode each coder was fitted in is recorded with its params
        assert resolved.coders[0].params["label_mode"] == "single" and saved["params"]["label_mode"] == "single"
    else:
        assert resolved.coders[0].params["top_k"] == 1 and saved["params"]["top_k"] == 1


def test_recode_folds_keep_each_person_on_one_side() -> None:
    from lived_themes.active import out_of_fold_scores
    from lived_themes.coders.cross_validation import cv_folds, person_groups

    frame = pd.DataFrame({"participant_id": [f"p{i % 6}" for i in range(len(TEXTS))]})
    groups = person_groups(frame, ["participant_id"])
    folds = cv_folds(LABELS, n_splits=3, seed=0, groups=groups)
    assert len(folds) == 3
    for fold in folds:
        assert not set(groups[fold.train_idx]) & set(groups[fold.test_idx])
    seen = []

    class Recorder:
        def __init__(self) -> None:
            self.coder = make_coder("tfidf-logreg.v1", tune=False)

        def fit(self, texts, labels, codes, **kwargs):
            seen.append(set(texts))
            self.coder.fit(texts, labels, codes, **kwargs)
            return self

        def __getattr__(self, name):
            return getattr(self.coder, name)

    texts = [f"{t} ({p})" for t, p in zip(TEXTS, frame["participant_id"])]
    scores, predicted = out_of_fold_scores(Recorder, texts, LABELS, CODES, n_splits=3, groups=groups)
    assert not np.isnan(scores).any() and set(np.unique(predicted)) <= {0.0, 1.0}
    for trained in seen:  # no person's quotes are both in a fold's training set and in its test set
        people_trained = {t.rsplit("(", 1)[1] for t in trained}
        tested = {t.rsplit("(", 1)[1] for t in texts if t not in trained}
        assert not people_trained & tested
    one_person = person_groups(pd.DataFrame({"participant_id": ["p"] * len(TEXTS)}), ["participant_id"])
    assert cv_folds(LABELS, n_splits=3, seed=0, groups=one_person) == []


def test_label_mode_and_top_k_are_checked_params_and_saved_models_keep_them(tmp_path: Path) -> None:
    from lived_themes.coders import load_coder
    from lived_themes.registry import check_params

    with pytest.raises(ValueError, match="label_mode"):
        check_params("tfidf-logreg.v1", {"label_mode": "several"})
    with pytest.raises(ValueError, match="top_k"):
        check_params("knn.v1", {"top_k": 0})
    coder = make_coder("tfidf-logreg.v1", label_mode="single").fit(TEXTS, LABELS, CODES)
    assert coder.decision.single_label and (coder.predict(TEXTS).sum(axis=1) <= 1).all()
    coder.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "coder.json").read_text(encoding="utf-8"))
    assert meta["params"]["label_mode"] == "single" and meta["params"]["top_k"] is None  # recorded, and covered by the checksum
    reloaded = load_coder(tmp_path / "m")
    assert reloaded.label_mode == "single" and np.array_equal(reloaded.predict(TEXTS), coder.predict(TEXTS))
    auto = make_coder("majority.v1", label_mode="auto").fit(TEXTS, LABELS[:, :1], CODES[:1])
    assert auto.decision.single_label  # at most one code per quote: auto decides single-label


@pytest.mark.parametrize(("name", "params", "message"), [
    ("transformer.v1", {"loss": "hinge"}, "loss must be 'bce' or 'focal'"),
    ("setfit.v2", {"validation_fraction": 1.5}, "validation_fraction"),
    ("ensemble.v1", {"members": [{"name": "knn.v1", "params": {"weighting": "loud"}}]}, "members\\[0\\]: knn.v1: weighting"),
    ("tfidf-logreg.v2", {"top_k": -1}, "top_k must be at least 1"),
])
def test_every_parameter_is_checked_at_config_load_with_its_key_path(name: str, params: dict, message: str, tmp_path: Path) -> None:
    import yaml

    from lived_themes.errors import ConfigError
    from lived_themes.config import load_config

    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "defaults.yaml").write_text("seed: 0\n", encoding="utf-8")
    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump({"name": "x", "coders": [{"name": "majority.v1"}, {"name": name, "params": params}]}), encoding="utf-8")
    with pytest.raises(ConfigError, match=f"coders\\.1\\.params(\\.\\w+)?: {name}: .*{message}"):
        load_config(exp, defaults_dir=tmp_path / "configs")


def test_a_v2_that_only_changes_defaults_is_one_line() -> None:
    from lived_themes.coders.baselines import TfidfLogRegCoder, TfidfLogRegV2Coder
    from lived_themes.registry import constructor_params, with_defaults

    assert constructor_params(TfidfLogRegV2Coder) == constructor_params(TfidfLogRegCoder)
    assert TfidfLogRegV2Coder().solver == "liblinear" and TfidfLogRegV2Coder(solver="lbfgs", C=2.0).get_params()["C"] == 2.0
    with pytest.raises(TypeError, match="no parameter"):
        with_defaults(TfidfLogRegCoder.__init__, solvr="liblinear")


def test_tuned_wrapper_tunes_any_coders_decision_on_its_out_of_fold_scores(tmp_path: Path) -> None:
    from lived_themes.coders import load_coder
    from lived_themes.coders.cross_validation import cross_val_scores
    from lived_themes.coders.decision import tune_thresholds
    from lived_themes.splits import kfold_multilabel

    inner = {"name": "tfidf-logreg.v1", "params": {"tune": False}}  # a coder that keeps every threshold at 0.5
    coder = make_coder("tuned.v1", coder=inner, seed=1).fit(TEXTS, LABELS, CODES)
    oof = cross_val_scores(lambda: make_coder("tfidf-logreg.v1", tune=False), TEXTS, LABELS, CODES,
                           kfold_multilabel(LABELS, n_splits=3, seed=1)).scores
    np.testing.assert_allclose(coder.thresholds_, tune_thresholds(LABELS, oof))
    assert not np.allclose(coder.thresholds_, 0.5)
    coder.save(tmp_path / "m")
    np.testing.assert_array_equal(load_coder(tmp_path / "m").predict(TEXTS), coder.predict(TEXTS))
    single = make_coder("tuned.v1", coder=inner, label_mode="single").fit(TEXTS, LABELS, CODES)
    assert single.decision.single_label and (single.predict(TEXTS).sum(axis=1) <= 1).all()


def test_active_learning_counts_codes_by_the_coders_decision() -> None:
    from lived_themes.active import select_batch, simulate
    from lived_themes.active.strategies import cardinality_inconsistency

    proba = np.array([[0.9, 0.9, 0.9], [0.9, 0.1, 0.1], [0.1, 0.1, 0.1]])
    t = np.full(3, 0.5)
    assert cardinality_inconsistency(proba, Decision(t), np.ones((2, 1))).tolist() == [2.0, 0.0, 1.0]
    assert cardinality_inconsistency(proba, Decision(t, top_k=1), np.ones((2, 1))).tolist() == [0.0, 0.0, 1.0]
    assert select_batch("cardinality", 1, proba=proba, decision=Decision(t, top_k=1), labelled_y=np.ones((2, 1))).tolist() == [2]
    curve = simulate(lambda: make_coder("tfidf-logreg.v1", tune=False, top_k=1), TEXTS, LABELS, CODES,
                     pool=np.arange(16), test=np.arange(16, 24), strategy="cardinality", start=8, batch=4, rounds=1)
    assert [p["labels"] for p in curve] == [8, 12]
