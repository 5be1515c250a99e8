"""The adjudication queue: where coders (the model included) disagree, and the researcher's decisions.

``disagreement_queue`` lists every (quote, code) on which the coders who saw the quote did not all
say the same, with who said what and the model's score. Order: most informative decision first,
where "informative" means the decision resolves the most uncertainty:

1. ``vote_entropy``: the binary entropy (bits) of the share of coders, the model counted as one
   coder, who gave the code. A 3-3 split (1.0) comes before a 5-1 split (0.65): settling it changes
   most about what the code means on this quote;
2. ties broken by ``model_surprise`` = |model score - human share of yes|: a confident model that
   contradicts the humans points at a model error or a label error, both worth a look;
3. then by code and quote id, so the order is reproducible.

``rank_in_code`` numbers the queue within each code in that order (the report shows the top items
per code, by id only). The researcher fills the ``decision`` column (1/0, yes/no, true/false;
blank = not decided); ``adjudicated_matrix`` turns the decisions (read by
:func:`lived_themes.workflows.adjudicate.read_decisions`) into a coder. Undecided items are filled only
by a strict human majority; an even human split stays a tie for a person to decide (``undecided_ties``),
never filled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lived_themes.errors import InputError

COLUMNS = ["quote_id", "code", "rank_in_code", "vote_entropy", "model_surprise", "n_coders", "n_yes", "n_no",
           "human_share_yes", "model_said", "model_score", "said_yes", "said_no", "decision"]
YES = {"1", "1.0", "yes", "y", "true", "t"}
NO = {"0", "0.0", "no", "n", "false", "f"}


def _entropy(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return np.nan_to_num(h)


def disagreement_queue(labels: Mapping[str, np.ndarray], codes: Sequence[str], quote_ids: Sequence[str], *,
                       humans: Sequence[str], model: str | None = None, model_scores: np.ndarray | None = None) -> pd.DataFrame:
    """Every (quote, code) where the coders who saw the quote disagree, most informative first.

    ``labels`` maps coder -> (n, k) 0/1 with NaN rows for quotes not seen; ``model`` (optional) is
    one more voter, with ``model_scores`` (n, k) its scores (probabilities) where it has them.
    """
    voters = list(humans) + ([model] if model else [])
    if len(voters) < 2:
        raise ValueError(f"an adjudication queue needs two or more coders (the model included); got {voters}")
    stack = np.stack([np.asarray(labels[c], dtype=float) for c in voters])  # (coders, n, k)
    seen = ~np.isnan(stack)
    yes = np.where(seen, stack > 0.5, False)
    n_coders = seen.sum(axis=0)
    n_yes = yes.sum(axis=0)
    disagree = (n_coders >= 2) & (n_yes > 0) & (n_yes < n_coders)
    h_seen, h_yes = seen[: len(humans)].sum(axis=0), yes[: len(humans)].sum(axis=0)
    rows = []
    for i, j in zip(*np.nonzero(disagree)):
        said_yes = [voters[c] for c in range(len(voters)) if yes[c, i, j]]
        said_no = [voters[c] for c in range(len(voters)) if seen[c, i, j] and not yes[c, i, j]]
        share = h_yes[i, j] / h_seen[i, j] if h_seen[i, j] else np.nan
        model_said = float(stack[-1, i, j]) if model else np.nan
        score = float(model_scores[i, j]) if model_scores is not None and model else np.nan
        rows.append({"quote_id": str(quote_ids[i]), "code": codes[j], "n_coders": int(n_coders[i, j]),
                     "n_yes": int(n_yes[i, j]), "n_no": int(n_coders[i, j] - n_yes[i, j]), "human_share_yes": share,
                     "model_said": model_said, "model_score": score,
                     "said_yes": ";".join(said_yes), "said_no": ";".join(said_no), "decision": ""})
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in ("rank_in_code", "vote_entropy", "model_surprise")])
    frame["vote_entropy"] = _entropy(frame["n_yes"].to_numpy(float) / np.maximum(frame["n_coders"].to_numpy(float), 1))
    basis = frame["model_score"].where(frame["model_score"].notna(), frame["model_said"])
    frame["model_surprise"] = (basis - frame["human_share_yes"]).abs().fillna(0.0)
    frame = frame.sort_values(["vote_entropy", "model_surprise", "code", "quote_id"], ascending=[False, False, True, True],
                              kind="stable").reset_index(drop=True)
    frame["rank_in_code"] = frame.groupby("code").cumcount() + 1
    return frame[COLUMNS]


def top_per_code(queue: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The first ``n`` queue rows of each code (ids and counts only)."""
    return queue[queue["rank_in_code"] <= n].sort_values(["code", "rank_in_code"]).reset_index(drop=True)


