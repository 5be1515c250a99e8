"""tfidf-svm.v1, tfidf-gbm.v1 and ensemble.v1's ``combine: stack-all`` (issue 24's CPU recipe), on tiny in-memory data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lived_themes.coders import load_coder
from lived_themes.coders.ensemble import EnsembleCoder
from lived_themes.registry import make_coder

THEMES = {
    "access": ["I waited months for an appointment", "the waiting list was a year long", "no appointment and a long wait",
               "waiting for a referral letter for months", "the wait for therapy was too long", "another long wait"],
    "relationship": ["my nurse listened and was kind", "staff were kind and listened", "the doctor listened to me",
                     "kind staff who listen", "she listened without judging me", "a kind nurse listened"],
    "crisis": ["the crisis team never came at night", "in crisis at night nobody answered", "crisis line at night helped",
               "a crisis and no help at night", "at night in crisis I went to A&E", "crisis care at night failed"],
}
CODES = list(THEMES)
TEXTS = [t for texts in THEMES.values() for t in texts] * 2
LABELS = np.array([[1.0 if c == theme else 0.0 for c in CODES] for theme, texts in THEMES.items() for _ in texts] * 2)
NEW = ["a long wait for an appointment", "the nurse was kind and listened", "crisis at night", "the car park"]


def test_svm_scores_are_calibrated_probabilities_saved_as_a_linear_model(tmp_path: Path) -> None:
    coder = make_coder("tfidf-svm.v1", inner_folds=2).fit(TEXTS, LABELS, CODES)
    scores = coder.predict_proba(NEW)
    assert scores.shape == (len(NEW), len(CODES)) and scores.min() >= 0.0 and scores.max() <= 1.0
    assert scores[:3].argmax(axis=1).tolist() == [0, 1, 2]  # each new quote scores highest on its theme
    y, oof = coder.tuning_  # thresholds tuned on Platt-calibrated out-of-fold scores
    assert oof.shape == LABELS.shape and np.isfinite(oof).all() and 0.0 <= oof.min() and oof.max() <= 1.0
    folder = coder.save(tmp_path / "svm")
    assert {p.name for p in folder.iterdir()} == {"coder.json", "state.json", "weights.npz"}  # no pickle, as tfidf-logreg
    loaded = load_coder(folder)
    np.testing.assert_allclose(loaded.predict_proba(NEW), scores, atol=1e-9)
    np.testing.assert_array_equal(loaded.predict(NEW), coder.predict(NEW))


def test_svm_platt_map_is_folded_into_the_weights() -> None:
    from lived_themes.coders.svm import per_code_svm

    coder = make_coder("tfidf-svm.v1", inner_folds=2, char_ngrams=None, min_df=1).fit(TEXTS, LABELS, CODES)
    w, b, learned = per_code_svm(coder._transform(coder.vectorizer_, TEXTS), LABELS, C=coder.C, class_weight="balanced",
                                 max_iter=coder.max_iter, seed=0)
    assert learned.all()
    a = coder.coef_[:, 0] / w[:, 0] if np.all(w[:, 0]) else (coder.coef_ * w).sum(1) / (w * w).sum(1)
    assert (a > 0).all(), "a positive Platt slope: a larger margin is a larger score"
    np.testing.assert_allclose(coder.coef_, w * a[:, None], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize(("params", "message"), [({"class_weight": "sometimes"}, "class_weight"), ({"C": 0}, "C must be")])
def test_svm_refuses_bad_parameters(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_coder("tfidf-svm.v1", **params).fit(TEXTS, LABELS, CODES)


def test_gbm_fits_predicts_and_round_trips_without_pickle(tmp_path: Path) -> None:
    pytest.importorskip("lightgbm")
    coder = make_coder("tfidf-gbm.v1", n_estimators=20, min_child_samples=2, min_df=1, inner_folds=2, n_jobs=1)
    coder.fit(TEXTS, LABELS, CODES)
    scores = coder.predict_proba(NEW)
    assert scores.shape == (len(NEW), len(CODES)) and scores.min() >= 0.0 and scores.max() <= 1.0
    assert scores[:3].argmax(axis=1).tolist() == [0, 1, 2]
    assert coder.tuning_[1].shape == LABELS.shape
    folder = coder.save(tmp_path / "gbm")
    assert {p.name for p in folder.iterdir()} == {"coder.json", "state.json", "weights.npz", "trees.json"}
    assert all(isinstance(t, str) for t in json.loads((folder / "trees.json").read_text())["boosters"])
    loaded = load_coder(folder)
    np.testing.assert_allclose(loaded.predict_proba(NEW), scores, atol=1e-12)
    with pytest.raises(ValueError, match="colsample"):
        make_coder("tfidf-gbm.v1", colsample=1.5).fit(TEXTS, LABELS, CODES)


def _cross_code_scores(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One member whose score for code 0 is code 1's label (plus noise), and noise for code 1 itself."""
    rng = np.random.default_rng(seed)
    n = 200
    y = (rng.random((n, 2)) < 0.3).astype(float)
    oof = np.empty((1, n, 2))
    oof[0, :, 0] = np.clip(0.2 + 0.6 * y[:, 1] + rng.normal(0, 0.05, n), 0.01, 0.99)
    oof[0, :, 1] = rng.random(n)
    return oof, y, np.arange(n) % 2


