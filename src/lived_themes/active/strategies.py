"""Which uncoded quotes to code next: multi-label uncertainty, diversity, and mixes of the two.

Every strategy takes the coder's scores on the pool (``proba``, (n, k)) and its decision (``coder.decision``:
per-code thresholds, and the rule that turns scores into codes, so ``top_k`` and single-label mode count),
and, where it needs them, feature vectors of the pool and of the labelled quotes, and returns the
indices of the pool rows to code next, best first. Nothing here trains a model or reads a file, so
a simulation and the review command choose the same way.

small-text (webis-de, PyPI ``small-text`` 1.4) implements several of these, but its query API takes
its own classifier and dataset wrappers and pulls ``dill``; the formulas are short, so they are
written out here with numpy and cited, threshold-aware (our coders tune a threshold per code).

Strategies:

``random``
    Uniform choice: the baseline every strategy must beat.
``uncertainty-mean`` / ``uncertainty-max``
    Per-code closeness of the score to that code's threshold, averaged (AVG) or maximised (MAX) over
    codes: Esuli & Sebastiani (2009), "Active learning strategies for multi-label text classification",
    ECIR, LNCS 5478; MAX is Brinker (2006), "On active learning in multi-label classification".
``cardinality``
    Label cardinality inconsistency: how far the number of predicted codes is from the mean number of
    codes per labelled quote, ties broken by mean uncertainty. Li & Guo (2013), "Active learning with
    multi-label SVM classification", IJCAI.
``cvirs``
    Category vector inconsistency and ranking of scores: Borda-aggregated per-code margin ranks times
    the entropy distance of the predicted code vector from the labelled ones. Reyes, Morell & Ventura
    (2018), "Effective active learning strategy for multi-label learning", Neurocomputing 273.
``kmeans``
    Diversity only: k-means with one cluster per quote to choose, the quote nearest each centre.
``coreset``
    Diversity only: greedy k-centre cover of the pool given the labelled quotes. Sener & Savarese (2018),
    "Active learning for convolutional neural networks: a core-set approach", ICLR.
``weighted-kmeans``
    Uncertainty-weighted diversity: the 10·n most uncertain quotes, clustered by k-means weighted by
    uncertainty, nearest each centre. Zhdanov (2019), "Diverse mini-batch active learning", arXiv:1901.05954.
``cluster-margin``
    The most uncertain 10·n quotes, taken round-robin from their clusters, smallest cluster first.
    Citovsky et al. (2021), "Batch active learning at scale", NeurIPS. (They cluster once with
    average-linkage HAC; here k-means on the pool each round, which needs no n² memory.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from lived_themes.encoders.sentence import encode

from lived_themes.coders.decision import Decision

STRATEGIES = ("random", "uncertainty-mean", "uncertainty-max", "cardinality", "cvirs",
              "kmeans", "coreset", "weighted-kmeans", "cluster-margin")
#: strategies that need feature vectors of the pool (and, for coreset, of the labelled quotes)
NEEDS_FEATURES = {"kmeans", "coreset", "weighted-kmeans", "cluster-margin"}
#: how many candidates the mixes draw from, per quote to choose (Zhdanov's beta, Citovsky's k_m / k_t)
CANDIDATES_PER_PICK = 10


def closeness(proba: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(n, k) in [0, 1]: 1 at a code's threshold, falling linearly to 0 at a score of 0 or 1.

    Each side of the threshold is scaled on its own, so a code tuned to threshold 0.2 is as uncertain
    at 0.2 as a code at 0.5 is at 0.5.
    """
    p = np.clip(np.asarray(proba, dtype=float), 0.0, 1.0)
    t = np.clip(np.asarray(thresholds, dtype=float)[None, :], 1e-6, 1 - 1e-6)
    return np.where(p < t, p / t, (1.0 - p) / (1.0 - t))


def uncertainty(proba: np.ndarray, thresholds: np.ndarray, how: str = "mean") -> np.ndarray:
    """(n,) per-quote uncertainty: the mean (AVG) or max (MAX) of per-code closeness."""
    near = closeness(proba, thresholds)
    if near.shape[1] == 0:
        return np.zeros(near.shape[0])
    return near.max(axis=1) if how == "max" else near.mean(axis=1)


def cardinality_inconsistency(proba: np.ndarray, decision: Decision | np.ndarray, labelled_y: np.ndarray | None) -> np.ndarray:
    """(n,) |predicted number of codes − mean number of codes per labelled quote| (Li & Guo 2013)."""
    predicted = _decision(decision).codes_from_scores(proba).sum(axis=1)
    mean = float(np.asarray(labelled_y).sum(axis=1).mean()) if labelled_y is not None and len(labelled_y) else 1.0
    return np.abs(predicted - mean)


