"""Cluster bootstrap on summed statistics.

Quotes from one participant are not independent, so confidence intervals resample whole
clusters. Every statistic here is a function of per-row counts that add up, so we sum the
counts per cluster once and each resample is one weighted sum (a matrix product) instead of
a re-scoring of thousands of rows.

The per-row statistics are never held for every row at once: ``stream_cluster_sums`` computes
them a chunk of rows at a time (rows sorted by cluster) and keeps only the per-cluster sums, in
the smallest integer type that holds them exactly (counts of a few quotes fit a byte), so a
million quotes and 35 codes stay within a few hundred MB. Integer sums are exact in any order,
so the resampled totals, and the intervals, are the same as from the whole (n, ...) array; sums
that are not whole numbers (Krippendorff's coincidences with four or more coders) keep float64
and the same order of addition, except inside a cluster larger than a chunk, where the two
halves are added at the end (a difference in the last bit at most).
"""

from __future__ import annotations

import warnings
from typing import Callable, Iterator

import numpy as np
import pandas as pd
from scipy import sparse

UNKNOWN = "unknown"


def as_labels(values: pd.Series | np.ndarray | list, n: int, *, name: str = "group") -> pd.Series:
    """String labels with missing values mapped to "unknown" (its own group, never dropped).

    Each distinct value becomes a string once and every row points at it: a million rows of a
    column with forty sites hold forty strings and a million references (8 MB), not a million
    strings (60 MB and more)."""
    series = _series(values, n, name)
    codes, strings = _factorized_strings(series)
    return pd.Series(strings[codes], name=str(series.name) if series.name is not None else name, dtype=object)


def label_codes(values: pd.Series | np.ndarray | list, n: int, *, name: str = "cluster") -> np.ndarray:
    """One integer per value, equal exactly where ``as_labels`` gives equal strings (missing: "unknown"),
    numbered in order of first appearance."""
    codes, _ = _factorized_strings(_series(values, n, name))
    return codes


def _series(values: pd.Series | np.ndarray | list, n: int, name: str) -> pd.Series:
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object), name=name)
    if len(series) != n:
        raise ValueError(f"{series.name or name}: {len(series)} values for {n} quotes")
    return series