def test_stack_all_lets_a_code_read_related_codes_scores() -> None:
    from lived_themes.coders.decision import tuned_macro_f1

    oof, y, fold_of = _cross_code_scores()
    f1 = {}
    for combine in ("stack", "stack-all"):
        coder = EnsembleCoder(members=["majority.v1"], combine=combine)
        coder.codes_ = ["a", "b"]
        f1[combine] = tuned_macro_f1(y[:, 1:], coder.fit_combination(oof, y, fold_of)[:, 1:])
    assert f1["stack-all"] > 0.9 > 0.7 > f1["stack"]  # per-code stacking cannot see code a's score; stack-all can


@pytest.mark.parametrize("combine", ["stack", "stack-all"])
def test_stacked_scores_are_cross_fitted_a_row_never_sees_its_own_label(combine: str) -> None:
    """Thresholds and inner figures read stacked scores from a stacker that never saw the row (an in-sample stack looks better)."""
    oof, y, fold_of = _cross_code_scores()
    coder = EnsembleCoder(members=["majority.v1"], combine=combine)
    coder.codes_ = ["a", "b"]
    before = coder.fit_combination(oof, y, fold_of)
    flipped = y.copy()
    flipped[fold_of == 1] = 1 - flipped[fold_of == 1]  # labels of fold 1 changed: its rows' stacked scores must not move
    after = coder.fit_combination(oof, flipped, fold_of)
    np.testing.assert_allclose(after[fold_of == 1], before[fold_of == 1])
    assert not np.allclose(after[fold_of == 0], before[fold_of == 0])


def test_stack_all_is_fitted_on_members_out_of_fold_scores_and_round_trips(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict[str, list[np.ndarray]] = {"oof": [], "stacked_on": []}
    member_oof, fit_cross = EnsembleCoder._member_oof, EnsembleCoder._fit_cross_stack

    def record_oof(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        out = member_oof(self, *args, **kwargs)
        seen["oof"].append(out)
        return out

    def record_stack(self, oof, y):  # noqa: ANN001, ANN202
        seen["stacked_on"].append(oof)
        return fit_cross(self, oof, y)

    monkeypatch.setattr(EnsembleCoder, "_member_oof", record_oof)
    monkeypatch.setattr(EnsembleCoder, "_fit_cross_stack", record_stack)
    members = [{"name": "tfidf-logreg.v2", "params": {"tune": False}}, {"name": "tfidf-svm.v1", "params": {"tune": False, "inner_folds": 2}}]
    coder = EnsembleCoder(members=members, combine="stack-all", inner_folds=2, stack_C=0.5).fit(TEXTS, LABELS, CODES)
    # the ensemble's own stacker (the 3rd fit; the later ones measure each member's contribution): all OOF rows, nothing else
    np.testing.assert_array_equal(seen["stacked_on"][2], np.stack(seen["oof"][:2]))
    assert all(s.shape[1] < len(TEXTS) for s in seen["stacked_on"][:2])  # the cross-fitted ones: one inner fold's rows each
    assert coder.cross_coef_.shape == (len(CODES), 2 * len(CODES))
    report = coder.contributions()
    assert report["combine"] == "stack-all" and {m["name"] for m in report["members"]} == {"tfidf-logreg.v2", "tfidf-svm.v1"}
    scores = coder.predict_proba(NEW)
    assert scores.shape == (len(NEW), len(CODES)) and 0.0 <= scores.min() and scores.max() <= 1.0
    loaded = load_coder(coder.save(tmp_path / "ens"))
    assert loaded.get_params()["combine"] == "stack-all" and loaded.get_params()["stack_C"] == 0.5
    np.testing.assert_allclose(loaded.predict_proba(NEW), scores, atol=1e-9)
    np.testing.assert_array_equal(loaded.predict(NEW), coder.predict(NEW))


def test_stack_c_must_be_positive() -> None:
    with pytest.raises(ValueError, match="stack_C"):
        EnsembleCoder(members=["majority.v1"], combine="stack-all", stack_C=0).fit(TEXTS, LABELS, CODES)
