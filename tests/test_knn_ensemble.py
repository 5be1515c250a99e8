"""knn.v1, ensemble.v1, calibrated.v1 and single-label decisions, on tiny data with a bag-of-words stand-in encoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lived_themes.coders import load_coder
from lived_themes.coders.ensemble import EnsembleCoder
from lived_themes.coders.knn import KnnCoder
from lived_themes.coders.single_label import argmax_or_none, tune_none_threshold
from lived_themes.registry import make_coder

VOCAB = ["wait", "list", "staff", "kind", "pill", "dose", "park", "dog"]
CODES = ["waiting", "staff", "medication"]
ROWS = [
    ("a1", "wait wait list", [1, 0, 0]), ("a2", "wait list", [1, 0, 0]), ("a3", "list wait long", [1, 0, 0]),
    ("a4", "wait", [1, 0, 0]), ("b1", "staff kind", [0, 1, 0]), ("b2", "kind staff staff", [0, 1, 0]),
    ("b3", "staff", [0, 1, 0]), ("b4", "kind", [0, 1, 0]), ("c1", "pill dose", [0, 0, 1]), ("c2", "dose dose", [0, 0, 1]),
    ("c3", "pill", [0, 0, 1]), ("c4", "pill dose pill", [0, 0, 1]), ("d1", "park dog", [0, 0, 0]), ("d2", "dog", [0, 0, 0]),
    ("d3", "park", [0, 0, 0]),
]
TEXTS = [t for _, t, _ in ROWS]
LABELS = np.array([y for _, _, y in ROWS], dtype=float)
META = pd.DataFrame({"quote_id": [q for q, _, _ in ROWS], "person": [q[0] for q, _, _ in ROWS]})


def bag_of_words(texts, **_kwargs):  # noqa: ANN001, ANN201 - a stand-in for embeddings.encode
    out = np.array([[t.split().count(w) for w in VOCAB] for t in texts], dtype=np.float32) + 1e-3
    return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture(autouse=True)
def fake_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lived_themes.coders.knn.encode", bag_of_words)  # patched where the coder looks it up


def test_knn_neighbours_are_the_most_similar_labelled_quotes() -> None:
    coder = KnnCoder(k=3).fit(TEXTS, LABELS, CODES, metadata=META)
    ids, sims = coder.neighbours(["wait list", "dog park"], k=2)
    assert ids[0][0] == "a2" and ids[0][1] in {"a1", "a3"}  # its exact twin first, then the next wait/list quote
    assert set(ids[1]) <= {"d1", "d2", "d3"}
    assert np.all(np.diff(sims, axis=1) <= 1e-9) and sims.shape == (2, 2)
    # the score is the similarity-weighted share of the 3 neighbours carrying each code
    positions, s = coder._search(bag_of_words(["wait staff"]))
    expected = (s[0][:, None] * LABELS[positions[0]]).sum(0) / s[0].sum()
    np.testing.assert_allclose(coder.predict_proba(["wait staff"])[0], expected, rtol=1e-6)


def test_knn_tunes_thresholds_on_leave_one_out_scores() -> None:
    coder = KnnCoder(k=3).fit(TEXTS, LABELS, CODES, metadata=META)
    y, loo = coder.tuning_
    assert loo.shape == LABELS.shape
    # leave-one-out: a quote is never its own neighbour, so "wait" (a4) is scored by others only
    positions, _ = coder._search(coder.embeddings_, exclude_self=True)
    assert not (positions == np.arange(len(TEXTS))[:, None]).any()
    assert (coder.predict(TEXTS) == LABELS).all()


def test_knn_save_load_without_pickle(tmp_path: Path) -> None:
    coder = KnnCoder(k=4, weighting="softmax").fit(TEXTS, LABELS, CODES, metadata=META)
    folder = coder.save(tmp_path / "knn")
    assert {p.name for p in folder.iterdir()} == {"coder.json", "index.safetensors", "index.json"}
    loaded = load_coder(folder)
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), coder.predict_proba(TEXTS))
    assert loaded.neighbours(["pill"], k=2)[0] == coder.neighbours(["pill"], k=2)[0]


def test_knn_refuses_bad_parameters() -> None:
    with pytest.raises(ValueError, match="k must be"):
        KnnCoder(k=0).fit(TEXTS, LABELS, CODES)
    with pytest.raises(ValueError, match="weighting"):
        KnnCoder(weighting="vote").fit(TEXTS, LABELS, CODES)


@pytest.mark.parametrize("combine", ["mean", "stack"])
def test_ensemble_reports_members_and_round_trips(combine: str, tmp_path: Path) -> None:
    members = [{"name": "majority.v1"}, {"name": "knn.v1", "params": {"k": 3}}]
    coder = EnsembleCoder(members=members, combine=combine, inner_folds=3).fit(TEXTS * 2, np.vstack([LABELS, LABELS]), CODES)
    report = coder.contributions()
    by_name = {m["name"]: m for m in report["members"]}
    assert by_name["knn.v1"]["inner_macro_f1"] > by_name["majority.v1"]["inner_macro_f1"]
    assert by_name["knn.v1"]["ensemble_without_macro_f1"] == pytest.approx(by_name["majority.v1"]["inner_macro_f1"])
    if combine == "stack":
        assert report["stacked_codes"] == CODES and set(report["stacking_coef"]) == set(CODES)
    folder = coder.save(tmp_path / "ens")
    assert (folder / "members" / "0-majority.v1" / "coder.json").exists()
    assert (folder / "members" / "1-knn.v1" / "index.safetensors").exists()
    assert json.loads((folder / "ensemble.json").read_text())["contributions"]["members"][1]["name"] == "knn.v1"
    loaded = load_coder(folder)
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), coder.predict_proba(TEXTS))
    np.testing.assert_array_equal(loaded.predict(TEXTS), coder.predict(TEXTS))


def test_bagged_member_keeps_its_inner_fold_fits_and_round_trips(tmp_path: Path) -> None:
    """bag: true: the member's final model is its inner-fold fits averaged; nothing is refitted on all rows."""
    from lived_themes.coders.ensemble import BaggedCoder

    fits: list[int] = []
    original = KnnCoder._fit

    def counting_fit(self, texts, labels, **kwargs):  # noqa: ANN001, ANN202
        fits.append(len(texts))
        return original(self, texts, labels, **kwargs)

    texts, labels = TEXTS * 2, np.vstack([LABELS, LABELS])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(KnnCoder, "_fit", counting_fit)
        coder = EnsembleCoder(members=["majority.v1", {"name": "knn.v1", "params": {"k": 3}, "bag": True}], inner_folds=3).fit(
            texts, labels, CODES)
    assert len(fits) == 3 and max(fits) < len(texts)  # three inner-fold fits, no fit on all 30 rows
    bag = coder.members_[1]
    assert isinstance(bag, BaggedCoder) and len(bag.members_) == 3
    expected = np.mean([fit.predict_proba(TEXTS) for fit in bag.members_], axis=0)
    np.testing.assert_allclose(coder.member_scores(TEXTS)[1], expected)
    folder = coder.save(tmp_path / "ens")
    assert [p.name for p in sorted((folder / "members" / "1-knn.v1").iterdir())] == ["fold-0", "fold-1", "fold-2"]
    loaded = load_coder(folder)
    assert isinstance(loaded.members_[1], BaggedCoder)
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), coder.predict_proba(TEXTS))
    np.testing.assert_array_equal(loaded.predict(TEXTS), coder.predict(TEXTS))