def _entropy(numerator: np.ndarray, denominator: np.ndarray | float, eps: float = 1e-8) -> np.ndarray:
    ratio = numerator / (denominator + eps)
    return -ratio * np.log2(ratio + eps)


def vector_inconsistency(predicted: np.ndarray, labelled_y: np.ndarray, eps: float = 1e-8, chunk: int = 1024) -> np.ndarray:
    """(n,) mean entropy distance of each predicted 0/1 code vector from the labelled vectors (Reyes et al. 2018, eq. 6–9)."""
    y = np.asarray(labelled_y, dtype=float)
    k = y.shape[1]
    if not len(y) or k == 0:
        return np.ones(len(predicted))
    ones_l = y.sum(axis=1)
    h_l = _entropy(ones_l, k) + _entropy(k - ones_l, k)
    out = np.empty(len(predicted))
    for start in range(0, len(predicted), chunk):
        p = np.asarray(predicted[start:start + chunk], dtype=float)
        a, b = p @ y.T, (1 - p) @ y.T
        c, d = p @ (1 - y).T, (1 - p) @ (1 - y).T
        ones_p = p.sum(axis=1)
        h_p = (_entropy(ones_p, k) + _entropy(k - ones_p, k))[:, None]
        joint = _entropy(b + c, k) + _entropy(a + d, k)
        joint += (b + c) / k * (_entropy(b, b + c) + _entropy(c, b + c))
        joint += (a + d) / k * (_entropy(a, a + d) + _entropy(d, a + d))
        distance = (2 * joint - h_p - h_l[None, :]) / (joint + eps)
        distance[(b + c) == k] = 1.0  # every code differs: as far as can be
        out[start:start + chunk] = distance.mean(axis=1)
    return out


