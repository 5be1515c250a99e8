"""The streamed cluster bootstrap: the same values and intervals as before, in bounded memory.

``_groups_before_streaming.py`` keeps the implementation that held every row's statistics at once;
with the same seed the streamed one must give the same frames (exactly where the per-cluster sums
are whole numbers, to rounding where Krippendorff's coincidences are fractions), also when chunks
are tiny and clusters are split across them.
"""

from __future__ import annotations

import importlib.util
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lived_themes.evaluation import _bootstrap as bs
from lived_themes.evaluation.groups import agreement_by_group, metric_by_group
from lived_themes.evaluation.metrics import code_f1, macro_average_precision, macro_f1, micro_f1

CODES = ["a", "b", "c", "d", "e"]


def _before():
    spec = importlib.util.spec_from_file_location("groups_before", Path(__file__).with_name("_groups_before_streaming.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def data() -> dict:
    rng = np.random.default_rng(5)
    n = 300
    y = (rng.random((n, 5)) < 0.25).astype(float)
    flip = rng.random(y.shape) < 0.15
    p = np.where(flip, 1 - y, y)
    p[rng.random(n) < 0.05] = np.nan  # rows the model did not code
    s = np.clip(0.7 * np.nan_to_num(p) + 0.3 * rng.random(y.shape), 0, 1)
    groups = pd.DataFrame({"site": rng.choice(["x", "y", "z", None], n, p=[0.5, 0.3, 0.15, 0.05]),
                           "wave": rng.choice([1, 2], n)})
    participants = pd.Series(rng.integers(0, 50, n), name="participant")  # clusters of ~6 rows, some over 7
    return {"y": y, "p": p, "s": s, "g": groups, "cl": participants}


@pytest.mark.parametrize("clusters", [None, "cl", "group"])
def test_metric_by_group_matches_the_whole_array_bootstrap(data: dict, clusters, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bs, "ROW_CHUNK", 7)  # tiny chunks: participants and whole groups are split across them
    cl = data["cl"] if clusters == "cl" else clusters
    metrics = {"macro_f1": macro_f1, "micro_f1": micro_f1, "f1_c": code_f1(2), "map": macro_average_precision}
    args = (metrics, data["y"], data["p"], data["g"])
    kwargs = dict(y_score=data["s"], clusters=cl, n_boot=60, seed=4, codes=CODES, min_group_size=5)
    new = metric_by_group(*args, **kwargs)
    old = _before().metric_by_group(*args, **kwargs)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    assert new.attrs == old.attrs


@pytest.mark.parametrize("clusters", ["cl", "group", None])
@pytest.mark.parametrize("n_humans", [2, 4])
def test_agreement_by_group_matches_the_whole_array_bootstrap(data: dict, clusters, n_humans: int,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bs, "ROW_CHUNK", 7)
    rng = np.random.default_rng(n_humans)
    y = data["y"]
    humans = [f"h{i}" for i in range(n_humans)]
    labels = {h: np.abs(y - (rng.random(y.shape) < 0.1)) for h in humans}
    for h in humans[1:]:
        labels[h][rng.random(len(y)) < 0.4] = np.nan  # an incomplete design: 2 to n_humans coders per quote
    labels["model"] = data["p"]
    cl = data["cl"] if clusters == "cl" else clusters
    kwargs = dict(model_coder="model", clusters=cl, n_boot=60, seed=2, min_group_size=5)
    new = agreement_by_group(labels, CODES, humans, data["g"], **kwargs)
    old = _before().agreement_by_group(labels, CODES, humans, data["g"], **kwargs)
    if n_humans == 2:  # every per-cluster sum is a whole number: the same to the last bit
        pd.testing.assert_frame_equal(new, old, check_exact=True)
    else:  # coincidences of 4 coders are thirds; split clusters add their halves at the end
        pd.testing.assert_frame_equal(new, old, check_exact=False, rtol=1e-12, atol=1e-14)


def test_stream_cluster_sums_equal_sum_by_in_compact_types() -> None:
    rng = np.random.default_rng(0)
    n, c = 1000, 40
    cid = rng.integers(0, c, n)
    cid[:400] = 7  # one cluster of 400+ rows: its 0/1 sums pass 255, so they need 16 bits
    ones = (rng.random((n, 3)) < 0.9).astype(float)
    thirds = rng.integers(0, 4, (n, 2)) / 3.0
    rows = np.arange(n)
    for chunk in (1, 13, 64, 5000):
        got = bs.stream_cluster_sums(rows, cid, c, lambda r: {"ones": ones[r], "thirds": thirds[r]}, chunk=chunk)
        assert got["ones"].dtype == np.uint16 and np.array_equal(got["ones"], bs.sum_by(cid, ones, c))
        assert got["thirds"].dtype == np.float64 and np.allclose(got["thirds"], bs.sum_by(cid, thirds, c), rtol=1e-13)
    small = bs.stream_cluster_sums(rows[400:], rng.integers(0, 300, 600), 300, lambda r: {"ones": ones[r]})["ones"]
    assert small.dtype == np.uint8
    weights = next(bs.weight_chunks(c, 9, rng))
    sums = bs.stream_cluster_sums(rows, cid, c, lambda r: {"ones": ones[r]})["ones"]
    assert np.array_equal(bs.resampled_sums(sums, weights), bs.resampled_sums(sums.astype(float), weights))
    assert np.array_equal(bs.totals(sums), bs.sum_by(cid, ones, c).sum(axis=0))


def test_an_empty_group_streams_to_zero_clusters() -> None:
    got = bs.stream_cluster_sums(np.arange(0), np.arange(0), 0, lambda r: {"x": np.zeros((len(r), 2, 4))})
    assert got["x"].shape == (0, 2, 4) and np.array_equal(bs.totals(got["x"]), np.zeros((2, 4)))


def _peak_mb(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_the_bootstrap_never_holds_every_rows_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    """40,000 quotes x 20 codes: the whole-array version held (n, codes, 4) float64 counts (24 MB) and (n, 2, codes, 3)
    model coincidences (37 MB), and peaked at 116 and 150 MB; the streamed one stays below either array alone."""
    monkeypatch.setattr(bs, "ROW_CHUNK", 2000)
    rng = np.random.default_rng(1)
    n, k = 40_000, 20
    y = (rng.random((n, k)) < 0.2).astype(float)
    p = np.where(rng.random(y.shape) < 0.05, 1 - y, y)
    h2 = np.where(rng.random(y.shape) < 0.05, 1 - y, y)
    h2[rng.random(n) < 0.8] = np.nan
    groups = pd.Series(rng.choice(["x", "y"], n), name="site")
    people = pd.Series(np.arange(n) // 4, name="participant")
    peak = _peak_mb(lambda: metric_by_group({"macro_f1": macro_f1, "micro_f1": micro_f1}, y, p, groups, clusters=people, n_boot=20))
    assert peak < n * k * 4 * 8 / 2**20, f"metric_by_group peaked at {peak:.1f} MB"
    labels = {"h1": y, "h2": h2, "model": p}
    peak = _peak_mb(lambda: agreement_by_group(labels, [str(j) for j in range(k)], ["h1", "h2"], groups, model_coder="model",
                                               clusters=people, n_boot=20))
    assert peak < n * 2 * k * 3 * 8 / 2**20, f"agreement_by_group peaked at {peak:.1f} MB"


@pytest.mark.parametrize("n_clusters", [1, 7, 333, 4001])
def test_weights_are_the_same_draws_as_before(n_clusters: int) -> None:
    """32-bit draws counted a resample at a time: the same multiplicities as the 64-bit draws counted at once."""
    new = list(bs.weight_chunks(n_clusters, 450, np.random.default_rng([3, 1])))
    old = list(_before().weight_chunks(n_clusters, 450, np.random.default_rng([3, 1])))
    assert [w.shape for w in new] == [w.shape for w in old]
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(new, old))


def test_weights_drawn_row_by_row_are_the_old_block_draws():
    """Drawing each resample's indices alone gives the same multiplicities as one (size, n) draw (the old way)."""
    import numpy as np

    from lived_themes.evaluation import _bootstrap as bs

    for n in (1, 7, 1001):
        new = np.concatenate(list(bs.weight_chunks(n, 450, np.random.default_rng([0, 3]))))
        rng, old = np.random.default_rng([0, 3]), []
        chunk = max(1, min(200, bs.WEIGHT_BUDGET // n))
        for done in range(0, 450, chunk):
            draws = rng.integers(0, n, size=(min(chunk, 450 - done), n), dtype=np.int32)
            old.append(np.stack([np.bincount(d, minlength=n) for d in draws]).astype(float))
        assert np.array_equal(new, np.concatenate(old))
