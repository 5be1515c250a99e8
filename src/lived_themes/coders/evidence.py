"""Evidence for every code: the part of a quote that most supports each code the coder gave it.

The quote is cut into sentences (spaCy's blank English pipeline with its rule-based sentencizer, so no
model is needed) or clauses (sentences cut again at ``; : — –`` and at a comma before a conjunction),
every span is scored by the SAME coder that coded the quote, all quotes' spans in one batched call, and
each predicted code gets its highest-scoring span. A span is always a verbatim substring of the quote,
given as character offsets; a quote of one span is its own evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from lived_themes.coders.decision import chosen_names, decision_of

if TYPE_CHECKING:
    import pandas as pd

UNITS = ("sentence", "clause")
_CLAUSE_BREAKS = {";", ":", "—", "–"}
_CONJUNCTIONS = {"but", "and", "because", "although", "though", "so", "while", "whereas", "however", "yet", "or"}


@dataclass(frozen=True)
class Evidence:
    """One code's evidence: ``quote[start:end] == text``; ``score`` is the coder's score for the code on the span."""

    start: int
    end: int
    text: str
    score: float | None

    def offsets(self) -> dict[str, int]:
        return {"start": self.start, "end": self.end}


@lru_cache(maxsize=1)
def _sentencizer() -> Any:
    import spacy

    nlp = spacy.blank("en")  # its own pipeline: extract's cached blank one must not gain a component
    nlp.add_pipe("sentencizer")
    return nlp


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def spans(text: str, unit: str = "sentence") -> list[tuple[int, int]]:
    """Character (start, end) of each sentence or clause, whitespace trimmed, in order."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}")
    nlp = _sentencizer()
    out: list[tuple[int, int]] = []
    for lo, hi in _pieces(text, min(MAX_PIECE, nlp.max_length)):
        for sent in nlp(text[lo:hi]).sents:
            cuts = [lo + sent.start_char]
            if unit == "clause":
                tokens = list(sent)
                for i, token in enumerate(tokens[:-1]):
                    nxt = tokens[i + 1]
                    if token.text in _CLAUSE_BREAKS or (token.text == "," and nxt.lower_ in _CONJUNCTIONS):
                        cuts.append(lo + token.idx + len(token.text))
            cuts.append(lo + sent.end_char)
            for a, b in zip(cuts, cuts[1:]):
                piece = _trim(text, a, b)
                if piece is not None and any(ch.isalnum() for ch in text[piece[0]:piece[1]]):
                    out.append(piece)
    return out


#: Most characters given to spaCy at once. Its ``max_length`` (1,000,000) refuses a longer text outright (E088),
#: so a very long quote is cut into bounded pieces, at a line break or space, and each is split on its own.
MAX_PIECE = 100_000


