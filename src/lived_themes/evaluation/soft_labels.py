"""Soft labels: raters' vote shares kept as shares, and metrics that read them as such.

When a corpus publishes only the share of raters who chose each code (SAD), thresholding at 0.5
throws away the raters' disagreement, which is the very thing a trust report is about. Here the
shares stay soft: a model is scored by how well its probabilities match them, and by its
expected agreement with a random rater set beside the raters' expected agreement with each other
(the soft-label form of "can the model stand in for a coder?"). Thresholding exists, but only as
an explicit call.

Shares live in quote columns named ``share:<code>`` (see :mod:`lived_themes.corpus.datasets.sad`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lived_themes.evaluation.agreement import fleiss_kappa, krippendorff_alpha

SHARE_PREFIX = "share:"
EPS = 1e-12


def share_columns(quotes: pd.DataFrame) -> list[str]:
    """Codes that have a ``share:<code>`` column, in column order."""
    return [c[len(SHARE_PREFIX):] for c in quotes.columns if str(c).startswith(SHARE_PREFIX)]


def soft_matrix(corpus_or_quotes, codes: Sequence[str] | None = None) -> np.ndarray:
    """(n_quotes, k) vote shares from a Corpus (or its quotes table); NaN where a share is missing."""
    quotes = getattr(corpus_or_quotes, "quotes", corpus_or_quotes)
    codes = list(codes) if codes is not None else share_columns(quotes)
    missing = [c for c in codes if SHARE_PREFIX + c not in quotes.columns]
    if missing:
        raise KeyError(f"no share column for code(s) {missing}; share columns: {share_columns(quotes)}")
    return quotes[[SHARE_PREFIX + c for c in codes]].astype(float).to_numpy()


def threshold_shares(shares: np.ndarray, threshold: float = 0.5, *, strict: bool = False) -> np.ndarray:
    """Hard 0/1 labels from shares: a code holds when its share is >= (or > with ``strict``) ``threshold``.

    Only ever called explicitly: nothing in the package thresholds shares on its own.
    """
    shares = np.asarray(shares, float)
    hard = (shares > threshold) if strict else (shares >= threshold)
    return np.where(np.isnan(shares), np.nan, hard.astype(float))


def brier(shares: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Mean squared difference per code between model probability and vote share (lower is better)."""
    return np.nanmean((np.asarray(probs, float) - np.asarray(shares, float)) ** 2, axis=0)


