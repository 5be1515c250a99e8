"""Scale guards: a run's cost grows with the corpus, not with its square.

``Corpus.texts``, ``quote_ids``, ``coders`` and ``human_coders`` build a fresh list on every access
(a property over the table). Read inside a per-quote loop they made a 200k-quote run quadratic
(probe C51). These tests count the accesses during a whole run at two corpus sizes: the count must
not grow with the number of quotes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lived_themes.corpus import Corpus, save_corpus
from lived_themes.corpus.model import Corpus as CorpusClass
from lived_themes.experiment.coding import run_experiment
from lived_themes.config.coding import ExperimentConfig

PROPERTIES = ("texts", "quote_ids", "coders", "human_coders", "codes")


def synthetic(n: int, seed: int = 0) -> Corpus:
    rng = np.random.default_rng(seed)
    words = np.array(["pills", "listen", "peer", "wait", "staff", "kind", "rude", "home", "bed", "food"])
    quotes, annotations = [], []
    for i in range(n):
        picked = rng.choice(len(words), 3, replace=False)
        quotes.append({"quote_id": f"q{i}", "text": " ".join(words[picked]), "site": f"s{i % 4}", "participant": f"p{i // 2}"})
        codes = [f"c{j}" for j in picked if j < 5] or [None]
        annotations += [{"quote_id": f"q{i}", "coder": "A", "code": c} for c in codes]
        if i % 3 == 0:
            annotations += [{"quote_id": f"q{i}", "coder": "B", "code": c} for c in codes]
    return Corpus(quotes=pd.DataFrame(quotes), annotations=pd.DataFrame(annotations))


def _count_accesses(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counts = dict.fromkeys(PROPERTIES, 0)
    for name in PROPERTIES:
        original = getattr(CorpusClass, name)

        def getter(self: Corpus, _name: str = name, _original: property = original) -> object:
            counts[_name] += 1
            return _original.fget(self)

        monkeypatch.setattr(CorpusClass, name, property(getter))
    return counts


def _run(tmp_path: Path, n: int) -> None:
    data = save_corpus(synthetic(n), tmp_path / f"data{n}")
    config = ExperimentConfig.model_validate({
        "name": "scale", "data": {"path": str(data)}, "reference": {"coder": "A"},
        "splits": [{"kind": "holdout", "test_size": 0.25, "group": "participant"}],
        "coders": [{"name": "majority.v1"}],
        "evaluation": {"groups": ["site"], "cluster": "participant", "n_boot": 5, "min_group_size": 2, "min_report_group_size": 2},
        "final_model": {"coder": None}, "output": {"dir": str(tmp_path / "runs"), "html": False, "figures": False},
    })
    run_experiment(config, out_dir=tmp_path / f"run{n}")


def test_corpus_properties_are_not_read_per_quote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counts = _count_accesses(monkeypatch)
    _run(tmp_path, 40)
    small = dict(counts)
    for name in PROPERTIES:
        counts[name] = 0
    _run(tmp_path, 160)
    assert sum(small.values()) > 0  # the counter does see the accesses
    assert counts == small, f"property reads grew with the corpus: {small} at 40 quotes, {counts} at 160"


def test_bootstrap_weights_are_cluster_resamples_reproducible_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from lived_themes.evaluation import _bootstrap as bs

    chunks = list(bs.weight_chunks(50, 450, np.random.default_rng(3)))
    weights = np.vstack(chunks)
    assert weights.shape == (450, 50) and (weights.sum(axis=1) == 50).all()  # each resample draws every cluster slot once
    assert abs(weights.mean() - 1.0) < 1e-12 and 0.3 < weights.var() < 1.5  # multinomial(50, 1/50): variance ~0.98
    again = np.vstack(list(bs.weight_chunks(50, 450, np.random.default_rng(3))))
    assert (weights == again).all()
    monkeypatch.setattr(bs, "WEIGHT_BUDGET", 1000)
    assert max(len(c) for c in bs.weight_chunks(200, 30, np.random.default_rng(0))) == 5  # 1000 // 200 clusters


def test_resampled_sums_match_a_direct_resample() -> None:
    from lived_themes.evaluation import _bootstrap as bs

    rng = np.random.default_rng(0)
    stats = rng.integers(0, 5, size=(30, 7, 4)).astype(float)
    weights = next(bs.weight_chunks(30, 10, rng))
    direct = np.stack([np.repeat(stats, w.astype(int), axis=0).sum(axis=0) for w in weights])
    assert np.array_equal(bs.resampled_sums(stats, weights), direct)


def test_label_matrix_vectorised_matches_the_rules() -> None:
    corpus = Corpus(quotes=pd.DataFrame({"quote_id": ["a", "b", "c"], "text": ["x", "y", "z"]}),
                    annotations=pd.DataFrame({"quote_id": ["a", "a", "b", "c"], "coder": ["A", "A", "A", "B"],
                                              "code": ["k1", "k2", None, "k2"]}))
    m = corpus.label_matrix("A", ["k2", "k1", "k3"])
    assert np.array_equal(m[:2], [[1, 1, 0], [0, 0, 0]]) and np.isnan(m[2]).all()