def test_bagged_member_without_inner_folds_is_fitted_on_all_rows() -> None:
    coder = EnsembleCoder(members=[{"name": "knn.v1", "params": {"k": 3}, "bag": True}], inner_folds=10).fit(TEXTS, LABELS, CODES)
    assert isinstance(coder.members_[0], KnnCoder)  # 15 quotes cannot make 10 inner folds: a plain refit, said in the log


def test_bagged_member_outside_the_model_folder_is_refused(tmp_path: Path) -> None:
    from lived_themes.errors import ModelFileError

    coder = EnsembleCoder(members=[{"name": "knn.v1", "params": {"k": 3}, "bag": True}], inner_folds=2).fit(TEXTS, LABELS, CODES)
    folder = coder.save(tmp_path / "ens")
    state = json.loads((folder / "ensemble.json").read_text())
    assert state["members"] == [["members/0-knn.v1/fold-0", "members/0-knn.v1/fold-1"]]
    state["members"] = [["../elsewhere"]]
    (folder / "ensemble.json").write_text(json.dumps(state))
    with pytest.raises((ModelFileError, ValueError)):  # the checksum or the path check, never a load from outside
        load_coder(folder)


def test_ensemble_mean_is_the_weighted_member_mean() -> None:
    coder = EnsembleCoder(members=["majority.v1", "knn.v1"], weights=[1, 3]).fit(TEXTS, LABELS, CODES)
    parts = coder.member_scores(TEXTS)
    np.testing.assert_allclose(coder.predict_proba(TEXTS), 0.25 * parts[0] + 0.75 * parts[1])


