"""Cluster bootstrap on summed statistics.

Quotes from one participant are not independent, so confidence intervals resample whole
clusters. Every statistic here is a function of per-row counts that add up, so we sum the
counts per cluster once and each resample is one weighted sum (a matrix product) instead of
a re-scoring of thousands of rows.
"""

from __future__ import annotations

import warnings
from typing import Iterator

import numpy as np
import pandas as pd
from scipy import sparse

UNKNOWN = "unknown"


def as_labels(values: pd.Series | np.ndarray | list, n: int, *, name: str = "group") -> pd.Series:
    """String labels with missing values mapped to "unknown" (its own group, never dropped)."""
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object), name=name)
    if len(series) != n:
        raise ValueError(f"{series.name or name}: {len(series)} values for {n} quotes")
    values = series.to_numpy(dtype=object)
    missing = pd.isna(values)
    labels = values.astype(str).astype(object)  # one vectorised pass; a million labels in a second
    labels[missing] = UNKNOWN
    return pd.Series(labels, name=str(series.name) if series.name is not None else name, dtype=object)


def sum_by(codes: np.ndarray, stats: np.ndarray, n_codes: int) -> np.ndarray:
    """Sum rows of ``stats`` (n, ...) into ``n_codes`` bins given integer ``codes`` (n,)."""
    n = stats.shape[0]
    onehot = sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_codes, n))
    return np.asarray(onehot @ stats.reshape(n, -1)).reshape((n_codes,) + stats.shape[1:])


#: Most multiplicities held at once (chunk x clusters), so memory stays bounded at a million clusters (128 MB).
WEIGHT_BUDGET = 1 << 24


def weight_chunks(n_clusters: int, n_boot: int, rng: np.random.Generator, chunk: int = 200) -> Iterator[np.ndarray]:
    """Yield (chunk, n_clusters) multiplicities: how often each cluster is drawn per resample.

    Each resample draws ``n_clusters`` cluster indices uniformly with replacement and counts them
    (the multinomial with equal probabilities, drawn as indices plus one ``bincount``: about five
    times faster than ``rng.multinomial`` at a hundred thousand clusters). Chunks shrink with the
    number of clusters so at most ``WEIGHT_BUDGET`` multiplicities are held at once.
    """
    chunk = max(1, min(chunk, WEIGHT_BUDGET // max(n_clusters, 1)))
    done = 0
    while done < n_boot:
        size = min(chunk, n_boot - done)
        draws = rng.integers(0, n_clusters, size=(size, n_clusters))
        draws += (np.arange(size) * n_clusters)[:, None]
        yield np.bincount(draws.ravel(), minlength=size * n_clusters).reshape(size, n_clusters).astype(float)
        done += size


def resampled_sums(cluster_stats: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(b, ...) resampled totals from (c, ...) per-cluster sums and (b, c) multiplicities.

    The product runs on one BLAS thread: these are tall, thin products, and OpenBLAS's threads
    spin-wait, so on a busy machine two threads made some shapes 10 to 50 times slower (measured:
    0.6 s on one thread, 10 s on two, for 110k clusters x 280 statistics x 152 resamples).
    """
    c = cluster_stats.shape[0]
    with _one_blas_thread():
        out = weights @ cluster_stats.reshape(c, -1)
    return out.reshape((weights.shape[0],) + cluster_stats.shape[1:])


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
