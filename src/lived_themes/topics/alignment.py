"""How far topics line up with a human coder's codes: contingency table, NMI, ARI, purity, and a topic -> code map.

Codes are multi-label and topics are single-label, so a rule decides how a quote counts:

- ``multilabel="expand"`` (default): one (topic, code) pair per code the quote holds, so a quote with
  two codes counts twice, once under each; a quote with no code counts once under ``"(none)"``.
  Every code a coder gave is represented; quotes with many codes weigh more.
- ``multilabel="first"``: each quote counts once, under the first code it holds in codebook order
  (``"(none)"`` if it holds none). Every quote weighs the same; later codes are ignored.

Quotes the coder did not see (NaN rows) are left out. Outlier documents (topic ``-1``) form their
own cluster unless ``drop_outliers=True``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lived_themes.topics.base import OUTLIER, primary_codes

NONE_CODE = "(none)"
RULES = ("expand", "first")


def topic_code_pairs(
    topics: Sequence[int] | np.ndarray,
    labels: np.ndarray,
    *,
    multilabel: str = "expand",
    drop_outliers: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Paired (topic id, code index) arrays under the chosen rule; code index ``k`` means "(none)"."""
    if multilabel not in RULES:
        raise ValueError(f"multilabel must be one of {RULES}, got {multilabel!r}")
    topics = np.asarray(topics, dtype=int)
    labels = np.asarray(labels, dtype=float)
    if len(topics) != len(labels):
        raise ValueError(f"{len(topics)} topic ids for {len(labels)} label rows")
    k = labels.shape[1]
    seen = ~np.isnan(labels).all(axis=1) if k else np.ones(len(labels), bool)
    keep = seen & ((topics != OUTLIER) if drop_outliers else True)
    if multilabel == "first":
        first = primary_codes(labels[keep])
        return topics[keep], np.where(first < 0, k, first)
    held = np.nan_to_num(labels[keep]) > 0.5
    rows, cols = np.nonzero(held)
    empty = np.flatnonzero(~held.any(axis=1))
    t = np.concatenate([topics[keep][rows], topics[keep][empty]])
    c = np.concatenate([cols, np.full(len(empty), k)])
    order = np.argsort(np.concatenate([rows, empty]), kind="stable")  # quote order, for readable output
    return t[order], c[order]


def contingency_table(
    topics: Sequence[int] | np.ndarray,
    labels: np.ndarray,
    codes: Sequence[str],
    *,
    multilabel: str = "expand",
    drop_outliers: bool = False,
) -> pd.DataFrame:
    """Topic (rows) x code (columns, plus "(none)") counts under the chosen multi-label rule."""
    t, c = topic_code_pairs(topics, labels, multilabel=multilabel, drop_outliers=drop_outliers)
    columns = [*codes, NONE_CODE]
    all_topics = sorted(set(np.asarray(topics, dtype=int).tolist()) - ({OUTLIER} if drop_outliers else set()))
    table = pd.DataFrame(0, index=pd.Index(all_topics, name="topic"), columns=columns, dtype=int)
    for topic, code in zip(t, c):
        table.loc[topic, columns[code]] += 1
    return table


def purity(table: pd.DataFrame) -> float:
    """Share of pairs that fall in their topic's most common code (1.0 = every topic is one code)."""
    total = table.to_numpy().sum()
    return float(table.to_numpy().max(axis=1).sum() / total) if total else float("nan")


