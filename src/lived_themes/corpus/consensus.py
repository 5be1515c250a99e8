"""Consensus of several coders: majority, union, or one named coder taken as the reference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from lived_themes.corpus.model import Corpus, annotations_from_matrix
from lived_themes.corpus.validate import CODER


def consensus_matrix(matrices: Sequence[np.ndarray], rule: str) -> np.ndarray:
    """Combine coder matrices (NaN rows = not seen). Quotes nobody saw stay NaN.

    majority: a code holds when more than half of the coders who saw the quote assigned it.
    union: a code holds when any coder who saw the quote assigned it.
    """
    stack = np.stack(matrices)  # coders x quotes x codes
    seen = ~np.isnan(stack)
    votes = np.nansum(stack, axis=0)
    n_seen = seen.sum(axis=0)
    if rule == "majority":
        result = (votes * 2 > n_seen).astype(float)
    elif rule == "union":
        result = (votes > 0).astype(float)
    else:
        raise ValueError(f"unknown consensus rule {rule!r}: use 'majority', 'union' or 'coder:NAME'")
    result[n_seen == 0] = np.nan
    return result


def consensus(corpus: Corpus, rule: str = "majority", *, coders: Sequence[str] | None = None, name: str | None = None) -> Corpus:
    """A copy of the corpus with a consensus coder added (default name ``consensus:<rule>``).

    ``rule`` is 'majority', 'union', or 'coder:NAME' to take one coder as the reference.
    By default only human coders vote; models never do unless named in ``coders``.
    """
    codes = corpus.codes
    if rule.startswith("coder:"):
        reference = rule.split(":", 1)[1]
        if reference not in corpus.coders:
            raise ValueError(f"no coder {reference!r}; coders: {corpus.coders}")
        matrix = corpus.label_matrix(reference, codes)
    else:
        voters = list(coders) if coders is not None else corpus.human_coders
        if not voters:
            raise ValueError("no coders to take a consensus of")
        matrix = consensus_matrix([corpus.label_matrix(c, codes) for c in voters], rule)
    label = name or f"consensus:{rule}"
    new = annotations_from_matrix(matrix, corpus.quote_ids, codes, label)
    kept = corpus.annotations[corpus.annotations[CODER] != label]
    return replace(corpus, annotations=pd.concat([kept, new], ignore_index=True))