def _pieces(text: str, size: int) -> list[tuple[int, int]]:
    """(start, end) of consecutive pieces of at most ``size`` characters, cut after a newline or space when there is one."""
    out: list[tuple[int, int]] = []
    start = 0
    while len(text) - start > size:
        window = (start + size // 2, start + size)
        cut = text.rfind("\n", *window)
        if cut < 0:
            cut = text.rfind(" ", *window)
        cut = start + size if cut < 0 else cut + 1
        out.append((start, cut))
        start = cut
    out.append((start, len(text)))
    return out


def find_evidence(coder: Any, texts: Sequence[str], *, codes: Sequence[Sequence[str]] | None = None,
                  quote_scores: np.ndarray | None = None, metadata: pd.DataFrame | None = None,
                  unit: str = "sentence", batch_size: int = 1024) -> list[dict[str, Evidence]]:
    """Per quote, ``{code: Evidence}`` for each code in ``codes`` (default: the codes the coder's decision gives it).

    Spans are only ever given for the codes a quote was given, so in single-label mode or with
    ``top_k`` a quote never gets evidence for a code it was not coded with.

    ``quote_scores`` (the coder's scores on the whole quotes, when already computed) saves a call and
    gives the score of a one-span quote's evidence. ``metadata`` rows (for coders that read context
    columns) are repeated for each span of their quote.
    """
    texts = list(texts)
    metadata = _context_only(coder, metadata)
    order = list(coder.codes_)
    column = {c: j for j, c in enumerate(order)}
    if codes is None:
        scores = coder.predict_proba(texts, metadata=metadata) if quote_scores is None else np.asarray(quote_scores)
        codes = decision_of(coder).chosen(scores, order)  # the coder's own rule: thresholds, top_k, or top code / none
        quote_scores = scores
    if len(codes) != len(texts):
        raise ValueError("codes must hold one list of codes per text")
    cut = [spans(t, unit) if wanted else [] for t, wanted in zip(texts, codes)]
    several = [i for i, s in enumerate(cut) if len(s) > 1]
    flat = [(i, a, b) for i in several for a, b in cut[i]]
    span_scores = np.zeros((len(flat), len(order)))
    for start in range(0, len(flat), batch_size):
        part = flat[start:start + batch_size]
        meta = None
        if metadata is not None:
            meta = metadata.iloc[[i for i, _, _ in part]].reset_index(drop=True)
        span_scores[start:start + len(part)] = coder.predict_proba([texts[i][a:b] for i, a, b in part], metadata=meta)
    first = {}
    for row, (i, _, _) in enumerate(flat):
        first.setdefault(i, row)
    out: list[dict[str, Evidence]] = []
    for i, text in enumerate(texts):
        found: dict[str, Evidence] = {}
        for code in codes[i]:
            if code not in column:
                raise ValueError(f"code {code!r} is not one of the coder's codes")
            j = column[code]
            if i in first:
                rows = range(first[i], first[i] + len(cut[i]))
                best = max(rows, key=lambda r: span_scores[r, j])  # first span wins a tie
                _, a, b = flat[best]
                score: float | None = float(span_scores[best, j])
            else:
                a, b = 0, len(text)
                score = float(quote_scores[i, j]) if quote_scores is not None else None
            piece = text[a:b]
            assert text[a:b] == piece and 0 <= a < b <= len(text), "evidence must be a verbatim substring of its quote"
            found[code] = Evidence(a, b, piece, score)
        out.append(found)
    return out


def _context_only(coder: Any, metadata: pd.DataFrame | None) -> pd.DataFrame | None:
    """The metadata columns the coder reads with each text (its context columns), or None: metadata rows are
    repeated once per span, and repeating a megabyte text column thousands of times costs minutes (P10)."""
    if metadata is None:
        return None
    wanted = [c for c in getattr(coder, "input_columns", lambda: list(metadata.columns))() if c in metadata.columns]
    return metadata[wanted] if wanted else None


def evidence_offsets(found: dict[str, Evidence], *, with_text: bool = False) -> dict[str, dict[str, Any]]:
    """JSON-ready ``{code: {start, end[, text]}}``; text only for the researcher's own output file, never for logs or reports."""
    return {code: {**e.offsets(), **({"text": e.text} if with_text else {})} for code, e in found.items()}


def evidence_rows(coder: Any, texts: Sequence[str], scores: np.ndarray, *, metadata: pd.DataFrame | None = None,
                  unit: str = "sentence", predicted: np.ndarray | None = None) -> list[dict[str, dict[str, int]]]:
    """Offsets only, per quote, for the predicted codes (the (n, k) 0/1 ``predicted``, else the coder's decision on
    ``scores``): what a run's predictions.jsonl records (no text)."""
    codes = None if predicted is None else chosen_names(predicted, coder.codes_)
    found = find_evidence(coder, texts, codes=codes, quote_scores=scores, metadata=metadata, unit=unit)
    return [evidence_offsets(f) for f in found]


def evidence_examples(quote_ids: Sequence[str], codes: Sequence[str], labels: np.ndarray, predicted: np.ndarray,
                      evidence: Sequence[dict[str, dict[str, int]] | None], *, per_code: int = 1) -> list[dict[str, Any]]:
    """For a report: per code, the first quotes the model coded correctly, as id and span offsets (never text)."""
    out: list[dict[str, Any]] = []
    for j, code in enumerate(codes):
        hits = [i for i in range(len(quote_ids)) if predicted[i, j] == 1 and labels[i, j] == 1
                and evidence[i] is not None and code in (evidence[i] or {})]
        for i in hits[:per_code]:
            where = evidence[i][code]  # type: ignore[index]
            out.append({"code": code, "quote_id": str(quote_ids[i]), "start": int(where["start"]), "end": int(where["end"])})
    return out