def alignment_scores(
    topics: Sequence[int] | np.ndarray,
    labels: np.ndarray,
    codes: Sequence[str],
    *,
    multilabel: str = "expand",
    drop_outliers: bool = False,
) -> dict[str, float]:
    """NMI, adjusted Rand index, purity and inverse purity of topics against one coder's codes."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    t, c = topic_code_pairs(topics, labels, multilabel=multilabel, drop_outliers=drop_outliers)
    table = contingency_table(topics, labels, codes, multilabel=multilabel, drop_outliers=drop_outliers)
    nonempty = table.loc[:, table.sum(axis=0) > 0]
    return {
        "nmi": float(normalized_mutual_info_score(c, t)) if len(t) else float("nan"),
        "ari": float(adjusted_rand_score(c, t)) if len(t) else float("nan"),
        "purity": purity(table),
        "inverse_purity": purity(nonempty.T) if nonempty.size else float("nan"),
        "n_pairs": int(len(t)),
        "n_quotes": int(np.unique(np.flatnonzero(~np.isnan(np.asarray(labels, float)).all(axis=1))).size),
        "n_topics": int(len(set(t.tolist()) - {OUTLIER})),
        "outlier_share": float(np.mean(np.asarray(topics) == OUTLIER)) if len(topics) else float("nan"),
    }


def topic_code_rates(
    topics: Sequence[int] | np.ndarray,
    labels: np.ndarray,
    *,
    smoothing: float = 1.0,
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The learned topic -> code map: P(code | topic) per code, shrunk toward the code's overall rate.

    rate[t, j] = (quotes in t holding j + smoothing * base[j]) / (quotes in t + smoothing), where
    base[j] is the share of all seen quotes holding j. Small topics lean on the base rate, so a
    three-quote topic cannot claim a code with certainty. Returns (topic ids incl. -1 if present,
    (T, k) rates, (k,) base rates); unseen rows (NaN) are ignored.
    """
    topics = np.asarray(topics, dtype=int)
    labels = np.asarray(labels, dtype=float)
    seen = ~np.isnan(labels).all(axis=1)
    y, t = np.nan_to_num(labels[seen]), topics[seen]
    base = y.mean(axis=0) if len(y) else np.zeros(labels.shape[1])
    ids = sorted(set(topics.tolist()))
    rates = np.empty((len(ids), labels.shape[1]))
    for row, topic in enumerate(ids):
        member = y[t == topic]
        rates[row] = (member.sum(axis=0) + smoothing * base) / (len(member) + smoothing) if (len(member) + smoothing) else base
    return ids, rates, base


def best_codes(table: pd.DataFrame) -> pd.DataFrame:
    """Per topic: the code it most often holds, that count, its share of the topic and of the code, and lift.

    ``share``: of the topic's (quote, code) pairs, the part holding the best code (how pure the topic is).
    ``share_of_code``: of all pairs holding that code, the part inside this topic (how much of the code
    the topic gathers). ``lift``: ``share`` over the code's share of all pairs (1 = no more than chance).
    """
    counts = table.to_numpy()
    totals = counts.sum(axis=1)
    column_totals = counts.sum(axis=0)
    grand = counts.sum()
    top = counts.argmax(axis=1)
    best = counts[np.arange(len(top)), top]
    share = np.where(totals > 0, best / np.maximum(totals, 1), np.nan)
    base = column_totals[top] / grand if grand else np.full(len(top), np.nan)
    return pd.DataFrame(
        {
            "topic": table.index,
            "best_code": [table.columns[j] for j in top],
            "count": best,
            "share": share,
            "share_of_code": np.where(column_totals[top] > 0, best / np.maximum(column_totals[top], 1), np.nan),
            "lift": np.where(base > 0, share / np.where(base > 0, base, 1), np.nan),
        }
    )


def code_coverage(table: pd.DataFrame, *, min_lift: float = 2.0, min_share_of_code: float = 0.1) -> pd.DataFrame:
    """Per code: the topics that carry it, and whether any does (a code no topic carries is "uncaptured").

    A topic carries a code when the code is the topic's best code, or when the code is at least
    ``min_lift`` times more common in the topic than overall and the topic holds at least
    ``min_share_of_code`` of the code's pairs. The outlier topic (-1) carries nothing. Codes with no
    pairs at all are reported with ``pairs = 0`` and ``captured = False``; ``"(none)"`` is left out.
    Sorted: uncaptured codes first, then by pairs.
    """
    topics = [t for t in table.index if t != OUTLIER]
    sub = table.loc[topics] if topics else table.iloc[:0]
    counts = sub.to_numpy(dtype=float)
    all_counts = table.to_numpy(dtype=float)
    grand = all_counts.sum()
    best = set(zip(sub.index, sub.columns[counts.argmax(axis=1)])) if len(sub) else set()
    rows = []
    for j, code in enumerate(table.columns):
        if code == NONE_CODE:
            continue
        pairs = all_counts[:, j].sum()
        carried = []
        for i, topic in enumerate(sub.index):
            n = counts[i, j]
            if n == 0:
                continue
            of_code = n / pairs
            lift = (n / counts[i].sum()) / (pairs / grand)
            if (topic, code) in best or (lift >= min_lift and of_code >= min_share_of_code):
                carried.append((topic, of_code, lift))
        carried.sort(key=lambda c: -c[1])
        rows.append(
            {
                "code": code,
                "pairs": int(pairs),
                "captured": bool(carried),
                "carried_by": " ".join(str(t) for t, _, _ in carried),
                "share_carried": float(sum(c[1] for c in carried)),
                "detail": "; ".join(f"{t}: {of:.0%} of code, lift {lift:.1f}" for t, of, lift in carried),
            }
        )
    out = pd.DataFrame(rows, columns=["code", "pairs", "captured", "carried_by", "share_carried", "detail"])
    return out.sort_values(["captured", "pairs"], ascending=[True, False], kind="stable").reset_index(drop=True)