def margin_rank_score(proba: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(n,) Borda count of per-code uncertainty ranks, scaled to [0, 1] (Reyes et al. 2018, eq. 4–5)."""
    n, k = proba.shape
    if n < 2 or k == 0:
        return np.ones(n)
    margin = 1.0 - closeness(proba, thresholds)
    ranks = np.argsort(np.argsort(margin, axis=0, kind="stable"), axis=0)  # 0 = smallest margin
    return (n - ranks).sum(axis=1) / (k * (n - 1))


def _nearest_to_centres(features: Any, n: int, seed: int, weights: np.ndarray | None = None) -> np.ndarray:
    from sklearn.cluster import KMeans

    x = np.asarray(features, dtype=float)
    n = min(n, len(x))
    if n == 0:
        return np.zeros(0, dtype=int)
    model = KMeans(n_clusters=n, n_init=1, random_state=seed).fit(x, sample_weight=weights)
    distances = model.transform(x)  # (len(x), n) distances to each centre
    chosen: list[int] = []
    taken: set[int] = set()
    for centre in np.argsort(np.bincount(model.labels_, minlength=n))[::-1]:  # biggest cluster first
        for i in np.argsort(distances[:, centre]):
            if int(i) not in taken:
                chosen.append(int(i))
                taken.add(int(i))
                break
    return np.asarray(chosen, dtype=int)


def greedy_coreset(features: np.ndarray, labelled_features: np.ndarray | None, n: int, seed: int = 0) -> np.ndarray:
    """Greedy k-centre: repeatedly take the pool point farthest from everything chosen or labelled (Sener & Savarese 2018)."""
    x = np.asarray(features, dtype=float)
    n = min(n, len(x))
    if n == 0:
        return np.zeros(0, dtype=int)
    if labelled_features is not None and len(labelled_features):
        centres = np.asarray(labelled_features, dtype=float)
        nearest = np.full(len(x), np.inf)
        for start in range(0, len(centres), 512):
            block = centres[start:start + 512]
            nearest = np.minimum(nearest, ((x[:, None, :] - block[None, :, :]) ** 2).sum(axis=2).min(axis=1))
        chosen: list[int] = []
    else:
        first = int(np.random.default_rng(seed).integers(len(x)))
        chosen = [first]
        nearest = ((x - x[first]) ** 2).sum(axis=1)
    while len(chosen) < n:
        nearest[chosen] = -1.0
        pick = int(np.argmax(nearest))
        chosen.append(pick)
        nearest = np.minimum(nearest, ((x - x[pick]) ** 2).sum(axis=1))
    return np.asarray(chosen, dtype=int)


def _cluster_round_robin(features: np.ndarray, candidates: np.ndarray, n: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    x = np.asarray(features, dtype=float)
    n_clusters = max(1, min(len(x), 2 * n))
    labels = KMeans(n_clusters=n_clusters, n_init=1, random_state=seed).fit_predict(x)
    groups: dict[int, list[int]] = {}
    for i in candidates:  # candidates arrive most uncertain first, so each cluster's list is too
        groups.setdefault(int(labels[i]), []).append(int(i))
    order = sorted(groups.values(), key=len)  # smallest cluster first
    chosen: list[int] = []
    while len(chosen) < n and any(order):
        for members in order:
            if members and len(chosen) < n:
                chosen.append(members.pop(0))
    return np.asarray(chosen, dtype=int)


def _decision(decision: Decision | np.ndarray) -> Decision:
    return decision if isinstance(decision, Decision) else Decision(np.asarray(decision, dtype=float))


def select_batch(strategy: str, n: int, *, proba: np.ndarray, decision: Decision | None = None, thresholds: np.ndarray | None = None,
                 features: Any = None, labelled_features: Any = None, labelled_y: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` pool rows to code next (fewer if the pool is smaller), best first.

    ``decision`` is the coder's (``coder.decision``): its thresholds say how uncertain a score is, and
    its rule (``top_k``, single-label) which codes a quote would get. Plain ``thresholds`` still work.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {list(STRATEGIES)}")
    if decision is None:
        if thresholds is None:
            raise ValueError("select_batch needs the coder's decision (or its thresholds)")
        decision = _decision(thresholds)
    proba = np.asarray(proba, dtype=float)
    thresholds = np.asarray(decision.thresholds, dtype=float)
    size = len(proba)
    n = min(int(n), size)
    if n <= 0:
        return np.zeros(0, dtype=int)
    if strategy in NEEDS_FEATURES and (features is None or len(features) != size):
        raise ValueError(f"strategy {strategy!r} needs one feature vector per pool quote")
    rng = np.random.default_rng(seed)
    if strategy == "random":
        return rng.permutation(size)[:n]
    u = uncertainty(proba, thresholds, "max" if strategy == "uncertainty-max" else "mean")
    jitter = rng.random(size) * 1e-9  # ties (e.g. a constant coder) fall in random order, not file order
    if strategy in ("uncertainty-mean", "uncertainty-max"):
        return np.argsort(-(u + jitter), kind="stable")[:n]
    if strategy == "cardinality":
        lci = cardinality_inconsistency(proba, decision, labelled_y)
        return np.lexsort((-(u + jitter), -lci))[:n]
    if strategy == "cvirs":
        predicted = decision.codes_from_scores(proba).astype(float)
        labelled = labelled_y if labelled_y is not None else np.zeros((0, proba.shape[1]))
        score = margin_rank_score(proba, thresholds) * vector_inconsistency(predicted, labelled)
        return np.argsort(-(score + jitter), kind="stable")[:n]
    x = np.asarray(features, dtype=float)
    if strategy == "kmeans":
        return _nearest_to_centres(x, n, seed)
    if strategy == "coreset":
        return greedy_coreset(x, None if labelled_features is None else np.asarray(labelled_features, dtype=float), n, seed)
    candidates = np.argsort(-(u + jitter), kind="stable")[:min(size, CANDIDATES_PER_PICK * n)]
    if strategy == "weighted-kmeans":
        local = _nearest_to_centres(x[candidates], n, seed, weights=np.maximum(u[candidates], 1e-6))
        return candidates[local]
    return _cluster_round_robin(x, candidates, n, seed)  # cluster-margin


def text_features(texts: list[str], *, kind: str = "tfidf", dims: int = 100, seed: int = 0, encoder: str | None = None) -> np.ndarray:
    """Unit-length vectors for diversity: TF-IDF reduced by truncated SVD (LSA, no model needed), or sentence embeddings."""
    if kind == "embeddings":
        return encode(texts, encoder=encoder, normalize=True)
    if kind != "tfidf":
        raise ValueError("features must be 'tfidf' or 'embeddings'")
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    x = TfidfVectorizer(sublinear_tf=True, min_df=1, ngram_range=(1, 1)).fit_transform(texts)
    components = min(dims, x.shape[1] - 1, x.shape[0] - 1)
    if components < 1:
        return normalize(x.toarray())
    return normalize(TruncatedSVD(n_components=components, random_state=seed).fit_transform(x))