@pytest.mark.parametrize(
    ("params", "message"),
    [({"members": [{"name": "nope.v1"}]}, "unknown coder"), ({"members": [{"name": "ensemble.v1"}]}, "nested"),
     ({"members": [{"name": "knn.v1", "k": 3}]}, "name, params"), ({"members": [{"name": "knn.v1", "bag": "yes"}]}, "bag"), ({"combine": "vote"}, "combine"),
     ({"weights": [1.0]}, "weights"), ({"inner_group": "nope"}, "inner_group")],
)
def test_ensemble_refuses_bad_configs(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EnsembleCoder(**params).fit(TEXTS, LABELS, CODES, metadata=META)


def test_ensemble_inner_folds_can_keep_groups_apart() -> None:
    coder = EnsembleCoder(members=["knn.v1"], inner_group="person", inner_folds=2).fit(TEXTS, LABELS, CODES, metadata=META)
    assert coder.contributions()["n_quotes"] == len(TEXTS)


def test_calibration_lowers_brier_of_overconfident_scores() -> None:
    from lived_themes.coders._calibration import apply_calibration, fit_calibration
    from lived_themes.evaluation.calibration import brier_scores, expected_calibration_errors

    rng = np.random.default_rng(0)
    truth = rng.random((4000, 2))
    y = (rng.random((4000, 2)) < truth).astype(float)
    raw = np.clip(truth ** 0.3, 0, 1)  # overconfident: scores far above the true rate
    fit, held = slice(0, 2000), slice(2000, None)
    for method in ("platt", "isotonic"):
        maps = fit_calibration(y[fit], raw[fit], method)
        calibrated = apply_calibration(raw[held], maps)
        assert (brier_scores(y[held], calibrated) < brier_scores(y[held], raw[held])).all()
        assert (expected_calibration_errors(y[held], calibrated) < expected_calibration_errors(y[held], raw[held])).all()


def test_calibrated_wrapper_only_touches_badly_calibrated_codes(tmp_path: Path) -> None:
    coder = make_coder("calibrated.v1", coder={"name": "knn.v1", "params": {"k": 3}}, method="isotonic", max_ece=1.0)
    coder.fit(TEXTS * 2, np.vstack([LABELS, LABELS]), CODES)
    assert coder.calibration_ == [None, None, None]  # no code's ECE exceeds 1
    coder = make_coder("calibrated.v1", coder="knn.v1", method="platt").fit(TEXTS * 2, np.vstack([LABELS, LABELS]), CODES)
    assert all(m is not None and m["method"] == "platt" for m in coder.calibration_)
    loaded = load_coder(coder.save(tmp_path / "cal"))
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), coder.predict_proba(TEXTS))


def test_argmax_or_none_and_its_threshold() -> None:
    scores = np.array([[0.9, 0.8, 0.1], [0.2, 0.3, 0.1], [0.1, 0.2, 0.6]])
    np.testing.assert_array_equal(argmax_or_none(scores, 0.5), [[1, 0, 0], [0, 0, 0], [0, 0, 1]])
    y = np.array([[1, 0, 0], [0, 0, 0], [0, 0, 1]])
    t = tune_none_threshold(y, scores)
    assert 0.3 < t <= 0.6
    np.testing.assert_array_equal(argmax_or_none(scores, t), y)


@pytest.mark.parametrize("name", ["tfidf-logreg.v1", "knn.v1", "ensemble.v1"])
def test_single_label_mode_gives_one_code_or_none_and_survives_saving(name: str, tmp_path: Path) -> None:
    coder = make_coder(name).fit(TEXTS * 2, np.vstack([LABELS, LABELS]), CODES, label_mode="single")
    assert coder.none_threshold_ is not None
    predicted = coder.predict(TEXTS + ["wait staff pill"])
    assert (predicted.sum(axis=1) <= 1).all()
    loaded = load_coder(coder.save(tmp_path / "m"))
    assert loaded.none_threshold_ == pytest.approx(coder.none_threshold_)
    np.testing.assert_array_equal(loaded.predict(TEXTS), coder.predict(TEXTS))
    with pytest.raises(ValueError, match="label_mode"):
        make_coder(name).fit(TEXTS, LABELS, CODES, label_mode="several")