def cross_entropy(shares: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Binary cross-entropy per code with the shares as targets (the shares' own entropy is its floor)."""
    p = np.clip(np.asarray(shares, float), 0.0, 1.0)
    q = np.clip(np.asarray(probs, float), EPS, 1 - EPS)
    return np.nanmean(-(p * np.log(q) + (1 - p) * np.log(1 - q)), axis=0)


def jensen_shannon(shares: np.ndarray, probs: np.ndarray, *, multiclass: bool = False) -> np.ndarray:
    """Jensen–Shannon divergence (bits, 0..1): per code between Bernoulli(share) and Bernoulli(prob),
    or with ``multiclass`` per quote between the two distributions over codes (mean returned)."""

    def kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(a > 0, a * np.log2(np.maximum(a, EPS) / np.maximum(b, EPS)), 0.0)

    p, q = np.asarray(shares, float), np.asarray(probs, float)
    if multiclass:
        p = p / p.sum(axis=1, keepdims=True)
        q = q / q.sum(axis=1, keepdims=True)
        mid = (p + q) / 2
        return np.array(np.nanmean(0.5 * kl(p, mid).sum(axis=1) + 0.5 * kl(q, mid).sum(axis=1)))
    two = lambda x: np.stack([x, 1 - x], axis=-1)  # noqa: E731
    P, Q = two(p), two(q)
    M = (P + Q) / 2
    return np.nanmean(0.5 * kl(P, M).sum(axis=-1) + 0.5 * kl(Q, M).sum(axis=-1), axis=0)


def rater_agreement(shares: np.ndarray, n_raters: np.ndarray | float | None = None, *, multiclass: bool = False) -> np.ndarray:
    """Expected agreement of two different raters of the same quote, from the shares.

    Per code (binary: chose it or not) or, with ``multiclass``, over the whole distribution.
    With ``n_raters`` the pair is drawn without replacement, (n * sum p^2 - 1) / (n - 1); without
    it, with replacement (sum p^2), which overstates agreement by about 1/n.
    Returns per-quote values: (n, k), or (n,) with ``multiclass``.
    """
    p = np.asarray(shares, float)
    same = (p**2).sum(axis=1) if multiclass else p**2 + (1 - p) ** 2
    if n_raters is None:
        return same
    n = np.asarray(n_raters, float)
    n = n if multiclass or n.ndim == 0 else n[:, None]
    return (n * same - 1) / (n - 1)


def expected_agreement(shares: np.ndarray, probs: np.ndarray, *, multiclass: bool = False) -> np.ndarray:
    """Expected agreement of the model (drawing from its probabilities) with a random rater, per quote."""
    p, q = np.asarray(shares, float), np.asarray(probs, float)
    return (p * q).sum(axis=1) if multiclass else p * q + (1 - p) * (1 - q)


def soft_fleiss_kappa(shares: np.ndarray, n_raters: np.ndarray | float) -> float:
    """Fleiss' kappa among the raters over all codes, from shares times the number of raters."""
    p = np.asarray(shares, float)
    n = np.broadcast_to(np.asarray(n_raters, float), (p.shape[0],))
    return fleiss_kappa(p * n[:, None], as_counts=True).value


def interval_alpha(shares: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Krippendorff's alpha (interval level) per code between shares and model probabilities as two coders."""
    p, q = np.asarray(shares, float), np.asarray(probs, float)
    return np.array([krippendorff_alpha(np.vstack([p[:, j], q[:, j]]), level="interval").value for j in range(p.shape[1])])


def soft_scores(shares: np.ndarray, probs: np.ndarray, codes: Sequence[str], *, n_raters: np.ndarray | float | None = None) -> pd.DataFrame:
    """Per code: Brier, cross-entropy, Jensen–Shannon, interval alpha, and expected agreement of
    model and raters with a random rater (the raters' figure is the ceiling the model is read against)."""
    p, q = np.asarray(shares, float), np.asarray(probs, float)
    frame = pd.DataFrame({
        "code": list(codes),
        "brier": brier(p, q),
        "cross_entropy": cross_entropy(p, q),
        "jensen_shannon": jensen_shannon(p, q),
        "interval_alpha": interval_alpha(p, q),
        "agreement_model": np.nanmean(expected_agreement(p, q), axis=0),
        "agreement_raters": np.nanmean(rater_agreement(p, n_raters), axis=0),
        "mean_share": np.nanmean(p, axis=0),
    })
    frame["difference"] = frame["agreement_model"] - frame["agreement_raters"]
    return frame


def _soft_kappas(p: np.ndarray, q: np.ndarray, n: np.ndarray | None, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chance-corrected expected agreement, raters (Fleiss-style) and model (Cohen-style), per code.

    ``w`` (b, n_items) are resampling weights; returns two (b, k) arrays.
    """
    tot = w.sum(axis=1, keepdims=True)
    a_h = (w @ rater_agreement(p, n)) / tot
    a_m = (w @ expected_agreement(p, q)) / tot
    pbar, qbar = (w @ p) / tot, (w @ q) / tot
    pe_h = pbar**2 + (1 - pbar) ** 2
    pe_m = pbar * qbar + (1 - pbar) * (1 - qbar)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pe_h < 1, (a_h - pe_h) / (1 - pe_h), np.nan), np.where(pe_m < 1, (a_m - pe_m) / (1 - pe_m), np.nan)


def soft_standin(
    shares: np.ndarray,
    probs: np.ndarray,
    codes: Sequence[str],
    *,
    n_raters: np.ndarray | float | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Could the model stand in for one of the raters? Soft-label form, per code and macro.

    Raters: chance-corrected expected agreement of two different raters (Fleiss-style).
    Model: chance-corrected expected agreement of the model with a random rater (Cohen-style).
    ``difference`` = model - raters with a percentile bootstrap interval over quotes.
    """
    p, q = np.asarray(shares, float), np.asarray(probs, float)
    keep = ~(np.isnan(p).any(axis=1) | np.isnan(q).any(axis=1))
    p, q = p[keep], q[keep]
    n = None if n_raters is None else np.broadcast_to(np.asarray(n_raters, float), keep.shape)[keep]
    point_h, point_m = (v[0] for v in _soft_kappas(p, q, n, np.ones((1, len(p)))))
    rng = np.random.default_rng(seed)
    diffs = []
    for start in range(0, n_boot, 200):
        w = rng.multinomial(len(p), np.full(len(p), 1 / len(p)), size=min(200, n_boot - start)).astype(float)
        bh, bm = _soft_kappas(p, q, n, w)
        diffs.append(np.concatenate([bm - bh, np.nanmean(bm, axis=1, keepdims=True) - np.nanmean(bh, axis=1, keepdims=True)], axis=1))
    boot = np.concatenate(diffs) if diffs else np.empty((0, len(codes) + 1))
    with np.errstate(invalid="ignore"):
        low, high = np.nanquantile(boot, [(1 - ci) / 2, (1 + ci) / 2], axis=0) if len(boot) else (np.full(len(codes) + 1, np.nan),) * 2
    human = np.append(point_h, np.nanmean(point_h))
    model = np.append(point_m, np.nanmean(point_m))
    return pd.DataFrame({
        "code": [*codes, "(macro)"], "raters": human, "model": model, "difference": model - human,
        "ci_low": low, "ci_high": high, "n_items": int(keep.sum()),
    })