def adjudicated_matrix(labels: Mapping[str, np.ndarray], codes: Sequence[str], quote_ids: Sequence[str], decisions: pd.DataFrame, *,
                       humans: Sequence[str], undecided: str = "majority", source: str | Path | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """The adjudicated coder: the researcher's decision where given, else a strict human majority; ties stay open.

    A (quote, code) outside the queue had every coder agree, so the majority is that agreed value.
    ``undecided="majority"`` fills an undecided disagreement only when more than half of the humans who
    saw the quote agree (2 of 3, never 1 of 2); a tie is not filled: a quote with an undecided tie is
    left uncoded by the adjudicated coder (NaN row) until a human decides it, and the ties are listed
    by :func:`undecided_ties`. ``"error"`` refuses while any disagreement is undecided. Quotes no human
    saw stay unseen (NaN). Returns the matrix and counts of where each cell came from.
    """
    if undecided not in ("majority", "error"):
        raise ValueError(f"undecided must be 'majority' or 'error', not {undecided!r}")
    stack = np.stack([np.asarray(labels[h], dtype=float) for h in humans])
    seen = ~np.isnan(stack)
    n_seen = seen.sum(axis=0)
    n_yes = np.where(seen, stack > 0.5, False).sum(axis=0)
    matrix = np.where(n_seen > 0, (2 * n_yes > n_seen).astype(float), np.nan)
    matrix[(n_seen == 0).all(axis=1)] = np.nan
    row_of = {str(q): i for i, q in enumerate(quote_ids)}
    col_of = {c: j for j, c in enumerate(codes)}
    decided = np.zeros(matrix.shape, dtype=bool)
    for q, c, d, pos in decisions[["quote_id", "code", "decision", "row"]].itertuples(index=False):
        if q not in row_of:
            raise InputError(f"quote {q} is not in this run's corpus", file=source, row=int(pos), field="quote_id")
        if c not in col_of:
            raise InputError(f"code {c} is not among the run's codes {list(codes)}", file=source, row=int(pos), field="code")
        i = row_of[q]
        if np.isnan(matrix[i]).all():
            matrix[i] = 0.0  # the researcher decided on a quote no human coded: it is now seen
        matrix[i, col_of[c]] = d
        decided[i, col_of[c]] = True
    disagree = (n_seen >= 2) & (n_yes > 0) & (n_yes < n_seen)
    open_ = disagree & ~decided
    if undecided == "error" and open_.any():
        i, j = map(int, np.argwhere(open_)[0])
        raise InputError(f"{int(open_.sum())} human disagreement(s) have no decision, e.g. quote {quote_ids[i]} code {codes[j]}"
                         " (use --undecided majority to fill those with a strict human majority; ties stay open)", file=source,
                         field="decision")
    ties = open_ & (2 * n_yes == n_seen)
    matrix[ties.any(axis=1)] = np.nan  # a coder codes a whole quote: one open tie leaves the quote for a human
    counts = {"decided": int(len(decisions)), "filled_by_strict_majority": int((open_ & ~ties).sum()),
              "ties_undecided": int(ties.sum()), "quotes_left_for_ties": int(ties.any(axis=1).sum()),
              "quotes": int((~np.isnan(matrix).all(axis=1)).sum())}
    return matrix, counts


def undecided_ties(labels: Mapping[str, np.ndarray], codes: Sequence[str], quote_ids: Sequence[str], decisions: pd.DataFrame, *,
                   humans: Sequence[str]) -> pd.DataFrame:
    """Every undecided (quote, code) where the humans who saw the quote split evenly: for a human to decide.

    Columns: quote_id, code, n_yes, n_no, said_yes, said_no, decision (blank, to fill); ids and coder names only.
    """
    stack = np.stack([np.asarray(labels[h], dtype=float) for h in humans])
    seen = ~np.isnan(stack)
    yes = np.where(seen, stack > 0.5, False)
    n_seen, n_yes = seen.sum(axis=0), yes.sum(axis=0)
    done = set(zip(decisions["quote_id"].astype(str), decisions["code"].astype(str)))
    rows = []
    for i, j in zip(*np.nonzero((n_seen >= 2) & (2 * n_yes == n_seen))):
        if (str(quote_ids[i]), str(codes[j])) in done:
            continue
        rows.append({"quote_id": str(quote_ids[i]), "code": codes[j], "n_yes": int(n_yes[i, j]), "n_no": int(n_seen[i, j] - n_yes[i, j]),
                     "said_yes": ";".join(h for h, s, y in zip(humans, seen[:, i, j], yes[:, i, j]) if y),
                     "said_no": ";".join(h for h, s, y in zip(humans, seen[:, i, j], yes[:, i, j]) if s and not y),
                     "decision": ""})
    return pd.DataFrame(rows, columns=["quote_id", "code", "n_yes", "n_no", "said_yes", "said_no", "decision"])
