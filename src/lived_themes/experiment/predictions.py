"""predictions.jsonl: one line per input quote, so every quote is accounted for in the output.

Each line holds the quote's human codes per coder (null where a coder did not see it), and for
every split scheme and coder the model's codes, scores and the fold the quote was tested in.
Quotes that were not evaluated carry the reason instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lived_themes.corpus import Corpus
from lived_themes.files import write_text_atomic
from lived_themes.corpus.model import CONSENSUS_PREFIX, MODEL_PREFIX


def _human_codes(corpus: Corpus, codes_order: list[str]) -> dict[str, dict[str, list[str] | None]]:

    # every coder a person made, an adjudicated reference included (it is not an independent human, but its codes
    # are the reference's); read once: the property scans every annotation row
    humans = [c for c in corpus.coders if not str(c).startswith((MODEL_PREFIX, CONSENSUS_PREFIX))]
    table: dict[str, dict[str, list[str] | None]] = {qid: dict.fromkeys(humans) for qid in corpus.quote_ids}
    rank = {c: i for i, c in enumerate(codes_order)}
    for qid, coder, code in zip(corpus.annotations["quote_id"], corpus.annotations["coder"], corpus.annotations["code"]):
        if coder not in table[qid]:
            continue
        entry = table[qid][coder] if table[qid][coder] is not None else []
        if isinstance(code, str):
            entry.append(code)
        table[qid][coder] = sorted(set(entry), key=lambda c: rank.get(c, len(rank)))
    return table


def _set_aside_codes(corpus: Corpus) -> dict[str, dict[str, list[str]]]:
    """Human codes of quotes set aside on load (kept in ``set_aside['annotation_rows']``), per coder."""
    aside = corpus.set_aside
    if not len(aside) or "annotation_rows" not in aside.columns:
        return {}
    table: dict[str, dict[str, list[str]]] = {}
    for qid, rows in zip(aside["quote_id"], aside["annotation_rows"]):
        if not isinstance(rows, (list, tuple)) and not hasattr(rows, "__len__"):
            continue
        entry = table.setdefault(str(qid), {})
        for coder, code in rows:
            codes = entry.setdefault(str(coder), [])
            if isinstance(code, str) and code not in codes:
                codes.append(code)
    return table


def model_annotations(evaluated_ids: list[str], codes: list[str], outputs: dict[tuple[str, str], dict[str, Any]]) -> pd.DataFrame:
    """The models' out-of-fold codes as a long annotations table, the format of the human annotations.

    Columns ``quote_id, coder, code, score, fold, scheme``; the coder is ``model:<name>``. One row
    per assigned code, and one row with an empty code for a tested quote that got none (the model
    saw it and assigned nothing); quotes never in a test fold have no row.
    """
    rows: list[dict[str, Any]] = []
    for (scheme, coder), out in outputs.items():
        for i, qid in enumerate(evaluated_ids):
            if np.isnan(out["scores"][i]).any():
                continue
            chosen = [j for j, v in enumerate(out["predicted"][i]) if v == 1]
            base = {"quote_id": qid, "coder": f"model:{coder}", "fold": out["fold"][i], "scheme": scheme}
            rows += [{**base, "code": codes[j], "score": round(float(out["scores"][i][j]), 6)} for j in chosen] or [{**base, "code": None, "score": None}]
    return pd.DataFrame(rows, columns=["quote_id", "coder", "code", "score", "fold", "scheme"])


def write_predictions(path: Path, corpus: Corpus, evaluated_ids: list[str], codes: list[str],
                      outputs: dict[tuple[str, str], dict[str, Any]], not_evaluated: list[dict[str, Any]]) -> Path:
    humans = {**_set_aside_codes(corpus), **_human_codes(corpus, corpus.codes)}
    position = {qid: i for i, qid in enumerate(evaluated_ids)}
    reasons = {r["quote_id"]: r["reason"] for r in not_evaluated}
    quote_ids = corpus.quote_ids
    known = set(quote_ids)
    lines = []
    for qid in [*quote_ids, *[q for q in reasons if q not in known]]:
        record: dict[str, Any] = {"quote_id": qid, "human": humans.get(qid, {}), "evaluated": qid in position}
        if qid in position:
            i = position[qid]
            record["models"] = {}
            for (scheme, coder), out in outputs.items():
                tested = not np.isnan(out["scores"][i]).any()
                record["models"].setdefault(scheme, {})[coder] = {
                    "fold": out["fold"][i] if tested else None,
                    "codes": [c for c, v in zip(codes, out["predicted"][i]) if v == 1] if tested else None,
                    "scores": {c: round(float(s), 6) for c, s in zip(codes, out["scores"][i])} if tested else None,
                    **({"evidence": out["evidence"][i] if tested else None} if "evidence" in out else {}),
                    **({"error": out["errors"][i]} if "errors" in out and out["errors"][i] else {}),
                }
        else:
            record["reason"] = reasons.get(qid, "not evaluated")
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")

    return write_text_atomic(Path(path), "".join(lines))