def _factorized_strings(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Row codes (0..k-1, first appearance) and the k distinct label strings (object array).

    Factorized before anything becomes a string, so each distinct value is turned into a string
    once; values that hash alike but print differently (1, 1.0, True) take the slow path of one
    string per row, as do mixed columns generally."""
    if pd.api.types.infer_dtype(series, skipna=True).startswith("mixed"):
        raw = series.to_numpy(dtype=object)
        missing = pd.isna(raw)
        labels = raw.astype(str).astype(object)
        labels[missing] = UNKNOWN
        codes, uniques = pd.factorize(labels)
        return codes, np.asarray(uniques, dtype=object)
    raw_codes, uniques = pd.factorize(series, use_na_sentinel=True)  # string, categorical and numeric columns natively
    strings = np.asarray(uniques, dtype=object).astype(str).astype(object)
    # 1 and "1" (and NaN and "unknown") are one label: merge the distinct strings, missing last
    merged, distinct = pd.factorize(np.append(strings, np.array([UNKNOWN], dtype=object)))
    raw_codes = np.asarray(raw_codes).copy()
    raw_codes[raw_codes < 0] = len(strings)
    row_merged = merged[raw_codes]
    # renumber in order of first appearance over the rows (what factorizing the row strings would give)
    order, seen = pd.factorize(row_merged)
    return order, np.asarray(distinct, dtype=object)[seen]


def sum_by(codes: np.ndarray, stats: np.ndarray, n_codes: int) -> np.ndarray:
    """Sum rows of ``stats`` (n, ...) into ``n_codes`` bins given integer ``codes`` (n,)."""
    n = stats.shape[0]
    onehot = sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_codes, n))
    return np.asarray(onehot @ stats.reshape(n, -1)).reshape((n_codes,) + stats.shape[1:])


#: Most multiplicities held at once (chunk x clusters), so memory stays bounded at a million clusters (128 MB).
WEIGHT_BUDGET = 1 << 24


def weight_chunks(n_clusters: int, n_boot: int, rng: np.random.Generator, chunk: int = 200, *,
                  reuse: bool = False, compact: bool = False) -> Iterator[np.ndarray]:
    """Yield (chunk, n_clusters) multiplicities: how often each cluster is drawn per resample.

    Each resample draws ``n_clusters`` cluster indices uniformly with replacement and counts them
    (the multinomial with equal probabilities, drawn as indices plus one ``bincount``: about five
    times faster than ``rng.multinomial`` at a hundred thousand clusters). Chunks shrink with the
    number of clusters so at most ``WEIGHT_BUDGET`` multiplicities are held at once.

    ``reuse``: every chunk is refilled into one buffer (a view of it for the last, shorter chunk), so a
    loop that is done with each chunk before asking for the next never holds two (128 MB each at a
    million clusters); a caller that keeps chunks (concatenates them) must leave it False. ``compact``:
    float32 multiplicities (exact: a count never exceeds the number of clusters, below 2**24 here), half
    the memory; ``resampled_sums`` widens them a block at a time, so the sums are the same.
    """
    chunk = max(1, min(chunk, WEIGHT_BUDGET // max(n_clusters, 1)))
    done = 0
    buffer: np.ndarray | None = None
    while done < n_boot:
        size = min(chunk, n_boot - done)
        # 32-bit draws are the same numbers from the same stream as 64-bit ones (both use numpy's 32-bit
        # bounded sampler below 2**32; tested against the 64-bit version), at half the memory. Drawn and
        # counted one resample at a time (the same stream as one (size, n) draw), so no (size, n) draws are held.
        kind = np.int32 if n_clusters < 2**31 else np.int64
        if not reuse or buffer is None:
            buffer = np.empty((size, n_clusters), np.float32 if compact and n_clusters < 2**24 else np.float64)
        weights = buffer[:size]
        for r in range(size):
            weights[r] = np.bincount(rng.integers(0, n_clusters, size=n_clusters, dtype=kind), minlength=n_clusters)
        yield weights
        done += size


def resampled_sums(cluster_stats: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(b, ...) resampled totals from (c, ...) per-cluster sums and (b, c) multiplicities.

    The product runs on one BLAS thread: these are tall, thin products, and OpenBLAS's threads
    spin-wait, so on a busy machine two threads made some shapes 10 to 50 times slower (measured:
    0.6 s on one thread, 10 s on two, for 110k clusters x 280 statistics x 152 resamples).
    """
    c = cluster_stats.shape[0]
    flat = cluster_stats.reshape(c, -1)
    with _one_blas_thread():
        if flat.dtype.kind == "f":
            out = np.asarray(weights, float) @ flat
        else:  # compact integer sums: a block of clusters at a time in float64 (exact: whole numbers)
            out = np.zeros((weights.shape[0], flat.shape[1]))
            step = max(1, BLOCK_VALUES // max(flat.shape[1], 1))
            for a in range(0, c, step):
                out += weights[:, a : a + step].astype(float) @ flat[a : a + step].astype(float)
    return out.reshape((weights.shape[0],) + cluster_stats.shape[1:])


def totals(cluster_stats: np.ndarray) -> np.ndarray:
    """Sum over clusters as float64 (float sums added as before; integer sums exactly)."""
    if cluster_stats.dtype.kind == "f":
        return cluster_stats.sum(axis=0)
    return cluster_stats.sum(axis=0, dtype=np.float64)


#: Rows whose per-row statistics are computed at once by ``stream_cluster_sums``.
ROW_CHUNK = 1 << 13
#: Per-cluster values converted to float64 at once when resampling compact integer sums (16 MB).
BLOCK_VALUES = 1 << 21
_COMPACT = (np.uint8, np.uint16, np.uint32)


def _fit(store: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``store`` in a type that holds ``values`` exactly: the next wider unsigned integer, or float64."""
    if store.dtype.kind == "f" or values.size == 0:
        return store
    if values.min() < 0 or not np.array_equal(values, np.floor(values)):
        return store.astype(np.float64)
    top = values.max()
    for kind in _COMPACT:
        if top <= np.iinfo(kind).max:
            return store if np.iinfo(store.dtype).max >= top else store.astype(kind)
    return store.astype(np.float64)


def stream_cluster_sums(
    rows: np.ndarray, cid: np.ndarray, n_clusters: int, parts: Callable[[np.ndarray], dict[str, np.ndarray]],
    chunk: int | None = None,
) -> dict[str, np.ndarray]:
    """Per-cluster sums of per-row statistics, computed ``chunk`` rows at a time.

    ``parts(some_rows)`` gives each statistic for those rows, (len(some_rows), ...) arrays; ``cid``
    is each of ``rows``' cluster in 0..n_clusters-1. Rows are taken in cluster order (stable, so each
    cluster's rows keep their order) and chunks end where a cluster ends, so every cluster's sum is
    added up in one piece, in the same order as ``sum_by`` over all rows; only a cluster larger than a
    chunk is split. Sums are kept in the smallest unsigned integer type that holds them (see ``_fit``).
    """
    chunk = chunk or ROW_CHUNK
    rows, cid = np.asarray(rows), np.asarray(cid)
    order = np.argsort(cid, kind="stable")
    rows, cid = rows[order], cid[order]
    m = len(rows)
    starts = np.flatnonzero(np.r_[True, cid[1:] != cid[:-1]]) if m else np.array([0])
    out: dict[str, np.ndarray] = {}
    carry: dict[str, np.ndarray] = {}  # the open cluster's partial sums, when a cluster is split
    pos = 0
    while True:
        end = min(pos + chunk, m)
        if end < m:
            last_start = starts[np.searchsorted(starts, end, side="right") - 1]
            end = last_start if last_start > pos else end
        here = cid[pos:end]
        first = int(here[0]) if len(here) else 0
        n_local = int(here[-1]) - first + 1 if len(here) else 0
        values = parts(rows[pos:end])
        for name, v in values.items():
            if name not in out:
                out[name] = np.zeros((n_clusters,) + v.shape[1:], np.uint8)
            if not n_local:
                continue
            local = sum_by(here - first, v, n_local)
            if name in carry:
                local[0] += carry.pop(name)
            if end < m and cid[end] == cid[end - 1]:  # the last cluster goes on in the next chunk
                carry[name], local = local[-1].copy(), local[:-1]
            out[name] = _fit(out[name], local)
            out[name][first : first + len(local)] = local
        if end >= m:
            return out
        pos = end


_CONTROLLER: list = []


def _one_blas_thread():
    """A context that limits BLAS to one thread (threadpoolctl, a scikit-learn dependency; built once)."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


def rows_from_weights(cluster_rows: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Row indices of one resample (for metrics that cannot work from counts)."""
    picked = [np.tile(rows, int(w)) for rows, w in zip(cluster_rows, weights) if w > 0]
    return np.concatenate(picked) if picked else np.array([], dtype=int)


def interval(samples: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along axis 0, ignoring resamples where the statistic is undefined."""
    alpha = (1.0 - ci) / 2.0
    samples = np.asarray(samples, dtype=float)
    if samples.shape[0] == 0:
        nan = np.full(samples.shape[1:], np.nan)
        return nan, nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN, as they should
        return np.nanquantile(samples, alpha, axis=0), np.nanquantile(samples, 1 - alpha, axis=0)


def small_warning(n: int, n_clusters: int, min_group_size: int) -> str:
    """Text for groups whose numbers cannot carry a claim."""
    reasons = []
    if n < min_group_size:
        reasons.append(f"n={n} < {min_group_size}")
    if n_clusters < 2:
        reasons.append(f"{n_clusters} cluster(s): the interval cannot show between-cluster variation")
    return "too small to say anything (" + "; ".join(reasons) + ")" if reasons else ""
